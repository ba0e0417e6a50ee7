"""Configuration as data: entity types, source systems and field mappings."""
from __future__ import annotations

from functools import cached_property

from django.core.validators import RegexValidator
from django.db import models

code_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,39}$",
    "Use lower-case letters, digits and underscores, starting with a letter (max 40).",
)


class EntityType(models.Model):
    """A kind of master data (customer, product, price, …) defined by a YAML config.

    ``config_yaml`` is the text an admin wrote (comments kept), ``config`` the
    validated parse of it; both change together through
    ``mdm.services.entity_config.save_entity_config``.
    """

    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=100)
    id_prefix = models.CharField(
        max_length=5,
        unique=True,
        validators=[RegexValidator(r"^[A-Z]{2,5}$", "2 to 5 upper-case letters.")],
        help_text="Prefix of golden record IDs, e.g. CUS for CUS-000123.",
    )
    config = models.JSONField(default=dict)
    config_yaml = models.TextField()
    version = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    # Last golden record number handed out; allocated in blocks under a row lock.
    golden_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @cached_property
    def attribute_specs(self):
        from mdm.services.entity_config import attribute_specs

        return attribute_specs(self.config)

    @cached_property
    def attribute_names(self) -> list[str]:
        return [spec.name for spec in self.attribute_specs]


class EntityConfigVersion(models.Model):
    """Every config an entity type ever had, so a change can be audited and reverted.

    One version per entity type is ``active`` (the one ``EntityType.config``
    holds); earlier ones are ``archived``. A survivorship rule change starts
    as a ``draft``: it can be edited and previewed, and only activating it
    switches the entity type over and recomputes the golden records
    (``mdm.services.rules``). Drafts draw their number from the same
    sequence, so "v7" names one rule set for good.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="versions", db_index=False)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    config_yaml = models.TextField()
    config = models.JSONField()
    # A draft changes only the survivorship section: its text as the admin
    # wrote it, and the active version it was written against.
    rules_yaml = models.TextField(blank=True)
    base_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=255, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["entity_type", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["entity_type", "version"], name="uniq_entity_config_version")
        ]

    def __str__(self) -> str:
        return f"{self.entity_type.code} v{self.version} ({self.status})"


class SourceSystem(models.Model):
    class Kind(models.TextChoices):
        ERP = "erp", "ERP"
        CRM = "crm", "CRM"
        ECOMMERCE = "ecommerce", "eCommerce"
        WMS = "wms", "WMS"
        OTHER = "other", "Other"

    code = models.CharField(max_length=40, unique=True, validators=[code_validator])
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    default_region = models.CharField(
        max_length=2,
        blank=True,
        default="US",
        validators=[RegexValidator(r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 code such as US.")],
        help_text="Region for phone numbers and postcodes written without a country.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class FieldMapping(models.Model):
    """Which source column or JSON key feeds which canonical attribute.

    Columns not listed stay in the raw payload only. A column named exactly
    like an attribute maps to it without being listed.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSON lines"

    source_system = models.ForeignKey(SourceSystem, on_delete=models.CASCADE, related_name="mappings", db_index=False)
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="mappings")
    id_field = models.CharField(max_length=100, default="id")
    updated_at_field = models.CharField(max_length=100, blank=True)
    deleted_field = models.CharField(max_length=100, blank=True)
    fields = models.JSONField(default=dict, blank=True, help_text="{source column: attribute}")
    file_format = models.CharField(max_length=10, choices=Format.choices, blank=True)
    encoding = models.CharField(max_length=40, blank=True, help_text="Blank: detect (UTF-8, else Windows-1252).")
    file_name = models.CharField(max_length=255, blank=True, help_text="Usual extract file name.")

    class Meta:
        ordering = ["source_system", "entity_type"]
        constraints = [
            models.UniqueConstraint(fields=["source_system", "entity_type"], name="uniq_mapping_per_source_entity")
        ]

    def __str__(self) -> str:
        return f"{self.source_system.code} → {self.entity_type.code}"
