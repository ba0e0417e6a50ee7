"""The hub's core domain models.

Source records are never edited by the hub once stored: a change from the
source is a new version, a delete is a tombstone. Everything downstream
(golden records, lineage) is computed from them.
"""
from mdm.models.api import ApiClient
from mdm.models.config import EntityConfigVersion, EntityType, FieldMapping, SourceSystem
from mdm.models.events import ChangeEvent
from mdm.models.golden import (
    BlockingKey,
    GoldenRecord,
    GoldenRecordVersion,
    GoldenRelationship,
    MatchDecision,
    MatchModel,
    Override,
)
from mdm.models.jobs import RuleChangeJob, RuleChangeSlice
from mdm.models.prices import PriceKeyLock, PriceResolution
from mdm.models.publishing import Delivery, Subscription, XrefAcknowledgement
from mdm.models.records import IngestBatch, RejectedRecord, SourceRecord, SourceRecordVersion
from mdm.models.tasks import StewardTask, TaskComment

__all__ = [
    "ApiClient",
    "BlockingKey",
    "ChangeEvent",
    "Delivery",
    "EntityConfigVersion",
    "EntityType",
    "FieldMapping",
    "GoldenRecord",
    "GoldenRecordVersion",
    "GoldenRelationship",
    "IngestBatch",
    "MatchDecision",
    "MatchModel",
    "Override",
    "PriceKeyLock",
    "PriceResolution",
    "RejectedRecord",
    "RuleChangeJob",
    "RuleChangeSlice",
    "SourceRecord",
    "SourceRecordVersion",
    "SourceSystem",
    "StewardTask",
    "Subscription",
    "TaskComment",
    "XrefAcknowledgement",
]
