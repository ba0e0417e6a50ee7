"""Token authentication for API clients, scopes, throttling and denial logging.

Tokens look like ``mdm_<key id>_<secret>``; the key id finds the client, a
constant-time comparison of SHA-256 hashes checks the secret. Signed-in web
users (stewards, admins) may also call the API with their session; their
role decides their scopes.
"""
from __future__ import annotations

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from mdm.models import ApiClient


class ApiTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in (self.keyword, b"token"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            token = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("The token is not valid text.") from exc
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "mdm":
            raise exceptions.AuthenticationFailed("Unknown or malformed API token.")
        client = ApiClient.objects.select_related("source_system").filter(key_id=parts[1]).first()
        if client is None or not client.check_token(token):
            raise exceptions.AuthenticationFailed("Unknown or malformed API token.")
        if not client.active:
            raise exceptions.AuthenticationFailed("This API client is deactivated.")
        # One write per minute at most: last_used_at is for admins, not an audit log.
        now = timezone.now()
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return client, token

    def authenticate_header(self, request):
        return 'Bearer realm="mdm"'


def user_has_scope(user, scope: str) -> bool:
    """Scopes of the principal behind a request: an API client or a signed-in user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if isinstance(user, ApiClient):
        return user.has_scope(scope)
    from mdm.roles import user_scopes

    scopes = user_scopes(user)
    kind = scope.partition(":")[0]
    return "admin" in scopes or scope in scopes or f"{kind}:*" in scopes


class HasScope(BasePermission):
    """Use as ``permission_classes = [HasScope.for_("tasks")]`` or give the view a ``required_scope(request)``."""

    scope: str | None = None
    message = "This credential lacks the scope this call needs."

    @classmethod
    def for_(cls, scope: str):
        return type(f"HasScope_{scope}", (cls,), {"scope": scope})

    def has_permission(self, request, view):
        scope = self.scope or view.required_scope(request)
        if not request.user or not getattr(request.user, "is_authenticated", False):
            return False
        if user_has_scope(request.user, scope):
            return True
        self.message = f"This credential lacks the scope {scope!r}."
        return False


class ApiClientThrottle(SimpleRateThrottle):
    """Per API client (or per signed-in user) request rate, shared across workers via the cache."""

    scope = "api_client"

    def get_cache_key(self, request, view):
        user = request.user
        if isinstance(user, ApiClient):
            ident = f"client:{user.pk}"
        elif user is not None and getattr(user, "is_authenticated", False):
            ident = f"user:{user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    # A fixed-window counter: one Redis round trip per request (INCR + EXPIRE pipelined)
    # instead of DRF's read-modify-write of a timestamp list. A client may reach twice the
    # rate across a window boundary, never more.
    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        count = self._hit(f"{self.key}:{window}")
        self.wait_seconds = max((window + 1) * self.duration - now, 1)
        return count <= self.num_requests

    def wait(self):
        return getattr(self, "wait_seconds", None)

    def _hit(self, key: str) -> int:
        backend = getattr(self.cache, "_cache", None)
        if hasattr(backend, "get_client"):  # Django's RedisCache
            full_key = self.cache.make_and_validate_key(key)
            pipe = backend.get_client(full_key, write=True).pipeline()
            pipe.incr(full_key)
            pipe.expire(full_key, int(self.duration) + 1)
            return int(pipe.execute()[0])
        self.cache.add(key, 0, self.duration + 1)
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, self.duration + 1)
            return 1
