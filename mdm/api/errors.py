"""API error responses: DRF's, plus a log line for every denied call."""
from __future__ import annotations

import logging

from rest_framework.views import exception_handler

log = logging.getLogger("mdm.api.denied")


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None and response.status_code in (401, 403):
        request = context.get("request")
        who = getattr(request, "user", None)
        log.warning(
            "API call denied: %s %s by %s: %s",
            request.method if request else "?", request.path if request else "?",
            getattr(who, "name", None) or getattr(who, "username", None) or "anonymous",
            response.data.get("detail") if isinstance(response.data, dict) else response.data,
        )
    return response
