"""Who may do what in the steward UI, checked on the server for every view.

Roles are the groups of :mod:`mdm.roles`: viewers read, stewards also work the
queue (merge, resolve, override, upload), admins also edit survivorship rules.
Every view is wrapped in :func:`role_required`; a test walks the URL
configuration and fails when a view lacks it, so a new page cannot forget it.
Hiding a button in a template is a courtesy, never the check.
"""
from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import render, resolve_url
from django.utils.http import urlencode

from mdm import roles

VIEWER, STEWARD, ADMIN = "viewer", "steward", "admin"
CHECKS = {VIEWER: roles.is_viewer, STEWARD: roles.is_steward, ADMIN: roles.is_admin}
NEEDED = {
    VIEWER: "any role (viewer, steward or admin)",
    STEWARD: "the steward or admin role",
    ADMIN: "the admin role",
}


def role_of(user) -> str:
    """The strongest role of ``user`` as a word for the page header ('' without a role)."""
    if roles.is_admin(user):
        return ADMIN
    if roles.is_steward(user):
        return STEWARD
    if roles.is_viewer(user):
        return VIEWER
    return ""


def role_required(role: str):
    """Let the view run only for a signed-in user holding ``role`` (or a stronger one).

    Anonymous: to the sign-in page (an htmx request gets ``HX-Redirect`` so the
    whole page navigates instead of swapping a login form into a fragment).
    Signed in without the role: 403 with a page saying which role is needed.
    """
    check = CHECKS[role]

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    back = request.htmx.current_url_abs_path or request.get_full_path()
                    response = HttpResponse(status=401)
                    response["HX-Redirect"] = (
                        f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': back})}"
                    )
                    return response
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                return render(request, "stewardship/forbidden.html",
                              {"needed": NEEDED[role], "base_template": "base.html"}, status=403)
            return view(request, *args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorator


def context(request) -> dict:
    """Template context processor: what the signed-in user may do, for showing buttons."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can_read": False, "can_steward": False, "can_admin": False, "user_role": ""}
    return {
        "can_read": roles.is_viewer(user),
        "can_steward": roles.is_steward(user),
        "can_admin": roles.is_admin(user),
        "user_role": role_of(user),
    }
