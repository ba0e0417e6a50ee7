"""The hub's core domain models.

Source records are never edited by the hub once stored: a change from the
source is a new version, a delete is a tombstone. Everything downstream
(golden records, lineage) is computed from them.
"""
from mdm.models.config import EntityConfigVersion, EntityType, FieldMapping, SourceSystem
from mdm.models.records import IngestBatch, RejectedRecord, SourceRecord, SourceRecordVersion
from mdm.models.api import ApiClient
from mdm.models.golden import (
    BlockingKey, GoldenRecord, GoldenRecordVersion, GoldenRelationship, MatchDecision, MatchModel, Override,
)
from mdm.models.tasks import StewardTask, TaskComment
from mdm.models.events import ChangeEvent
from mdm.models.jobs import RuleChangeJob, RuleChangeSlice
from mdm.models.prices import PriceResolution
from mdm.models.publishing import Delivery, Subscription, XrefAcknowledgement

__all__ = [
    "ApiClient",
    "BlockingKey",
    "ChangeEvent",
    "Delivery",
    "Subscription",
    "XrefAcknowledgement",
    "GoldenRecord",
    "GoldenRecordVersion",
    "GoldenRelationship",
    "MatchDecision",
    "MatchModel",
    "Override",
    "PriceResolution",
    "RuleChangeJob",
    "RuleChangeSlice",
    "StewardTask",
    "TaskComment",
    "EntityConfigVersion",
    "EntityType",
    "FieldMapping",
    "IngestBatch",
    "RejectedRecord",
    "SourceRecord",
    "SourceRecordVersion",
    "SourceSystem",
]
