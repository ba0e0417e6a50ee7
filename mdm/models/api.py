"""API clients: machine credentials with hashed tokens and explicit scopes."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models

from mdm.models.config import SourceSystem

TOKEN_PREFIX = "mdm"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiClient(models.Model):
    """One credential of a source or downstream system.

    Scopes (strings):
    - ``write:<source>``: write records as that source system (any entity type)
    - ``read:<entity_type>`` or ``read:*``: read golden records, xref, source records
    - ``match:<entity_type>`` or ``match:*``: search-before-create
    - ``tasks``: list and close steward tasks; with ``acts_for`` set, also
      answer them as that steward would (merge, not a match, pick a value)
    - ``steward:<entity_type>`` or ``steward:*``: with ``acts_for`` set, merge,
      unmerge, split and override golden records of that type
    - ``admin``: everything
    Only a hash of the token is stored; the token is shown once at creation.
    """

    name = models.CharField(max_length=100, unique=True)
    source_system = models.ForeignKey(
        SourceSystem, on_delete=models.CASCADE, null=True, blank=True, related_name="api_clients"
    )
    scopes = models.JSONField(default=list, blank=True)
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    # Merges and overrides are a person's judgement and name that person; an
    # automation answering tasks does so on behalf of a steward an admin chose.
    acts_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The data steward this client's steward actions (task decisions, merges, splits, "
                  "overrides) are recorded as, with the client's name in the note. Unset: the client can "
                  "only close tasks.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # Django's auth machinery and DRF expect these on request.user.
    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    @classmethod
    def issue(cls, *, name: str, scopes: list[str], source_system: SourceSystem | None = None, acts_for=None):
        """Create a client and return ``(client, token)``; the token is not stored."""
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        client = cls.objects.create(
            name=name,
            scopes=list(scopes),
            source_system=source_system,
            acts_for=acts_for,
            key_id=key_id,
            token_hash=hash_token(token),
        )
        return client, token

    def rotate(self) -> str:
        key_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        self.key_id = key_id
        self.token_hash = hash_token(token)
        self.save(update_fields=["key_id", "token_hash"])
        return token

    def check_token(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, hash_token(token))

    def has_scope(self, scope: str) -> bool:
        if not self.active:
            return False
        scopes = set(self.scopes)
        if "admin" in scopes or scope in scopes:
            return True
        kind, _, _target = scope.partition(":")
        return f"{kind}:*" in scopes

    def can_write_source(self, source_code: str) -> bool:
        return self.has_scope(f"write:{source_code}")
