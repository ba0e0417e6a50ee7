"""How each price record's references resolve: golden customer, golden product, base unit."""
from __future__ import annotations

from django.db import models

from mdm.models.config import EntityType
from mdm.models.records import SourceRecord


class PriceResolution(models.Model):
    """One price source record, resolved through the cross-reference.

    A price names its customer and product by their IDs in its own source;
    this row keeps those raw references, what they resolve to today (the
    referenced source record and its golden record), the price converted to
    the product's base unit, and the grouping ``key`` that decides which
    golden price the record belongs to. It is derived data: rebuilt by
    ``mdm.services.prices.resolve_price_records`` whenever the price record
    or the customer/product golden records it points at change.
    """

    record = models.OneToOneField(SourceRecord, on_delete=models.CASCADE, related_name="price_resolution")
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+")
    customer_ref = models.CharField(max_length=255, blank=True)
    customer_record = models.ForeignKey(SourceRecord, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", db_index=False)
    customer_golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", db_index=False)
    product_ref = models.CharField(max_length=255, blank=True)
    product_record = models.ForeignKey(SourceRecord, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", db_index=False)
    product_golden = models.ForeignKey("mdm.GoldenRecord", on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", db_index=False)
    price_list = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    uom = models.CharField(max_length=32, blank=True)
    base_uom = models.CharField(max_length=32, blank=True)
    factor = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True,
                                 help_text="Base units in one unit of the price's UOM (CS = 12 EA: 12).")
    unit_price = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    unit_price_base = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    min_qty_base = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    key = models.CharField(max_length=400, db_index=True)
    notes = models.JSONField(default=list, blank=True, help_text="Data-quality notes: unresolved references…")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer_golden"], name="price_res_customer_golden"),
            models.Index(fields=["product_golden"], name="price_res_product_golden"),
            models.Index(fields=["customer_record"], name="price_res_customer_record"),
            models.Index(fields=["product_record"], name="price_res_product_record"),
            # Unresolved references are looked up by the referenced source ID
            # when a customer or product record arrives later.
            models.Index(fields=["customer_ref"], condition=models.Q(customer_record__isnull=True),
                         name="price_res_customer_unresolved"),
            models.Index(fields=["product_ref"], condition=models.Q(product_record__isnull=True),
                         name="price_res_product_unresolved"),
        ]

    def __str__(self) -> str:
        return f"price {self.record_id}: {self.key}"


class PriceKeyLock(models.Model):
    """One row per price grouping key: what a transaction locks to regroup that key's golden prices.

    Row locks are kept in the rows themselves, not in PostgreSQL's shared lock
    table: a chunk that regroups thousands of keys in one transaction (a
    golden-values job re-resolving the prices of 2,000 customers) took one
    advisory lock per key, and the lock table, ``max_locks_per_transaction``
    × ``max_connections`` entries for all sessions together, ran out ("out of
    shared memory") in a first load of 100,000 companies with their prices.
    """

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=400)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entity_type", "key"], name="uniq_price_key_lock")]

    def __str__(self) -> str:
        return f"price key {self.key}"
