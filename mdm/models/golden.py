"""Golden records, the cross-reference, match decisions and history.

A golden record is an identity with a stable ID; its values are always
computed (survivorship) from its member source records plus steward
decisions and overrides, never edited in place.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from mdm.models.config import EntityType
from mdm.models.records import SourceRecord


class GoldenRecord(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired (merged into another)"
        EMPTY = "empty", "Empty (no active source records)"

    # Indexed through golden_entity_status (it leads with entity_type).
    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, related_name="golden_records",
                                    db_index=False)
    golden_id = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="absorbed")
    # Searched with "contains", which a B-tree cannot serve: see the trigram
    # index of migration 0003 (PostgreSQL).
    display_name = models.CharField(max_length=300, blank=True)
    values = models.JSONField(default=dict, blank=True)
    lineage = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=0)
    # "<digest of values>:<digest of lineage, status, members>" as of the
    # current version: recompute tells a change without reading the stored
    # JSON back (see mdm.services.golden.fingerprint).
    fingerprint = models.CharField(max_length=80, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["golden_id"]
        indexes = [
            models.Index(fields=["entity_type", "status", "golden_id"], name="golden_entity_status"),
            models.Index(fields=["entity_type", "updated_at", "id"], name="golden_entity_updated"),
        ]

    def __str__(self) -> str:
        return self.golden_id


class MatchDecision(models.Model):
    """What is known about a pair of source records: match, possible, no-match.

    ``origin`` tells automation from a steward; automation never changes a
    steward's decision. Pairs are stored with ``record_a_id < record_b_id``.
    """

    class State(models.TextChoices):
        MATCH = "match", "Match"
        POSSIBLE = "possible", "Possible match"
        NO_MATCH = "no_match", "Not a match"

    class Origin(models.TextChoices):
        AUTO = "auto", "Automatic"
        STEWARD = "steward", "Data steward"

    # Indexed through the constraint and indexes below, not one index per
    # foreign key: a batch match writes hundreds of thousands of decisions.
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+", db_index=False)
    record_a = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="+", db_index=False)
    record_b = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="+", db_index=False)
    state = models.CharField(max_length=10, choices=State.choices)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.AUTO)
    probability = models.FloatField(null=True, blank=True)
    explanation = models.JSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(auto_now=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record_a", "record_b"], name="uniq_match_decision_pair"),
            models.CheckConstraint(condition=models.Q(record_a__lt=models.F("record_b")), name="match_decision_ordered"),
        ]
        indexes = [
            models.Index(fields=["record_b"], name="match_decision_b"),
            models.Index(fields=["entity_type", "origin", "state"], name="match_decision_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.record_a_id}~{self.record_b_id}: {self.state} ({self.origin})"


class BlockingKey(models.Model):
    """Blocking keys of active source records, indexed, so one new record finds
    its candidates with an index lookup, as fast as a batch does."""

    # A derived table, rebuilt from the records by every batch match (millions
    # of rows), so kept lean: the primary key (entity type, key, record) is the
    # candidate lookup itself, read from the index alone, with no id column and
    # its index to write besides; one more index finds a record's keys; and no
    # foreign-key constraints in the database, whose per-row checks at commit
    # would cost more than the insert. Django still cascades deletes.
    pk = models.CompositePrimaryKey("entity_type", "key", "record")
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+", db_index=False,
                                    db_constraint=False)
    key = models.CharField(max_length=200)
    record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="blocking_keys", db_index=False,
                               db_constraint=False)

    class Meta:
        indexes = [models.Index(fields=["record"], name="blocking_key_record")]

    def __str__(self) -> str:
        return self.key


class MatchModel(models.Model):
    """A trained scoring model (Fellegi-Sunter weights) of an entity type, versioned."""

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="match_models", db_index=False)
    version = models.PositiveIntegerField()
    settings = models.JSONField(help_text="The matching settings the model was trained with.")
    parameters = models.JSONField(help_text="Trained m/u probabilities, prior and term frequencies.")
    training_stats = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entity_type", "-version"]
        constraints = [models.UniqueConstraint(fields=["entity_type", "version"], name="uniq_match_model_version")]

    def __str__(self) -> str:
        return f"{self.entity_type.code} model v{self.version}"


class GoldenRecordVersion(models.Model):
    """Every state a golden record had, with who/what/why, for history and as-of reads."""

    class Reason(models.TextChoices):
        INGEST = "ingest", "Ingest"
        MATCH = "match", "Matching"
        REMATCH = "rematch", "Re-match"
        RULE_CHANGE = "rule_change", "Survivorship rule change"
        MERGE = "merge", "Merge"
        SPLIT = "split", "Split"
        UNMERGE = "unmerge", "Unmerge"
        OVERRIDE = "override", "Steward override"
        NOT_A_MATCH = "not_a_match", "Not a match"
        PRICE = "price", "Price resolution"
        CONFLICT = "conflict", "Conflict resolved"

    golden = models.ForeignKey(GoldenRecord, on_delete=models.CASCADE, related_name="versions", db_index=False)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=GoldenRecord.Status.choices)
    merged_into_golden_id = models.CharField(max_length=20, blank=True)
    values = models.JSONField(default=dict)
    lineage = models.JSONField(default=dict)
    members = models.JSONField(default=list, help_text="Source record ids at this version.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    actor = models.CharField(max_length=150, blank=True, help_text="user name, or 'system'")
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["golden", "-version"]
        constraints = [models.UniqueConstraint(fields=["golden", "version"], name="uniq_golden_version")]

    def __str__(self) -> str:
        return f"{self.golden_id} v{self.version}"


class Override(models.Model):
    """A steward's value for one attribute of a golden record; sticks until cleared."""

    golden = models.ForeignKey(GoldenRecord, on_delete=models.CASCADE, related_name="overrides", db_index=False)
    attribute = models.CharField(max_length=60)
    value = models.JSONField()
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["golden", "attribute"], name="uniq_override_attribute")]

    def __str__(self) -> str:
        return f"{self.golden} {self.attribute}"


class GoldenRelationship(models.Model):
    """A relationship between golden records (parent account, bill-to, ship-to …).

    Sources state relationships between their own records (``parent_id`` of
    a CRM account names another CRM account); one row per referencing source
    record and attribute keeps that statement and what it resolves to at
    golden level today. ``parent`` is empty while the referenced record has
    not arrived; the row resolves when it does. Maintained by
    ``mdm.services.hierarchy`` whenever golden records are recomputed, so a
    merge or split moves the links with the records.
    """

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, help_text="parent, bill_to, ship_to, sold_to, payer")
    attribute = models.CharField(max_length=60)
    via_record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="relationships", db_index=False)
    child = models.ForeignKey(GoldenRecord, on_delete=models.CASCADE, related_name="parent_links", db_index=False)
    parent_source = models.ForeignKey("mdm.SourceSystem", on_delete=models.CASCADE, related_name="+")
    parent_ref = models.CharField(max_length=255, help_text="The parent's ID in the same source.")
    parent_record = models.ForeignKey(SourceRecord, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", db_index=False)
    parent = models.ForeignKey(GoldenRecord, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="child_links", db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["via_record", "attribute"], name="uniq_relationship_per_record_attr"),
        ]
        indexes = [
            models.Index(fields=["parent", "kind"], name="relationship_parent"),
            models.Index(fields=["child", "kind"], name="relationship_child"),
            models.Index(fields=["parent_source", "parent_ref"], condition=models.Q(parent_record__isnull=True),
                         name="relationship_unresolved"),
            models.Index(fields=["parent_record"], name="relationship_parent_record"),
        ]

    def __str__(self) -> str:
        return f"{self.child_id} -{self.kind}-> {self.parent_id or self.parent_ref}"
