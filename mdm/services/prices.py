"""Golden prices: price records resolved to golden customers and products, grouped, compared.

A price record names its customer and product by their IDs *in its own
source* (the ERP's contract price names ERP customer C-100 and ERP item
4711). The hub resolves those through the cross-reference to golden records
(following a retired golden record to its survivor) and groups the price
records into golden prices (``GoldenRecord`` rows of the price entity type,
so the API, events and history treat them like any golden record) keyed by

    golden customer (or the price list when the price has no customer),
    golden product, currency, the product's base unit of measure,
    quantity break (in base units), and the validity window,

where price records whose validity windows overlap fall into the same golden
price. Prices in different units compare in the product's base unit: the
product's ``pack_uom``/``pack_qty`` (CS = 12 EA) and the ``prices.uom_conversions``
of the config convert them.

Two problems become a ``price_conflict`` task (one open task per golden
price and problem, closed when it disappears):

* ``window_overlap``: the records of one golden price state different but
  overlapping validity windows, or one source states two prices for
  overlapping windows; which period holds is for a steward to decide.
* ``price_mismatch``: the sources named in ``prices.compare_sources``
  (default ERP and CRM) differ by more than ``prices.tolerance`` (default
  5 %) per base unit.

An unresolvable reference (no customer or product record with that ID in
that source yet) keeps the raw reference in the key and a data-quality note
in the golden price's values; the price resolves when the referenced record
arrives (``reresolve_prices_for_goldens``, called on every recompute of a
customer or product golden record).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import F

from mdm.db import marks, table, update_rows, upsert_rows
from mdm.models import (
    EntityType,
    GoldenRecord,
    GoldenRecordVersion,
    PriceKeyLock,
    PriceResolution,
    SourceRecord,
    StewardTask,
)
from mdm.services.hierarchy import resolve_source_refs

log = logging.getLogger(__name__)

DEFAULT_ATTRIBUTES = {
    "customer": "customer_id", "product": "product_id", "price_list": "price_list", "unit_price": "unit_price",
    "currency": "currency", "uom": "uom", "min_qty": "min_qty", "valid_from": "valid_from",
    "valid_to": "valid_to", "price_type": "price_type",
}
DEFAULT_PRODUCT_UNITS = {"base_uom": "base_uom", "pack_uom": "pack_uom", "pack_qty": "pack_qty"}
KEY_PARTS = {"customer", "product", "currency", "min_qty", "price_type"}
DEFAULT_KEY = ["customer", "product", "currency", "min_qty"]
SECTION_KEYS = {"tolerance", "compare_sources", "key", "attributes", "product_units", "uom_conversions"}
CHUNK = 2000


# --------------------------------------------------------------------------- #
# Configuration
# --------------------------------------------------------------------------- #

def validate_prices_section(section, attribute_names: set[str]) -> list[tuple[str, str]]:
    """Validate the ``prices:`` section of an entity type; paths are relative to it."""
    if not isinstance(section, dict):
        return [("", "a mapping with tolerance, compare_sources, key, attributes, product_units, uom_conversions")]
    errors = []
    for key in section:
        if key not in SECTION_KEYS:
            errors.append((str(key), f"unknown key (expected one of {', '.join(sorted(SECTION_KEYS))})"))
    tolerance = section.get("tolerance")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                  or not 0 <= tolerance < 1):
        errors.append(("tolerance", "a fraction between 0 and 1, e.g. 0.05 for 5 %"))
    sources = section.get("compare_sources")
    if sources is not None and (not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources)):
        errors.append(("compare_sources", "a list of source system codes, e.g. [erp, crm]"))
    key = section.get("key")
    if key is not None:
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            errors.append(("key", f"a list of key parts ({', '.join(sorted(KEY_PARTS))})"))
        else:
            for index, part in enumerate(key):
                if part not in KEY_PARTS:
                    errors.append((f"key[{index}]", f"unknown key part {part!r} (expected one of "
                                                    f"{', '.join(sorted(KEY_PARTS))})"))
            for required in ("product", "currency"):
                if required not in key:
                    errors.append(("key", f"must include {required}"))
    attributes = section.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            errors.append(("attributes", "a mapping of role (customer, product, unit_price …) to attribute name"))
        else:
            for role, name in attributes.items():
                if role not in DEFAULT_ATTRIBUTES:
                    errors.append((f"attributes.{role}", f"unknown role (expected one of "
                                                         f"{', '.join(sorted(DEFAULT_ATTRIBUTES))})"))
                elif name not in attribute_names:
                    errors.append((f"attributes.{role}", f"unknown attribute {name!r}"))
    merged = {**DEFAULT_ATTRIBUTES, **(attributes if isinstance(attributes, dict) else {})}
    for role in ("product", "unit_price", "currency", "uom"):
        if merged[role] not in attribute_names:
            errors.append((f"attributes.{role}", f"a price needs a {role} attribute ({merged[role]!r} is not one)"))
    units = section.get("product_units")
    if units is not None:
        if not isinstance(units, dict) or set(units) - set(DEFAULT_PRODUCT_UNITS) \
                or not all(isinstance(v, str) and v for v in units.values()):
            errors.append(("product_units", "a mapping of base_uom, pack_uom, pack_qty to product attribute names"))
    conversions = section.get("uom_conversions")
    if conversions is not None:
        if not isinstance(conversions, list):
            errors.append(("uom_conversions", "a list such as [{from: DZ, to: EA, factor: 12}]"))
        else:
            for index, item in enumerate(conversions):
                ok = (isinstance(item, dict) and set(item) == {"from", "to", "factor"}
                      and isinstance(item["from"], str) and isinstance(item["to"], str)
                      and not isinstance(item["factor"], bool) and isinstance(item["factor"], (int, float))
                      and item["factor"] > 0)
                if not ok:
                    errors.append((f"uom_conversions[{index}]", "needs from, to (unit codes) and a positive factor"))
    return errors


@dataclass(frozen=True)
class PriceSettings:
    attributes: dict
    product_units: dict
    key: tuple
    tolerance: Decimal
    compare_sources: tuple
    conversions: dict  # (from, to) -> Decimal
    customer_entity: str | None
    product_entity: str | None

    @classmethod
    def of(cls, entity: EntityType, config: dict | None = None) -> PriceSettings:
        config = config or entity.config
        section = config.get("prices") or {}
        attributes = {**DEFAULT_ATTRIBUTES, **(section.get("attributes") or {})}
        references = {a["name"]: a.get("references") for a in config.get("attributes", [])}
        conversions = {}
        for item in section.get("uom_conversions") or []:
            factor = Decimal(str(item["factor"]))
            conversions[(item["from"].upper(), item["to"].upper())] = factor
            conversions[(item["to"].upper(), item["from"].upper())] = 1 / factor
        return cls(
            attributes=attributes,
            product_units={**DEFAULT_PRODUCT_UNITS, **(section.get("product_units") or {})},
            key=tuple(section.get("key") or DEFAULT_KEY),
            tolerance=Decimal(str(section.get("tolerance", 0.05))),
            compare_sources=tuple(section.get("compare_sources") or ["erp", "crm"]),
            conversions=conversions,
            customer_entity=references.get(attributes["customer"]),
            product_entity=references.get(attributes["product"]),
        )


def price_entities() -> list[EntityType]:
    from mdm.entity_cache import entity_types

    return [e for e in entity_types().values() if e.config.get("prices") is not None]


def is_referenced_by_prices(entity: EntityType) -> bool:
    for price_entity in price_entities():
        settings = PriceSettings.of(price_entity)
        if entity.code in (settings.customer_entity, settings.product_entity):
            return True
    return False


def is_price_entity(entity: EntityType) -> bool:
    return entity.config.get("prices") is not None


# --------------------------------------------------------------------------- #
# Resolution and grouping
# --------------------------------------------------------------------------- #

def resolve_price_records(entity: EntityType, record_ids: Iterable[int] | None, *, actor: str = "system",
                          references_only: bool = False,
                          progress: Callable[[int, int], None] | None = None) -> list[int]:
    """Resolve price records' references, (re)group them into golden prices and recompute those.

    Call for new or changed price records (the match task does, instead of
    fuzzy matching) and when what they reference changed; ``None`` means
    every price record of the entity type (a full re-match). Idempotent.
    ``references_only``: the price records did not change, only what they
    reference may have (a customer or product golden record), so a price
    whose resolution comes out as stored is left alone: its golden price
    cannot have changed. Every match of a customer with prices is such a call.
    ``progress(done, total)`` is called after each chunk (a full load of a
    million prices takes minutes). Returns the pks of the golden prices recomputed.
    """
    if not is_price_entity(entity):
        raise ValueError(f"{entity.code} has no prices: section; its records are matched, not price-grouped")
    if record_ids is None:
        record_ids = SourceRecord.objects.filter(entity_type=entity).order_by().values_list("pk", flat=True)
    ids = sorted(set(record_ids))
    touched: list[int] = []
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic():
            touched += _resolve_chunk(entity, ids[start:start + CHUNK], actor, references_only)
        if progress:
            progress(min(start + CHUNK, len(ids)), len(ids))
    return touched


def reresolve_prices_for_goldens(golden_pks: Iterable[int], *, entity: EntityType | None = None,
                                 rule_change: bool = False, actor: str = "system",
                                 members: list[dict] | None = None) -> list[int]:
    """Re-resolve the price records that reference records of these customer/product golden records.

    Covers prices pointing at records that moved (merge, split, unmerge,
    re-match), at golden records whose unit conversions changed, and prices
    whose reference was waiting for one of these records to arrive. After a
    rule change only a product's unit conversion can matter, so only prices
    of those products are looked at. ``members``: the records of these golden
    records, deleted ones too (``mdm.services.hierarchy.member_rows``), when
    the caller has read them already.
    """
    pks = sorted(set(golden_pks))
    if not pks:
        return []
    touched = []
    for price_entity in price_entities():
        settings = PriceSettings.of(price_entity)
        codes = {"customer": settings.customer_entity, "product": settings.product_entity}
        roles = [role for role, code in codes.items() if entity is None or entity.code == code]
        if rule_change:
            roles = [r for r in roles if r == "product"]
        if not roles:
            continue
        if members is None:
            members = list(SourceRecord.objects.filter(golden_id__in=pks).order_by()
                           .values("id", "golden_id", "source_system_id", "source_id", "deleted",
                                   entity_code=F("entity_type__code")))
        record_ids = _pointing_or_waiting(price_entity, roles, codes, pks, members, entity,
                                          waiting=not rule_change)
        if record_ids:
            touched += resolve_price_records(price_entity, record_ids, actor=actor, references_only=True)
    return touched


def _pointing_or_waiting(price_entity, roles, codes, pks, members, entity, *, waiting: bool) -> set[int]:
    """Price records pointing at these golden records or their records, or (``waiting``)
    whose unresolved reference names one of their active records (the source's own ID),
    less those whose customer reference still lands where it was resolved to.

    One query of conditions each on an index of the one table: a condition
    through a join inside an OR would make PostgreSQL read every price.
    """
    pk_set = set(pks)
    member_ids = {m["id"] for m in members}
    golden_of = {m["id"]: m["golden_id"] for m in members if not m["deleted"]}
    wanted: dict[str, set[tuple[int, str]]] = {}
    conditions, params = [], []
    for role in roles:
        conditions.append(f"p.{role}_golden_id IN ({marks(pks)})")
        params += pks
        if member_ids:
            conditions.append(f"p.{role}_record_id IN ({marks(member_ids)})")
            params += sorted(member_ids)
        if waiting:
            keys = {(m["source_system_id"], m["source_id"]) for m in members if not m["deleted"]
                    and m.get("entity_code", entity.code if entity else None) == codes[role]}
            if keys:
                wanted[role] = keys
                refs = sorted({sid for _, sid in keys})
                conditions.append(f"(p.{role}_record_id IS NULL AND p.{role}_ref IN ({marks(refs)}))")
                params += refs
    columns = ", ".join(f"p.{role}_record_id, p.{role}_golden_id, p.{role}_ref" for role in roles)
    with connection.cursor() as cursor:  # raw: on the path of every customer match (see mdm.db)
        cursor.execute(
            f"""SELECT p.record_id, r.source_system_id, {columns}
                FROM {table(PriceResolution)} p JOIN {table(SourceRecord)} r ON r.id = p.record_id
                WHERE p.entity_type_id = %s AND ({" OR ".join(conditions)})""", [price_entity.pk, *params])
        rows = cursor.fetchall()
    found = set()
    for row in rows:
        record_id, source = row[0], row[1]
        for k, role in enumerate(roles):
            ref_record, ref_golden, ref = row[2 + 3 * k:5 + 3 * k]
            if not (ref_golden in pk_set or ref_record in member_ids
                    or (ref_record is None and (source, ref) in wanted.get(role, ()))):
                continue
            if role == "customer" and ref_record in golden_of and ref_golden == golden_of[ref_record]:
                # A customer reference depends only on where its record is: still
                # there, nothing to re-resolve (a product's also on its units).
                continue
            found.add(record_id)
            break
    return found


@dataclass
class _Resolved:
    record_id: int
    fields: dict
    key: str
    notes: list = field(default_factory=list)


_RESOLVED_FIELDS = ("customer_ref", "customer_record_id", "customer_golden_id", "product_ref", "product_record_id",
                    "product_golden_id", "price_list", "currency", "uom", "base_uom", "factor", "unit_price",
                    "unit_price_base", "min_qty_base", "valid_from", "valid_to")
_RESOLVED_NAMES = tuple(name.removesuffix("_id") for name in _RESOLVED_FIELDS)  # model field names


def _same_resolution(stored: dict | None, resolved: _Resolved) -> bool:
    return (stored is not None and stored["key"] == resolved.key and stored["notes"] == resolved.notes
            and all(stored[name] == value for name, value in resolved.fields.items()))


def _resolve_chunk(entity: EntityType, ids: list[int], actor: str, references_only: bool = False) -> list[int]:
    from mdm.services import golden as golden_service

    settings = PriceSettings.of(entity)
    attrs = settings.attributes
    # Resolved now from what they hold now, so no longer pending (a full
    # re-match or a customer change may get here before their match task;
    # a change committed after this sets the flag and enqueues again).
    SourceRecord.objects.filter(pk__in=ids, needs_match=True).update(needs_match=False)
    records = list(SourceRecord.objects.filter(pk__in=ids, entity_type=entity).order_by()
                   .values_list("id", "source_system_id", "attributes", "deleted", "golden_id"))
    stored = {row["record_id"]: row for row in PriceResolution.objects.filter(record_id__in=ids)
              .values("record_id", "key", "notes", *(_RESOLVED_FIELDS if references_only else ()))}
    old_keys = {rid: row["key"] for rid, row in stored.items()}
    refs = {"customer": set(), "product": set()}
    for _, source, attributes, _, _ in records:
        for role in refs:
            value = attributes.get(attrs[role])
            if value not in (None, ""):
                refs[role].add((source, str(value)))
    customers = resolve_source_refs(settings.customer_entity, refs["customer"])
    products = resolve_source_refs(settings.product_entity, refs["product"])
    product_values = dict(GoldenRecord.objects.filter(pk__in={g for _, g in products.values() if g})
                          .values_list("pk", "values"))
    golden_ids = dict(GoldenRecord.objects.filter(
        pk__in={g for _, g in [*customers.values(), *products.values()] if g}).values_list("pk", "golden_id"))
    resolved = [
        _resolve_one(rid, source, attributes, settings, customers, products, product_values, golden_ids)
        for rid, source, attributes, deleted, _ in records
    ]
    if references_only:
        resolved = [r for r in resolved if not _same_resolution(stored.get(r.record_id), r)]
        if not resolved:
            return []
        moved = {r.record_id for r in resolved}
        records = [row for row in records if row[0] in moved]
        old_keys = {rid: key for rid, key in old_keys.items() if rid in moved}
    upsert_rows(PriceResolution, ["record", "entity_type", "key", "notes", *_RESOLVED_NAMES],
                [(r.record_id, entity.pk, r.key, r.notes, *[r.fields[name] for name in _RESOLVED_FIELDS])
                 for r in resolved], unique="record")
    keys = sorted({r.key for r in resolved} | set(old_keys.values()))
    _lock_keys(entity, keys)
    touched = _regroup(entity, keys)
    touched |= {g for _, _, _, deleted, g in records if g}
    touched = sorted(touched)
    golden_service.recompute(entity, touched, reason=GoldenRecordVersion.Reason.PRICE, actor=actor)
    return touched


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _date(value) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _plain(number: Decimal | None) -> str:
    if number is None:
        return ""
    return "0" if not number else format(number.normalize(), "f")


def unit_factor(uom: str, product: dict, settings: PriceSettings) -> tuple[str, Decimal | None]:
    """(base unit, base units per ``uom``) for a product's golden values; factor None when unknown."""
    names = settings.product_units
    base = (product.get(names["base_uom"]) or "").upper()
    uom = (uom or "").upper()
    if not base:
        return uom, Decimal(1)
    if uom == base:
        return base, Decimal(1)
    pack_uom = (product.get(names["pack_uom"]) or "").upper()
    pack_qty = _decimal(product.get(names["pack_qty"]))
    if uom == pack_uom and pack_qty and pack_qty > 0:
        return base, pack_qty
    fixed = settings.conversions.get((uom, base))
    if fixed:
        return base, fixed
    if pack_uom and pack_qty and pack_qty > 0:
        # DZ of a product packed in CS of 12: via the pack unit when the config knows DZ → CS.
        via = settings.conversions.get((uom, pack_uom))
        if via:
            return base, via * pack_qty
    return base, None


def _resolve_one(record_id, source, attributes, settings, customers, products, product_values, golden_ids) -> _Resolved:
    attrs = settings.attributes
    notes = []
    customer_ref = str(attributes.get(attrs["customer"]) or "")
    product_ref = str(attributes.get(attrs["product"]) or "")
    customer_record, customer_golden = customers.get((source, customer_ref), (None, None)) if customer_ref else (None, None)
    product_record, product_golden = products.get((source, product_ref), (None, None)) if product_ref else (None, None)
    if customer_ref and customer_record is None:
        notes.append({"code": "unresolved_customer", "reference": customer_ref,
                      "message": f"customer {customer_ref!r} is not (yet) known in this source"})
    if product_ref and product_record is None:
        notes.append({"code": "unresolved_product", "reference": product_ref,
                      "message": f"product {product_ref!r} is not (yet) known in this source"})
    uom = str(attributes.get(attrs["uom"]) or "").upper()
    product = product_values.get(product_golden) or {}
    base, factor = unit_factor(uom, product, settings)
    if factor is None:
        notes.append({"code": "no_unit_conversion", "message": f"no conversion from {uom} to the product's base "
                                                                 f"unit {base}; compared in {uom} only"})
    unit_price = _decimal(attributes.get(attrs["unit_price"]))
    unit_price_base = (unit_price / factor).quantize(Decimal("0.00000001")) if unit_price is not None and factor else None
    min_qty = _decimal(attributes.get(attrs["min_qty"]))
    min_qty_base = min_qty * factor if min_qty is not None and factor else min_qty
    currency = str(attributes.get(attrs["currency"]) or "").upper()
    price_list = str(attributes.get(attrs["price_list"]) or "").upper()
    parts = []
    for part in settings.key:
        if part == "customer":
            if customer_golden:
                parts.append(f"C:{golden_ids.get(customer_golden, customer_golden)}")
            elif customer_ref:
                parts.append(f"C?:{source}:{customer_ref}")
            else:
                parts.append(f"L:{price_list}")
        elif part == "product":
            parts.append(f"P:{golden_ids.get(product_golden, product_golden)}" if product_golden
                         else f"P?:{source}:{product_ref}")
        elif part == "currency":
            parts.append(currency)
        elif part == "min_qty":
            # A break of one unit (or none) is no break: "1 CS" and "per EA" prices compare.
            parts.append("" if min_qty is None or min_qty <= 1 else f"Q:{_plain(min_qty_base)}")
        elif part == "price_type":
            parts.append(str(attributes.get(attrs["price_type"]) or "").upper())
    parts.append(f"U:{base if factor is not None else uom}")
    key = "|".join(parts)
    if len(key) > 400:
        key = key[:360] + "#" + hashlib.sha256(key.encode()).hexdigest()[:32]
    fields = {
        "customer_ref": customer_ref[:255], "customer_record_id": customer_record, "customer_golden_id": customer_golden,
        "product_ref": product_ref[:255], "product_record_id": product_record, "product_golden_id": product_golden,
        "price_list": price_list[:100], "currency": currency[:3], "uom": uom[:32],
        "base_uom": (base if factor is not None else uom)[:32], "factor": factor, "unit_price": unit_price,
        "unit_price_base": unit_price_base if factor is not None else unit_price,
        "min_qty_base": min_qty_base,
        "valid_from": _date(attributes.get(attrs["valid_from"])), "valid_to": _date(attributes.get(attrs["valid_to"])),
    }
    return _Resolved(record_id, fields, key, notes)


def _lock_keys(entity: EntityType, keys: Sequence[str]) -> None:
    """Serialise regrouping of the same keys across workers: lock each key's ``PriceKeyLock`` row.

    One upsert in key order: a key seen before has its row locked, a new one
    gets a row that a concurrent insert of the same key waits on, and taking
    them in one order means no deadlock. Row locks, not advisory locks: see
    ``PriceKeyLock`` (the lock table ran out at thousands of keys a chunk).
    """
    if connection.vendor != "postgresql" or not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table(PriceKeyLock)} (entity_type_id, key)
                SELECT %s, k FROM unnest(%s::text[]) AS k ORDER BY k COLLATE "C"
                ON CONFLICT (entity_type_id, key) DO UPDATE SET key = EXCLUDED.key""",
            [entity.pk, sorted(set(keys))])


def _overlap(a_from, a_to, b_from, b_to) -> bool:
    return (a_from or date.min) <= (b_to or date.max) and (b_from or date.min) <= (a_to or date.max)


def window_clusters(items: list[tuple[int, date | None, date | None]]) -> list[list[int]]:
    """Group (id, from, to) items whose windows overlap, transitively; open ends are unbounded."""
    ordered = sorted(items, key=lambda i: (i[1] or date.min, i[2] or date.max, i[0]))
    clusters: list[list[int]] = []
    current_end = None
    for item_id, start, end in ordered:
        start_key, end_key = start or date.min, end or date.max
        if clusters and start_key <= current_end:
            clusters[-1].append(item_id)
            current_end = max(current_end, end_key)
        else:
            clusters.append([item_id])
            current_end = end_key
    return clusters


def _regroup(entity: EntityType, keys: Sequence[str]) -> set[int]:
    """Put each live price record of these keys into its golden price; returns the golden pks affected."""
    from mdm.services import golden as golden_service

    rows = list(PriceResolution.objects.filter(entity_type=entity, key__in=list(keys), record__deleted=False)
                .values_list("record_id", "key", "valid_from", "valid_to", "record__golden_id"))
    by_key: dict[str, list] = defaultdict(list)
    current = {}
    for rid, key, start, end, golden_pk in rows:
        by_key[key].append((rid, start, end))
        current[rid] = golden_pk
    usable = set(GoldenRecord.objects.filter(pk__in={g for g in current.values() if g}, entity_type=entity)
                 .exclude(status=GoldenRecord.Status.RETIRED).values_list("pk", flat=True))
    clusters = [c for key in sorted(by_key) for c in window_clusters(by_key[key])]
    # Stable IDs: each cluster keeps the golden price most of its records
    # already had; bigger clusters choose first; the rest get new ones.
    assignment: dict[int, int | None] = {}
    taken: set[int] = set()
    for index in sorted(range(len(clusters)), key=lambda i: (-len(clusters[i]), min(clusters[i]))):
        votes = Counter(current[r] for r in clusters[index] if current[r] in usable)
        choice = next((g for g, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])) if g not in taken), None)
        assignment[index] = choice
        if choice:
            taken.add(choice)
    missing = [i for i, g in assignment.items() if g is None]
    for index, golden in zip(missing, golden_service.create_goldens(entity, len(missing))):
        assignment[index] = golden.pk
    affected: set[int] = set()
    moves: dict[int, list[int]] = defaultdict(list)
    for index, cluster in enumerate(clusters):
        target = assignment[index]
        for rid in cluster:
            if current[rid] != target:
                moves[target].append(rid)
                affected.add(target)
                if current[rid]:
                    affected.add(current[rid])
    update_rows(SourceRecord, ["golden"], [(rid, target) for target, rids in moves.items() for rid in rids])
    return affected


# --------------------------------------------------------------------------- #
# Golden price values and conflicts (called from golden.compute)
# --------------------------------------------------------------------------- #

@dataclass(slots=True)
class PriceConflict:
    """A price problem on one golden price; recompute opens/closes its task like an attribute conflict."""

    attribute: str
    values: list[dict]
    key: str
    problem: str
    title_text: str
    task_details: dict
    task_kind: str = StewardTask.Kind.PRICE_CONFLICT

    def title(self, golden_id: str) -> str:
        return f"{golden_id}: {self.title_text}"

    @property
    def details(self) -> dict:
        return self.task_details


def enrich_price_results(entity: EntityType, config: dict, computed: dict) -> None:
    """Add resolved references, the base-unit price and data-quality notes to golden prices; find conflicts."""
    settings = PriceSettings.of(entity, config)
    member_ids = [rid for _, members in computed.values() for rid in members]
    if not member_ids:
        return
    rows = {
        r["record_id"]: r for r in PriceResolution.objects.filter(record_id__in=member_ids).values(
            "record_id", "customer_golden__golden_id", "product_golden__golden_id", "customer_ref", "product_ref",
            "price_list", "uom", "base_uom", "factor", "unit_price", "unit_price_base", "valid_from", "valid_to",
            "notes", "record__source_system__code", "record__source_id",
        )
    }
    attrs = settings.attributes
    for result, members in computed.values():
        resolved = [rows[rid] for rid in members if rid in rows]
        if not resolved:
            continue
        values, lineage = result.values, result.lineage
        first = resolved[0]
        derived = {}
        if first["customer_golden__golden_id"]:
            derived["customer"] = (first["customer_golden__golden_id"], "cross_reference")
        if first["product_golden__golden_id"]:
            derived["product"] = (first["product_golden__golden_id"], "cross_reference")
        golden_uom = str(values.get(attrs["uom"]) or "").upper()
        base = first["base_uom"]
        factor = next((r["factor"] for r in resolved if r["uom"] == golden_uom and r["factor"] is not None), None)
        if factor is None and golden_uom == base:
            factor = Decimal(1)
        price = _decimal(values.get(attrs["unit_price"]))
        if base:
            derived["base_uom"] = (base, "uom_conversion")
        if price is not None and factor:
            derived["unit_price_base"] = (_plain((price / factor).quantize(Decimal("0.00000001"))), "uom_conversion")
        for name, (value, rule) in derived.items():
            values[name] = value
            lineage[name] = {"value": value, "record_id": None, "source": None, "source_id": None, "rule": rule,
                             "valid": True, "competing": [], "override": None}
        notes = []
        for r in resolved:
            for note in r["notes"] or []:
                notes.append({**note, "source": r["record__source_system__code"], "source_id": r["record__source_id"]})
        if notes:
            values["data_quality"] = notes
        overridden = {name for name, entry in lineage.items() if entry.get("override")}
        result.conflicts.extend(_price_conflicts(resolved, settings, overridden))


def _price_conflicts(resolved: list[dict], settings: PriceSettings, overridden: set[str]) -> list[PriceConflict]:
    attrs = settings.attributes
    conflicts = []
    described = [{
        "record_id": r["record_id"], "source": r["record__source_system__code"], "source_id": r["record__source_id"],
        "value": _plain(r["unit_price"]), "uom": r["uom"], "unit_price_base": _plain(r["unit_price_base"]),
        "base_uom": r["base_uom"], "valid_from": r["valid_from"].isoformat() if r["valid_from"] else None,
        "valid_to": r["valid_to"].isoformat() if r["valid_to"] else None,
    } for r in resolved]
    windows = {(d["valid_from"], d["valid_to"]) for d in described}
    per_source = Counter(d["source"] for d in described)
    if (len(windows) > 1 or any(n > 1 for n in per_source.values())) and not (
            {attrs["valid_from"], attrs["valid_to"]} & overridden):
        fingerprint = json.dumps(sorted([d["source"], d["valid_from"] or "", d["valid_to"] or ""] for d in described))
        conflicts.append(PriceConflict(
            attribute=attrs["valid_from"], values=described, problem="window_overlap",
            key="window_overlap:" + hashlib.sha256(fingerprint.encode()).hexdigest(),
            title_text="overlapping validity windows",
            task_details={"problem": "window_overlap", "attributes": [attrs["valid_from"], attrs["valid_to"]],
                          "prices": described},
        ))
    compared = [d for d, r in zip(described, resolved)
                if d["source"] in settings.compare_sources and r["unit_price_base"] is not None]
    sources = {d["source"] for d in compared}
    if len(sources) >= 2 and attrs["unit_price"] not in overridden:
        amounts = [Decimal(d["unit_price_base"]) for d in compared]
        high, low = max(amounts), min(amounts)
        if high - low > settings.tolerance * max(abs(high), abs(low)):
            fingerprint = json.dumps(sorted([d["source"], d["unit_price_base"]] for d in compared))
            spread = float((high - low) / high) if high else 0.0
            base = compared[0]["base_uom"]
            conflicts.append(PriceConflict(
                attribute=attrs["unit_price"], values=compared, problem="price_mismatch",
                key="price_mismatch:" + hashlib.sha256(fingerprint.encode()).hexdigest(),
                title_text=(f"{' vs '.join(c.upper() for c in settings.compare_sources if c in sources)} "
                            f"prices differ by "
                            f"{spread:.1%} per {base}"),
                task_details={"problem": "price_mismatch", "attributes": [attrs["unit_price"], attrs["uom"]],
                              "prices": compared, "tolerance": float(settings.tolerance), "spread": round(spread, 6),
                              "base_uom": base},
            ))
    return conflicts
