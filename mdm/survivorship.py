"""Survivorship rules: which source value becomes the golden value, per attribute.

A rule chain is an ordered list; each rule narrows the candidate values and
the next one breaks the remaining ties, e.g. ``[valid_only, source_priority
(erp, crm), most_recent]``.

The engine (:func:`compile_rules`, :func:`compute_golden`) is pure Python:
golden values are always recomputed from the member source records plus
steward overrides, never patched, so unmerge and rule changes are correct by
construction.

How a chain runs, per attribute:

* Candidates are every member with a value, plus every member whose value
  the standardizer rejected (``valid=False``, the raw value from its issue).
* Each rule keeps a subset; a rule that would keep nothing keeps everything
  (``source_priority`` with none of its sources present falls through, and
  ``valid_only`` with only invalid values keeps them, flagged ``valid: false``
  in the lineage).
* If distinct values remain after the chain, a deterministic tie-break picks
  the most recent, then the lowest record id (rule ``tie_break``).
* ``aggregate`` stops the chain: the golden value is the list of distinct
  values with their sources.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

RULES: dict[str, set[str]] = {
    # rule name -> allowed parameters
    "source_priority": {"sources"},
    "most_recent": set(),
    "most_frequent": set(),
    "most_complete": set(),
    "longest": set(),
    "minimum": set(),
    "maximum": set(),
    "valid_only": set(),
    "aggregate": {"limit"},
}
SECTION_KEYS = {"default", "attributes", "critical", "price_tolerance"}


def validate_rule_chain(chain: Any, path: str) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not isinstance(chain, list) or not chain:
        return [(path, "a rule chain is a non-empty list such as [{rule: source_priority, sources: [erp]}]")]
    for index, step in enumerate(chain):
        here = f"{path}[{index}]"
        if isinstance(step, str):
            step = {"rule": step}
        if not isinstance(step, dict) or "rule" not in step:
            errors.append((here, "each step is a mapping with a 'rule' key"))
            continue
        rule = step["rule"]
        if rule not in RULES:
            errors.append((f"{here}.rule", f"unknown rule {rule!r} (expected one of {', '.join(sorted(RULES))})"))
            continue
        for key in step:
            if key != "rule" and key not in RULES[rule]:
                errors.append((f"{here}.{key}", f"rule {rule} takes no parameter {key!r}"))
        if rule == "source_priority":
            sources = step.get("sources")
            if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
                errors.append((f"{here}.sources", "source_priority needs a list of source system codes"))
        if rule == "aggregate" and "limit" in step and (not isinstance(step["limit"], int) or step["limit"] < 1):
            errors.append((f"{here}.limit", "must be a positive integer"))
    return errors


def validate_survivorship_config(section: Any, attribute_names: set[str]) -> list[tuple[str, str]]:
    """Paths are relative to the ``survivorship`` section."""
    if not isinstance(section, dict):
        return [("", "must be a mapping with default, attributes and critical")]
    errors: list[tuple[str, str]] = []
    for key in section:
        if key not in SECTION_KEYS:
            errors.append((str(key), f"unknown key (expected one of {', '.join(sorted(SECTION_KEYS))})"))
    if "default" in section:
        errors += validate_rule_chain(section["default"], "default")
    attributes = section.get("attributes") or {}
    if not isinstance(attributes, dict):
        errors.append(("attributes", "a mapping of attribute name to rule chain"))
        attributes = {}
    for name, chain in attributes.items():
        if name not in attribute_names:
            errors.append((f"attributes.{name}", f"unknown attribute {name!r}"))
        errors += validate_rule_chain(chain, f"attributes.{name}")
    critical = section.get("critical") or []
    if not isinstance(critical, list):
        errors.append(("critical", "a list of attribute names"))
        critical = []
    for index, name in enumerate(critical):
        if name not in attribute_names:
            errors.append((f"critical[{index}]", f"unknown attribute {name!r}"))
    tolerance = section.get("price_tolerance")
    if tolerance is not None and (not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1):
        errors.append(("price_tolerance", "a fraction between 0 and 1, e.g. 0.05 for 5 %"))
    return errors


# --------------------------------------------------------------------------- #
# The engine: golden values from member source records plus overrides.
# Pure Python on purpose: rule previews, tests and the 100k-record recompute
# after a rule change all run it without a database.
# --------------------------------------------------------------------------- #

NUMERIC_TYPES = frozenset({"money", "decimal", "integer"})
COMPACT_TYPES = frozenset({"code", "mpn"})
_NOT_ALNUM = re.compile(r"[\W_]+")
DEFAULT_CHAIN: tuple[dict, ...] = ({"rule": "most_recent"},)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One member source record, as survivorship sees it.

    ``attributes`` are standardized values (``attr__part`` match keys are
    ignored because only declared attribute names are looked up); ``issues``
    are the standardizer's rejections, whose raw ``value`` competes as an
    invalid candidate (only when the record has no valid value for that
    attribute). Timestamps must all be timezone-aware, as Django's are with
    ``USE_TZ``: aware and naive datetimes cannot be compared.
    """

    record_id: int
    source: str
    source_id: str
    attributes: Mapping[str, Any]
    issues: Sequence[Mapping]
    updated_at: datetime | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Override:
    """A steward's value for one attribute; it wins until the steward clears it."""

    value: Any
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AttributeRule:
    """The compiled rule chain of one attribute (build it with :func:`compile_rules`).

    >>> rule = AttributeRule("email", "email", ({"rule": "most_recent"},), False)
    >>> rule.chain
    ({'rule': 'most_recent'},)
    """

    attribute: str
    attr_type: str
    chain: tuple[dict, ...]
    critical: bool = False
    # Compiled once here so compute_golden does no dict lookups or parsing
    # per record: (rule name, parameter) pairs, the trusted sources of a
    # critical attribute, and flags.
    _steps: tuple = field(init=False, repr=False, compare=False)
    _trusted: frozenset | None = field(init=False, repr=False, compare=False)
    _mode: str = field(init=False, repr=False, compare=False)  # how values compare: number | compact | text
    _aggregates: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chain = tuple({"rule": s} if isinstance(s, str) else dict(s) for s in self.chain)
        errors = validate_rule_chain(list(chain), self.attribute)
        if errors:
            raise ValueError("; ".join(f"{path}: {message}" for path, message in errors))
        steps = []
        trusted = None
        for step in chain:
            name = step["rule"]
            if name == "source_priority":
                param: Any = {source: rank for rank, source in reversed(list(enumerate(step["sources"])))}
                if trusted is None:
                    trusted = frozenset(step["sources"])
            elif name == "aggregate":
                param = step.get("limit")
            else:
                param = None
            steps.append((name, param))
            if name == "aggregate":
                break  # aggregate stops the chain; later steps can never run
        set_ = object.__setattr__
        set_(self, "chain", chain)
        set_(self, "_steps", tuple(steps))
        set_(self, "_trusted", trusted)
        set_(self, "_mode", "number" if self.attr_type in NUMERIC_TYPES
             else "compact" if self.attr_type in COMPACT_TYPES else "text")
        set_(self, "_aggregates", steps[-1][0] == "aggregate")


@dataclass(slots=True)
class Survived:
    """How one attribute's golden value was decided (stored as lineage).

    ``rule`` is the rule that decided; ``competing`` lists every other
    candidate with the rule that eliminated it, closest runner-up first;
    ``valid`` is False when the value is a raw value the standardizer
    rejected (only possible when no valid candidate was left to choose).
    """

    value: Any
    record_id: int | None
    source: str | None
    source_id: str | None
    rule: str
    competing: list[dict]
    override: dict | None = None
    valid: bool = True

    def as_dict(self) -> dict:
        """JSON-serialisable form (datetimes as ISO strings), as stored in ``lineage``."""
        override = self.override
        if override is not None:
            at = override["at"]
            override = {
                "value": _jsonable(override["value"]),
                "reason": override["reason"],
                "by": override["by"],
                "at": at.isoformat() if isinstance(at, (datetime, date)) else at,
                "computed": _jsonable(override["computed"]),
                "computed_by": override["computed_by"],
            }
        return {
            "value": _jsonable(self.value),
            "record_id": self.record_id,
            "source": self.source,
            "source_id": self.source_id,
            "rule": self.rule,
            "valid": self.valid,
            "competing": list(self.competing),
            "override": override,
        }


@dataclass(slots=True)
class Conflict:
    """Trusted sources disagree on a critical attribute; a steward should decide.

    ``key`` depends only on the attribute and the distinct values, so the
    same disagreement yields the same key on every recompute and the hub
    opens one task for it, not one per recompute.
    """

    attribute: str
    values: list[dict]
    key: str


@dataclass(slots=True)
class GoldenResult:
    values: dict[str, Any]
    lineage: dict[str, dict]
    conflicts: list[Conflict]


def compile_rules(config: Mapping) -> dict[str, AttributeRule]:
    """Compile an entity type's config into one rule chain per declared attribute.

    An attribute's own chain wins, else ``survivorship.default``, else
    ``[most_recent]``. Raises ``ValueError`` on an invalid survivorship section.

    >>> rules = compile_rules({
    ...     "attributes": [{"name": "name", "type": "text"}, {"name": "phone", "type": "phone"}],
    ...     "survivorship": {"default": [{"rule": "source_priority", "sources": ["erp"]}],
    ...                      "attributes": {"phone": [{"rule": "aggregate"}]}, "critical": ["name"]},
    ... })
    >>> rules["name"].chain, rules["name"].critical, rules["phone"].chain
    (({'rule': 'source_priority', 'sources': ['erp']},), True, ({'rule': 'aggregate'},))
    """
    attributes = [a for a in (config.get("attributes") or []) if isinstance(a, Mapping)]
    names = {a.get("name") for a in attributes}
    section = config.get("survivorship") or {}
    errors = validate_survivorship_config(section, names)
    if errors:
        raise ValueError("invalid survivorship config: "
                         + "; ".join(f"{path or '(section)'}: {message}" for path, message in errors))
    default = section.get("default") or list(DEFAULT_CHAIN)
    own = section.get("attributes") or {}
    critical = set(section.get("critical") or ())
    return {
        a["name"]: AttributeRule(a["name"], a.get("type", ""), tuple(own.get(a["name"]) or default),
                                 a["name"] in critical)
        for a in attributes
    }


def compute_golden(rules: Mapping[str, AttributeRule], contributions: Sequence[Contribution],
                   overrides: Mapping[str, Override] | None = None, *,
                   price_tolerance: float = 0.0) -> GoldenResult:
    """Compute a golden record's values, lineage and conflicts from its members.

    The result depends only on the inputs, never on the order of
    ``contributions``. Overrides for attributes without a rule are ignored
    (the attribute is no longer declared). ``price_tolerance`` is the
    entity type's ``survivorship.price_tolerance``: money values of a critical
    attribute within that relative distance do not conflict.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2024, 1, 1, tzinfo=UTC)
    >>> rules = compile_rules({"attributes": [{"name": "city", "type": "city"}],
    ...                        "survivorship": {"default": [{"rule": "source_priority", "sources": ["erp", "crm"]}]}})
    >>> members = [Contribution(1, "crm", "C1", {"city": "Boston"}, (), t, t),
    ...            Contribution(2, "erp", "E1", {"city": "Cambridge"}, (), t, t)]
    >>> result = compute_golden(rules, members)
    >>> result.values, result.lineage["city"]["rule"], result.lineage["city"]["competing"][0]["value"]
    ({'city': 'Cambridge'}, 'source_priority', 'Boston')
    """
    if len(contributions) > 1:
        contributions = sorted(contributions, key=_contribution_order)
    # Issues are few and usually absent; index them once per record instead
    # of scanning them for every attribute.
    members = [(c, c.attributes, _issue_values(c.issues) if c.issues else None) for c in contributions]
    tolerance = Decimal(str(price_tolerance)) if price_tolerance else None
    values: dict[str, Any] = {}
    lineage: dict[str, dict] = {}
    conflicts: list[Conflict] = []
    for name, rule in rules.items():
        candidates = []
        for c, attributes, issue_values in members:
            value = attributes.get(name)
            if value is not None and not (type(value) in _EMPTYABLE and not value):
                candidates.append(_Candidate(value, True, c))
            elif issue_values is not None and name in issue_values:
                candidates.append(_Candidate(issue_values[name], False, c))
        override = overrides.get(name) if overrides else None
        if override is None:
            if not candidates:
                continue
            survived = _survive(rule, candidates)
            if rule.critical:
                conflict = _conflict(rule, candidates, tolerance)
                if conflict is not None:
                    conflicts.append(conflict)
        else:
            # A steward's decision resolves any conflict, so none is reported.
            survived = _overridden(override, _survive(rule, candidates) if candidates else None)
        value = survived.value
        if value is not None and not (type(value) in _EMPTYABLE and not value):
            values[name] = value
        lineage[name] = survived.as_dict()
    return GoldenResult(values, lineage, conflicts)


def diff_values(before: Mapping, after: Mapping) -> dict[str, tuple[Any, Any]]:
    """Attributes whose value changed, as ``{name: (before, after)}``; absent reads as None.

    >>> diff_values({"city": "Boston", "phone": "1"}, {"city": "Cambridge", "phone": "1", "fax": "2"})
    {'city': ('Boston', 'Cambridge'), 'fax': (None, '2')}
    """
    changed = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            changed[name] = (old, new)
    return changed


# --- internals ----------------------------------------------------------------

_EMPTYABLE = (str, list, dict, tuple)


class _Candidate:
    """One contribution's value for one attribute (valid, or the raw rejected value)."""

    __slots__ = ("c", "norm", "valid", "value")

    def __init__(self, value: Any, valid: bool, c: Contribution) -> None:
        self.value = value
        self.valid = valid
        self.c = c
        self.norm: str | None = None


def _contribution_order(c: Contribution) -> tuple:
    return (c.record_id, c.source, c.source_id)


def _issue_values(issues: Sequence[Mapping]) -> dict[str, Any]:
    # The first rejected value per attribute; an issue without a value (e.g.
    # "required") has nothing to compete with.
    found: dict[str, Any] = {}
    for issue in issues:
        attribute = issue.get("attribute")
        value = issue.get("value")
        if attribute and attribute not in found and value is not None and value != "":
            found[attribute] = value
    return found


def _norm(candidate: _Candidate, mode: str) -> str:
    """The value as compared for equality: numbers numerically, codes by their letters
    and digits ("NET 30" is "NET30", "2/10 NET 30" is "2%10NET30"), other strings
    case-insensitively."""
    norm = candidate.norm
    if norm is None:
        norm = candidate.norm = _normalize(candidate.value, mode)
    return norm


def _normalize(value: Any, mode: str) -> str:
    kind = type(value)
    if kind is str:
        if mode == "number":
            number = _decimal(value)
            if number is not None:
                return _plain(number)
        elif mode == "compact":
            return _NOT_ALNUM.sub("", value.casefold())
        return value.strip().casefold()
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float or kind is Decimal:
        number = _decimal(value)
        return _plain(number) if number is not None else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(_jsonable(value), sort_keys=True, ensure_ascii=False)
    return str(value)


def _decimal(value: Any) -> Decimal | None:
    """A finite Decimal, or None when the value is not a number."""
    kind = type(value)
    if kind is bool:
        return None
    try:
        if kind is str:
            number = Decimal(value.strip())
        elif kind is int or kind is Decimal:
            number = Decimal(value)
        elif kind is float:
            number = Decimal(repr(value))
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _plain(number: Decimal) -> str:
    # 100, 100.0 and 1E+2 are one value; -0 is 0.
    return "0" if not number else format(number.normalize(), "f")


def _jsonable(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool or kind is float:
        return value
    if isinstance(value, Decimal):
        return _plain(value) if value.is_finite() else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _recency(candidates: Sequence[_Candidate]) -> list:
    """Recency keys of a candidate set.

    The sources' own ``updated_at`` is compared when every candidate has it;
    if any lacks it, the whole set is compared on ``received_at`` instead.
    Mixing the two per candidate would pit one system's clock against the
    hub's arrival time, so a record that merely arrived late (a re-sent
    file) would beat one that was edited later.
    """
    updated = [candidate.c.updated_at for candidate in candidates]
    if None in updated:
        return [candidate.c.received_at for candidate in candidates]
    return updated


def _most_recent_index(candidates: Sequence[_Candidate]) -> int:
    # First maximum wins; candidates are in record_id order, so equal
    # recency falls to the lowest record_id.
    keys = _recency(candidates)
    best = 0
    for index in range(1, len(keys)):
        if keys[index] > keys[best]:
            best = index
    return best


# Each narrowing rule returns the candidates it keeps; the caller ignores a
# result that keeps all or none.

def _valid_only(candidates, param, rule):
    return [c for c in candidates if c.valid]


def _source_priority(candidates, ranks, rule):
    best = None
    for c in candidates:
        rank = ranks.get(c.c.source)
        if rank is not None and (best is None or rank < best):
            best = rank
    if best is None:
        return candidates  # no listed source has a value: fall through
    return [c for c in candidates if ranks.get(c.c.source) == best]


def _most_recent(candidates, param, rule):
    keys = _recency(candidates)
    latest = max(keys)
    return [c for c, key in zip(candidates, keys) if key == latest]


def _most_frequent(candidates, param, rule):
    mode = rule._mode
    norms = [_norm(c, mode) for c in candidates]
    counts: dict[str, int] = {}
    for norm in norms:
        counts[norm] = counts.get(norm, 0) + 1
    top = max(counts.values())
    return [c for c, norm in zip(candidates, norms) if counts[norm] == top]


def _completeness(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(1 for v in value.values() if v is not None and not (type(v) in _EMPTYABLE and not v))
    if isinstance(value, (list, tuple)):
        return sum(1 for v in value if v is not None and not (type(v) in _EMPTYABLE and not v))
    return len(value.strip() if type(value) is str else str(value))


def _most_complete(candidates, param, rule):
    sizes = [_completeness(c.value) for c in candidates]
    top = max(sizes)
    return [c for c, size in zip(candidates, sizes) if size == top]


def _order_keys(candidates: Sequence[_Candidate]) -> list:
    # Numeric only when every value is a number: comparing some values as
    # numbers and others as text has no consistent order.
    numbers = [_decimal(c.value) for c in candidates]
    if None not in numbers:
        return numbers
    keys = []
    for c in candidates:
        value = c.value
        if type(value) is str:
            keys.append(value)
        elif isinstance(value, (datetime, date)):
            keys.append(value.isoformat())
        else:
            keys.append(_normalize(value, False))
    return keys


def _minimum(candidates, param, rule):
    keys = _order_keys(candidates)
    low = min(keys)
    return [c for c, key in zip(candidates, keys) if key == low]


def _maximum(candidates, param, rule):
    keys = _order_keys(candidates)
    high = max(keys)
    return [c for c, key in zip(candidates, keys) if key == high]


_NARROW = {
    "valid_only": _valid_only,
    "source_priority": _source_priority,
    "most_recent": _most_recent,
    "most_frequent": _most_frequent,
    "most_complete": _most_complete,
    "longest": _most_complete,
    "minimum": _minimum,
    "maximum": _maximum,
}
assert set(_NARROW) | {"aggregate"} == set(RULES), "every rule in RULES needs an implementation"


def _competitor(c: _Candidate, eliminated_by: str) -> dict:
    contribution = c.c
    return {"value": _jsonable(c.value), "source": contribution.source, "source_id": contribution.source_id,
            "record_id": contribution.record_id, "valid": c.valid, "eliminated_by": eliminated_by}


def _survive(rule: AttributeRule, candidates: list[_Candidate]) -> Survived:
    if len(candidates) == 1 and not rule._aggregates:
        c = candidates[0]
        contribution = c.c
        return Survived(c.value, contribution.record_id, contribution.source, contribution.source_id,
                        "only_value", [], None, c.valid)
    current = candidates
    stages: list[tuple[str, list[_Candidate]]] = []  # (rule, candidates it eliminated), in order
    decider = None
    for name, param in rule._steps:
        if name == "aggregate":
            return _aggregate(rule, current, param, stages)
        if len(current) == 1:
            if rule._aggregates:
                continue
            break
        kept = _NARROW[name](current, param, rule)
        if 0 < len(kept) < len(current):
            kept_ids = {id(c) for c in kept}
            stages.append((name, [c for c in current if id(c) not in kept_ids]))
            current = kept
            decider = name
    if len(current) == 1:
        winner = current[0]
    else:
        winner = current[_most_recent_index(current)]
        mode = rule._mode
        first = _norm(current[0], mode)
        if any(_norm(c, mode) != first for c in current):
            decider = "tie_break"
        stages.append(("tie_break", [c for c in current if c is not winner]))
    competing = [_competitor(c, name) for name, losers in reversed(stages) for c in losers]
    contribution = winner.c
    return Survived(winner.value, contribution.record_id, contribution.source, contribution.source_id,
                    decider or "only_value", competing, None, winner.valid)


def _aggregate(rule: AttributeRule, candidates: list[_Candidate], limit: int | None,
               stages: list[tuple[str, list[_Candidate]]]) -> Survived:
    mode = rule._mode
    groups: dict[str, list[int]] = {}
    for index, c in enumerate(candidates):
        groups.setdefault(_norm(c, mode), []).append(index)
    recency = _recency(candidates)
    # Groups are in order of their lowest record_id; a stable sort keeps that
    # as the last tie-break after frequency and recency (reverse=True is stable too).
    ordered = sorted(groups.values(), key=lambda g: (len(g), max(recency[i] for i in g)), reverse=True)
    if limit is not None and len(ordered) > limit:
        stages.append(("aggregate", [candidates[i] for g in ordered[limit:] for i in g]))
        ordered = ordered[:limit]
    entries = []
    valid = True
    for group in ordered:
        # Spelling variants of one value: show the most recent spelling.
        representative = max(group, key=lambda i: recency[i])
        members = [candidates[i] for i in group]
        valid = valid and all(c.valid for c in members)
        entries.append({
            "value": candidates[representative].value,
            "sources": sorted({c.c.source for c in members}),
            "record_ids": sorted(c.c.record_id for c in members),
        })
    competing = [_competitor(c, name) for name, losers in reversed(stages) for c in losers]
    return Survived(entries, None, None, None, "aggregate", competing, None, valid)


def _overridden(override: Override, computed: Survived | None) -> Survived:
    competing = []
    computed_by = None
    if computed is not None:
        computed_by = {"rule": computed.rule, "record_id": computed.record_id,
                       "source": computed.source, "source_id": computed.source_id}
        if computed.record_id is not None:
            competing.append({"value": _jsonable(computed.value), "source": computed.source,
                              "source_id": computed.source_id, "record_id": computed.record_id,
                              "valid": computed.valid, "eliminated_by": "override"})
        competing.extend(computed.competing)
    return Survived(
        override.value, None, None, None, "override", competing,
        {"value": override.value, "reason": override.reason, "by": override.by, "at": override.at,
         "computed": computed.value if computed is not None else None, "computed_by": computed_by},
    )


def _conflict(rule: AttributeRule, candidates: list[_Candidate], tolerance: Decimal | None) -> Conflict | None:
    trusted = rule._trusted
    voices = [c for c in candidates if c.valid and (trusted is None or c.c.source in trusted)]
    if len(voices) < 2:
        return None
    mode = rule._mode
    distinct = sorted({_norm(c, mode) for c in voices})
    if len(distinct) < 2:
        return None
    if tolerance is not None and rule.attr_type == "money":
        numbers = [_decimal(c.value) for c in voices]
        if None not in numbers:
            high, low = max(numbers), min(numbers)
            if high - low <= tolerance * max(abs(high), abs(low)):
                return None
    fingerprint = json.dumps([rule.attribute, distinct], ensure_ascii=False, separators=(",", ":"))
    return Conflict(
        rule.attribute,
        [{"value": _jsonable(c.value), "source": c.c.source, "source_id": c.c.source_id,
          "record_id": c.c.record_id, "updated_at": c.c.updated_at.isoformat() if c.c.updated_at else None}
         for c in voices],
        hashlib.sha256(fingerprint.encode()).hexdigest(),
    )


if __name__ == "__main__":
    def _bench(n: int = 20_000) -> float:
        """Time compute_golden on customer-shaped golden records; print and return µs per record."""
        import random
        import time
        from datetime import UTC, timedelta
        from pathlib import Path

        import yaml

        config = yaml.safe_load((Path(__file__).parent / "config/entities/customer.yaml").read_text())
        rules = compile_rules(config)
        rng = random.Random(7)
        base = datetime(2024, 1, 1, tzinfo=UTC)

        def member(record_id: int, source: str, golden: int) -> Contribution:
            # Members mostly agree, as matched records do; a few values differ
            # so source_priority, most_recent and conflicts all get exercised.
            drift = rng.random() < 0.3
            attributes = {
                "name": f"Acme Supply {golden}" + (" Inc." if drift else ""),
                "name__core": f"acme supply {golden}",
                "tax_id": f"DE{100000000 + golden}",
                "duns": f"{golden:09d}",
                "address_line1": f"{golden} MAIN ST",
                "city": "Springfield", "region": "IL", "postcode": "62701", "country": "US",
                "phone": f"+1217555{golden % 10000:04d}" if not drift else "+12175550000",
                "email": f"ap{golden}@acme.example",
                "website": "https://acme.example",
                "contact_name": "Jane Roe" if drift else "Jane Doe",
                "account_type": "SOLD_TO",
                "parent_id": f"{source.upper()}-{golden // 10}",
                "credit_limit": "50000.00" if not drift else "52000.00",
                "currency": "USD",
                "payment_terms": "NET30",
                "status": "ACTIVE",
            }
            issues = []
            if rng.random() < 0.1:
                del attributes["email"]
                issues.append({"attribute": "email", "code": "invalid_email", "message": "bad", "value": "ap@"})
            when = base + timedelta(minutes=rng.randrange(100_000))
            return Contribution(record_id, source, f"{source}-{record_id}", attributes, issues,
                                when if rng.random() < 0.9 else None, when)

        goldens = []
        record_id = 0
        for golden in range(n):
            roll = rng.random()
            sources = ["erp", "crm"] if roll < 0.8 else ["erp"] if roll < 0.9 else ["erp", "crm", "ecom"]
            members = []
            for source in sources:
                record_id += 1
                members.append(member(record_id, source, golden))
            overrides = ({"payment_terms": Override("NET45", "contract", "steward", base)}
                         if rng.random() < 0.02 else None)
            goldens.append((members, overrides))

        start = time.perf_counter()
        for members, overrides in goldens:
            compute_golden(rules, members, overrides, price_tolerance=0.05)
        per_record = (time.perf_counter() - start) / n * 1e6
        average = sum(len(m) for m, _ in goldens) / n
        print(f"compute_golden: {per_record:.1f} µs per golden record "
              f"({n} records, {average:.2f} members each, {len(rules)} attributes)")
        return per_record

    import sys

    _bench(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
