"""Template helpers of the steward UI.

None of them marks data safe: they return plain strings (or structures the
templates loop over), so source data is escaped by Django's autoescaping
wherever it is shown.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def pretty_json(text) -> str:
    """A raw JSON payload (text or data) indented for reading; unparsable text is returned as is."""
    if isinstance(text, str):
        try:
            data = json.loads(text)
        except ValueError:
            return text
    else:
        data = text
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@register.filter
def show(value) -> str:
    """A golden or source value as one line of text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict) and "value" in item:
                sources = item.get("sources")
                parts.append(f"{show(item['value'])}" + (f" ({', '.join(sources)})" if sources else ""))
            else:
                parts.append(show(item))
        return "; ".join(parts) if parts else "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show(v)}" for k, v in value.items()) or "—"
    return str(value)


@register.filter
def is_list(value) -> bool:
    return isinstance(value, list)


@register.filter
def thousands(value) -> str:
    """12,345: record counts read at a glance."""
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else str(value)


@register.filter
def percent(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def age(value) -> str:
    """How long ago, short: '5 min', '3 h', '2 d'."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    delta = timezone.now() - value
    if delta < timedelta(minutes=1):
        return "just now"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)} min"
    if delta < timedelta(days=1):
        return f"{int(delta.total_seconds() // 3600)} h"
    return f"{delta.days} d"


@register.filter
def parse_dt(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


@register.filter
def get(mapping, key):
    if mapping is None:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        try:
            return mapping[key]
        except (KeyError, IndexError, TypeError):
            return None


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with ``changes`` applied (``None`` or '' removes a key); starts with '?'."""
    request = context["request"]
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def rule_label(rule: str) -> str:
    return {
        "source_priority": "source priority",
        "most_recent": "most recent",
        "most_frequent": "most frequent",
        "most_complete": "most complete",
        "longest": "longest",
        "minimum": "minimum",
        "maximum": "maximum",
        "valid_only": "valid only",
        "aggregate": "all values kept",
        "tie_break": "tie-break (most recent, then oldest record)",
        "only_value": "only value",
        "override": "steward override",
    }.get(rule or "", rule or "")
