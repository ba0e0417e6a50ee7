"""Reads about golden records that the API and the steward UI share: lineage, history, hierarchy.

Selectors only read; every write goes through ``mdm.services``.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from mdm.models import GoldenRecord, GoldenRecordVersion, GoldenRelationship

TREE_KIND = "parent"
MAX_DEPTH = 25


def explain(golden: GoldenRecord) -> dict[str, dict]:
    """Why each golden value is what it is, per attribute, in the entity type's attribute order.

    ``{attribute: {"value", "source", "source_id", "record_id", "rule", "valid",
    "competing": [{"value", "source", "source_id", "record_id", "valid",
    "eliminated_by"}], "override": None | {"value", "reason", "by", "at",
    "computed", "computed_by"}}}``. ``rule`` is the rule that decided
    (``source_priority``, ``most_recent`` …, ``only_value``, ``aggregate``,
    ``override``, or ``cross_reference``/``uom_conversion`` for values a golden
    price derives). A retired golden record explains nothing of its own: ask
    its survivor (``mdm.services.golden.resolve``).
    """
    lineage = golden.lineage or {}
    order = list(golden.entity_type.attribute_names)
    names = [n for n in order if n in lineage] + sorted(n for n in lineage if n not in order)
    result = {}
    for name in names:
        entry = lineage[name]
        result[name] = {
            "value": golden.values.get(name, entry.get("value")),
            "source": entry.get("source"),
            "source_id": entry.get("source_id"),
            "record_id": entry.get("record_id"),
            "rule": entry.get("rule"),
            "valid": entry.get("valid", True),
            "competing": list(entry.get("competing") or []),
            "override": entry.get("override"),
        }
    return result


def golden_as_of(golden: GoldenRecord, when: datetime) -> GoldenRecordVersion | None:
    """The version a golden record had at ``when`` (None before it existed).

    The version holds the values, lineage, members, status and who/what/why
    of that moment.
    """
    return golden.versions.filter(created_at__lte=when).order_by("-version").first()


def history(golden: GoldenRecord):
    """Every version, newest first."""
    return golden.versions.order_by("-version")


# --- Hierarchy -------------------------------------------------------------------------

def customer_tree(golden: GoldenRecord, *, kind: str = TREE_KIND) -> dict:
    """A golden customer's place in its hierarchy, as a nested dict.

    ``{"golden_id", "name", "status", "ancestors": [root … direct parent],
    "parents": [every direct parent, with "stated_by"], "children": [nested
    descendants, each with "stated_by" and "children"], "links": {kind:
    {"to": [...], "from": [...]}}}`` where ``links`` holds the other
    relationship kinds (bill-to, ship-to …). A retired golden record answers
    with its survivor's tree. Sources may disagree on a parent: ``parents``
    lists them all and ``ancestors`` follows the one most sources state.
    """
    from mdm.services.golden import resolve

    current = resolve(golden.golden_id) or golden
    rows = GoldenRelationship.objects.filter(child=current, parent__isnull=False).exclude(parent=current)
    stated = defaultdict(list)
    for parent_pk, rel_kind, source, source_id in rows.values_list("parent_id", "kind", "via_record__source_system__code",
                                                                    "via_record__source_id"):
        stated[(rel_kind, parent_pk)].append({"source": source, "source_id": source_id})
    direct = [pk for (k, pk) in stated if k == kind]
    names = _nodes({pk for _, pk in stated} | {current.pk})
    tree = {
        **names[current.pk],
        "ancestors": _ancestors(current.pk, kind),
        "parents": [{**names[pk], "stated_by": stated[(kind, pk)]} for pk in sorted(direct, key=lambda p: names[p]["golden_id"])],
        "children": _descendants(current.pk, kind, {current.pk}, 0),
        "links": _links(current.pk, kind, stated, names),
    }
    return tree


def _nodes(pks) -> dict[int, dict]:
    return {
        pk: {"golden_id": golden_id, "name": name, "status": status}
        for pk, golden_id, name, status in GoldenRecord.objects.filter(pk__in=list(pks))
        .values_list("pk", "golden_id", "display_name", "status")
    }


def _ancestors(pk: int, kind: str) -> list[dict]:
    chain, seen = [], {pk}
    current = pk
    while len(chain) < MAX_DEPTH:
        votes = Counter(GoldenRelationship.objects.filter(child_id=current, kind=kind, parent__isnull=False)
                        .exclude(parent_id=current).values_list("parent_id", flat=True))
        if not votes:
            break
        parent = min(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if parent in seen:  # a cycle in the sources' data: stop rather than loop
            break
        seen.add(parent)
        chain.append(parent)
        current = parent
    names = _nodes(chain)
    return [names[p] for p in reversed(chain)]


def _descendants(pk: int, kind: str, seen: set[int], depth: int) -> list[dict]:
    if depth >= MAX_DEPTH:
        return []
    stated = defaultdict(list)
    for child, source, source_id in (GoldenRelationship.objects.filter(parent_id=pk, kind=kind)
                                     .exclude(child_id=pk)
                                     .values_list("child_id", "via_record__source_system__code",
                                                  "via_record__source_id")):
        stated[child].append({"source": source, "source_id": source_id})
    fresh = [c for c in stated if c not in seen]
    seen.update(fresh)
    names = _nodes(fresh)
    children = [{**names[c], "stated_by": stated[c], "children": _descendants(c, kind, seen, depth + 1)}
                for c in fresh if c in names]
    return sorted(children, key=lambda n: n["golden_id"])


def _links(pk: int, tree_kind: str, stated, names) -> dict:
    links: dict[str, dict[str, list]] = defaultdict(lambda: {"to": [], "from": []})
    for (kind, parent), by in stated.items():
        if kind != tree_kind:
            links[kind]["to"].append({**names[parent], "stated_by": by})
    incoming = defaultdict(list)
    for kind, child, source, source_id in (GoldenRelationship.objects.filter(parent_id=pk).exclude(kind=tree_kind)
                                           .exclude(child_id=pk)
                                           .values_list("kind", "child_id", "via_record__source_system__code",
                                                        "via_record__source_id")):
        incoming[(kind, child)].append({"source": source, "source_id": source_id})
    child_names = _nodes({child for _, child in incoming})
    for (kind, child), by in sorted(incoming.items(), key=lambda kv: kv[0]):
        links[kind]["from"].append({**child_names[child], "stated_by": by})
    return {kind: dict(value) for kind, value in sorted(links.items())}
