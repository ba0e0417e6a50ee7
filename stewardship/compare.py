"""Side-by-side comparison of two records for the match review page.

Presentation only: it marks each attribute *same*, *similar*, *different* or
*missing* so a steward's eye goes to what differs. The match decision itself
comes from the matching engine's explanation, shown beside it; when the
explanation has a comparison for an attribute, its level is shown too.
"""
from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz

SIMILAR_AT = 85  # rapidfuzz token-sort ratio (0-100) from which two texts read as "similar"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(_text(v.get("value") if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k} {_text(v)}" for k, v in sorted(value.items()))
    return str(value).strip()


def mark(a: Any, b: Any, keys_agree: bool = False) -> str:
    """``keys_agree``: the standardizer's match keys for the attribute (``name__core`` …) are equal."""
    left, right = _text(a), _text(b)
    if not left and not right:
        return "empty"
    if not left or not right:
        return "missing"
    if left.casefold() == right.casefold():
        return "same"
    if keys_agree or fuzz.token_sort_ratio(left.casefold(), right.casefold()) >= SIMILAR_AT:
        return "similar"
    return "different"


def _keys_agree(name: str, left: dict, right: dict) -> bool:
    # Standardization writes match keys beside a value ("name__core": "acme supply"
    # without the legal form); equal keys mean the values differ only in form.
    prefix = f"{name}__"
    return any(
        key.startswith(prefix) and value not in (None, "", []) and right.get(key) == value
        for key, value in left.items()
    )


def compare_rows(specs, labels: dict[str, str], left: dict, right: dict, explanation: dict | None) -> list[dict]:
    """One row per declared attribute either side has, in the entity type's order."""
    levels = {}
    for comparison in (explanation or {}).get("comparisons") or []:
        # A comparison names the attribute it read when that differs from its own name.
        # (a match key such as "mpn__compact" belongs to its attribute, "mpn").
        attribute = str(comparison.get("attribute") or comparison.get("name") or "").split("__", 1)[0]
        levels.setdefault(attribute, comparison)
    rows = []
    for spec in specs:
        a, b = left.get(spec.name), right.get(spec.name)
        state = mark(a, b, _keys_agree(spec.name, left, right))
        if state == "empty":
            continue
        comparison = levels.get(spec.name)
        rows.append({
            "name": spec.name, "label": labels.get(spec.name, spec.name), "a": a, "b": b, "mark": state,
            "level": comparison.get("level") if comparison else None,
            "weight": comparison.get("weight") if comparison else None,
        })
    return rows
