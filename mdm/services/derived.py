"""Derived tables that follow golden records: hierarchy links and price resolution.

``golden.recompute`` calls ``golden_records_changed`` for the golden records
it changed, in the same transaction, so no path (matching, steward action,
rule change, ingest) can leave a hierarchy link or a golden price pointing at
yesterday's golden record.
"""
from __future__ import annotations

from collections.abc import Sequence

from mdm.models import EntityType, GoldenRecordVersion

RULE_CHANGE = GoldenRecordVersion.Reason.RULE_CHANGE
PRICE = GoldenRecordVersion.Reason.PRICE


def golden_records_changed(entity: EntityType, golden_pks: Sequence[int], *, reason: str, actor: str = "system") -> None:
    if not golden_pks:
        return
    from mdm.services import hierarchy, prices

    linked = reason != RULE_CHANGE and hierarchy.has_relationships(entity)
    priced = reason != PRICE and prices.is_referenced_by_prices(entity)
    # A rule change moves no record and changes no source value, so it cannot
    # change which records reference which, nor which prices wait for them.
    # Otherwise the members are read once, for the hierarchy and the prices.
    members = hierarchy.member_rows(entity, golden_pks) if reason != RULE_CHANGE and (linked or priced) else None
    if linked:
        hierarchy.refresh_relationships(entity, golden_pks, records=members)
    if priced:
        prices.reresolve_prices_for_goldens(golden_pks, entity=entity, rule_change=reason == RULE_CHANGE,
                                            members=members)
