"""The three roles of the web UI, as Django groups: viewers read, stewards also
work the queue, admins also edit rules and configuration."""
from __future__ import annotations

VIEWERS = "Viewers"
STEWARDS = "Stewards"
ADMINS = "Admins"
ROLE_GROUPS = (VIEWERS, STEWARDS, ADMINS)


def user_roles(user) -> set[str]:
    if user is None or not user.is_authenticated:
        return set()
    cached = getattr(user, "_mdm_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLE_GROUPS).values_list("name", flat=True))
        if user.is_superuser:
            cached |= {ADMINS}
        user._mdm_roles = cached
    return cached


def is_viewer(user) -> bool:
    return bool(user_roles(user))


def is_steward(user) -> bool:
    return bool(user_roles(user) & {STEWARDS, ADMINS})


def is_admin(user) -> bool:
    return ADMINS in user_roles(user)


def user_scopes(user) -> set[str]:
    """API scopes a signed-in user has when calling the API with a session."""
    roles = user_roles(user)
    scopes: set[str] = set()
    if roles:
        scopes |= {"read:*", "match:*"}
    if roles & {STEWARDS, ADMINS}:
        scopes |= {"tasks", "steward:*"}
    if ADMINS in roles:
        scopes.add("admin")
    return scopes


def steward_accounts():
    """Active users who may work the queue (Stewards, Admins, superusers), by username."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return (get_user_model().objects.filter(is_active=True)
            .filter(Q(groups__name__in=(STEWARDS, ADMINS)) | Q(is_superuser=True)).distinct().order_by("username"))
