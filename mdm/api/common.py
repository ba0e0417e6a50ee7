"""Shared pieces of the read API: entity-type scopes, keyset pagination,
field selection, ETags and time parameters."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from mdm.api.auth import user_has_scope
from mdm.entity_cache import entity_types
from mdm.models import EntityType


def entity_or_404(code: str) -> EntityType:
    """Active entity type by code (from the per-process cache: every API call needs it)."""
    entity = entity_types().get(code)
    if entity is None or not entity.active:
        raise NotFound(f"unknown entity type {code!r}")
    return entity


class Conflict(APIException):
    """409: what the call acts on changed since the client read it (or was handled already)."""

    status_code = 409
    default_detail = "It changed meanwhile; read it again."
    default_code = "conflict"


def require_scope(request, scope: str, what: str) -> None:
    if not user_has_scope(request.user, scope):
        raise PermissionDenied(f"This credential lacks the scope {scope!r} needed to {what}.")


class EntityScope(BasePermission):
    """``<kind>:<entity_type>`` from the URL, e.g. ``read:customer``; unknown entity types are 404."""

    kind = "read"
    message = "This credential lacks the scope this call needs."

    @classmethod
    def of(cls, kind: str):
        return type(f"EntityScope_{kind}", (cls,), {"kind": kind})

    def has_permission(self, request, view):
        if not request.user or not getattr(request.user, "is_authenticated", False):
            return False
        view.entity = entity_or_404(view.kwargs["entity_type"])
        scope = f"{self.kind}:{view.entity.code}"
        if user_has_scope(request.user, scope):
            return True
        self.message = f"This credential lacks the scope {scope!r}."
        return False


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date-time; naive means UTC. A bad value is a 400 naming the parameter."""
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(value.strip().replace(" ", "+"))
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({name: [f"{value!r} is not an ISO 8601 date-time such as 2025-01-31T12:00:00Z"]})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- field selection ------------------------------------------------------------

def select_fields(payload: dict, fields: list[str] | None) -> dict:
    """Keep the top-level keys named, and ``values.<attribute>`` for single attributes."""
    if not fields:
        return payload
    out: dict = {}
    for field in fields:
        top, _, sub = field.partition(".")
        if sub:
            if top != "values":
                continue
            out.setdefault("values", {})
            if sub in payload.get("values", {}):
                out["values"][sub] = payload["values"][sub]
        elif top in payload:
            out[top] = payload[top]
    return out


def parse_fields(request, allowed: set[str], entity: EntityType | None = None) -> list[str] | None:
    raw = request.query_params.get("fields")
    if not raw:
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    attributes = set(entity.attribute_names) if entity is not None else set()
    bad = [f for f in fields if f not in allowed and not (f.startswith("values.") and f[7:] in attributes)]
    if bad:
        raise ValidationError({"fields": [f"unknown field(s): {', '.join(bad)}; choose from {', '.join(sorted(allowed))}"
                                         " or values.<attribute>"]})
    return fields


def parse_include(request, allowed: set[str]) -> set[str]:
    raw = request.query_params.get("include") or ""
    include = {i.strip() for i in raw.split(",") if i.strip()}
    bad = include - allowed
    if bad:
        raise ValidationError({"include": [f"unknown include(s): {', '.join(sorted(bad))}; "
                                          f"choose from {', '.join(sorted(allowed))}"]})
    return include


# --- keyset (cursor) pagination ---------------------------------------------------

def sync_horizon() -> datetime:
    """A time before which every change a list can ever show is already visible to it.

    A row's time is stamped inside the transaction that writes it, so a row
    still invisible to us (its transaction has not committed) carries a
    time at or after the start of a transaction in progress now. On
    PostgreSQL the horizon is therefore the start of the oldest transaction
    open in this database (or now), less ``MDM_SYNC_MARGIN`` seconds for
    clock differences between application servers and the database. Other
    databases get now less the margin (SQLite: one writer, short
    transactions; a best effort). Read it *before* the rows it guards.
    """
    margin = timedelta(seconds=settings.MDM_SYNC_MARGIN)
    if connection.vendor != "postgresql":
        return datetime.now(UTC) - margin
    with connection.cursor() as cursor:
        # One round trip; the activity view is snapshot once per transaction, so clear that first.
        cursor.execute(
            "SELECT pg_stat_clear_snapshot(); "
            "SELECT LEAST(clock_timestamp(), MIN(xact_start)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
            "AND backend_type = 'client backend'")
        cursor.nextset()
        return cursor.fetchone()[0] - margin


class KeysetPage:
    """Pages ordered by (updated_at, id): stable under concurrent writes, constant cost at any
    depth (a row comparison on an index), and the natural order of an incremental sync.

    The cursor is opaque to clients. ``next`` pages on from the last row;
    ``next_cursor`` (returned even on the last page) is where a sync resumes
    later, and it never passes the lowest ``sync_horizon`` seen while paging:
    a change committed late, with a time earlier than rows already served, is
    then still ahead of the client. The price is that the last seconds'
    changes may come twice (``version`` tells them apart); none is skipped.
    """

    default_limit = 100
    max_limit = 1000

    def __init__(self, request, *, time_field: str = "updated_at", table: str):
        self.request = request
        self.time_field = time_field
        self.table = table
        self.limit = self._limit()
        self.after, self.floor = self._decode(request.query_params.get("cursor"))

    def _limit(self) -> int:
        raw = self.request.query_params.get("limit")
        if raw in (None, ""):
            return self.default_limit
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({"limit": ["a whole number from 1 to 1000"]}) from None
        if not 1 <= value <= self.max_limit:
            raise ValidationError({"limit": [f"a whole number from 1 to {self.max_limit}"]})
        return value

    @staticmethod
    def _decode(cursor: str | None):
        if not cursor:
            return None, None
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
            moment = parse_datetime(data["t"])
            floor = parse_datetime(data["f"]) if data.get("f") else None
            if moment is None or (data.get("f") and floor is None):
                raise ValueError
            return (moment, int(data["i"])), floor
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
            raise ValidationError({"cursor": ["not a cursor this API returned"]}) from None

    @staticmethod
    def encode(moment: datetime, pk: int, floor: datetime | None = None) -> str:
        data = {"t": moment.isoformat(), "i": pk}
        if floor is not None:
            data["f"] = floor.isoformat()
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def paginate(self, queryset):
        horizon = sync_horizon()
        self.floor = horizon if self.floor is None else min(self.floor, horizon)
        queryset = queryset.order_by(self.time_field, "id")
        if self.after is not None:
            # A row comparison uses the (…, updated_at, id) index directly.
            queryset = queryset.extra(
                where=[f'("{self.table}"."{self.time_field}", "{self.table}"."id") > (%s, %s)'],
                params=[connection.ops.adapt_datetimefield_value(self.after[0]), self.after[1]])
        rows = list(queryset[: self.limit])
        self.rows = rows
        return rows

    def response(self, results: list) -> Response:
        """The page, with an ETag over its results: ``next_cursor`` moves with the clock while the
        newest rows settle, and a client answered 304 keeps an older cursor, which is as safe."""
        digest = hashlib.sha256(orjson.dumps(results, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:32]
        return Response(self.response_data(results), headers={"ETag": f'"{digest}"'})

    def response_data(self, results: list) -> dict:
        position = (getattr(self.rows[-1], self.time_field), self.rows[-1].pk) if self.rows else self.after
        next_url = None
        if position is not None and len(self.rows) == self.limit:
            params = self.request.query_params.copy()
            params["cursor"] = self.encode(*position, self.floor)
            next_url = self.request.build_absolute_uri(self.request.path) + "?" + params.urlencode()
        resume = min(position, (self.floor, 0)) if position is not None else (self.floor, 0)
        # The resume cursor carries no floor: the next sync starts a traversal of its own.
        return {"results": results, "next": next_url, "next_cursor": self.encode(*resume)}


def page_serializer(name: str, item):
    from drf_spectacular.utils import inline_serializer

    return inline_serializer(name, {
        "results": item(many=True) if isinstance(item, type) else item,
        "next": serializers.URLField(allow_null=True, help_text="The next page, or null on the last page."),
        "next_cursor": serializers.CharField(
            allow_null=True, help_text="Resume from here later (incremental sync), even after the last page."),
    })


def with_etag(view_class):
    """Class decorator: a strong ETag over the response body and 304 for a matching If-None-Match."""
    from django.middleware.http import ConditionalGetMiddleware
    from django.utils.decorators import decorator_from_middleware

    return method_decorator(decorator_from_middleware(ConditionalGetMiddleware), name="dispatch")(view_class)
