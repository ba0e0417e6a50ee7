"""One view, two renderings (NetBox's htmx pattern).

A page template extends ``base_template``: ``base.html`` for a normal
request, ``stewardship/_partial.html`` (title, messages and content only)
when htmx asks for it, so a page can be swapped into ``#content`` without
the layout. A view may also name smaller fragments by the id of the element
htmx targets (``HX-Target``), e.g. the queue's result table while filtering.
Every response says ``Vary: HX-Request`` (and ``HX-Target``) so no cache
serves one rendering for the other.
"""
from __future__ import annotations

import json

from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

FULL = "base.html"
PARTIAL = "stewardship/_partial.html"


def wants_partial(request) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(request, template: str, context: dict | None = None, *, fragments: dict[str, str] | None = None,
                status: int = 200):
    context = dict(context or {})
    chosen = template
    if wants_partial(request):
        target = request.htmx.target
        if fragments and target in fragments:
            chosen = fragments[target]
        context["base_template"] = PARTIAL
    else:
        context["base_template"] = FULL
    response = render(request, chosen, context, status=status)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def go(request, url: str):
    """After an action: redirect (plain POST) or let htmx load ``url`` into ``#content``.

    ``HX-Location`` makes htmx fetch the page as a partial, swap it into the
    content area and push the URL, so the steward's next item appears without
    a full reload; the flash message rides along in the partial.
    """
    if wants_partial(request):
        response = redirect(url)
        response.status_code = 204
        del response["Location"]
        response["HX-Location"] = json.dumps({"path": url, "target": "#content", "swap": "innerHTML show:window:top"})
        return response
    return redirect(url)


def reload_page(request, url: str):
    """A full navigation even for htmx (used when the layout itself must change)."""
    if wants_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)
