"""Charts as inline SVG, computed on the server: no chart library, no script.

Each function turns figures into plain geometry (numbers and label strings);
the templates in ``templates/stewardship/charts/`` draw it, so every label
passes through Django's autoescaping like any other text on the page.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

PALETTE = ["#2563eb", "#0891b2", "#7c3aed", "#db2777", "#ea580c", "#65a30d", "#475569"]
AGE_COLORS = {"today": "#93c5fd", "1-3d": "#3b82f6", "3-7d": "#1d4ed8", "7d+": "#1e3a8a"}
STATE_COLORS = {"no_match": "#cbd5e1", "possible": "#f59e0b", "match": "#16a34a"}


def nice_max(value: float, *, counts: bool = False) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 × 10^n).

    ``counts``: the axis counts things: four whole-number steps of 1, 2 or 5 × 10^n.
    """
    if counts:
        wanted = max(value, 1) / 4
        exponent = max(math.floor(math.log10(wanted)), 0)
        step = next(s * 10 ** exponent for s in (1, 2, 5, 10) if s * 10 ** exponent >= wanted)
        return float(step * 4)
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10 ** exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


def ticks(maximum: float, count: int = 4) -> list[float]:
    return [maximum * i / count for i in range(count + 1)]


def fmt(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def explanation_chart(explanation: dict | None, *, width: int = 540, row: int = 26) -> dict | None:
    """Each comparison's weight as a bar left (against) or right (for) of zero.

    ``explanation`` is the matcher's: ``{"prior_weight", "match_weight",
    "probability", "comparisons": [{"name", "level", "weight", "values"}]}``.
    The prior and the total are drawn as the first and last rows so the
    steward reads the sum: prior + each comparison (+ each rule that held)
    = total match weight.
    """
    if not explanation or not explanation.get("comparisons"):
        return None
    label_w, value_w = 170, 52
    plot_x0, plot_x1 = label_w, width - value_w
    rows = [{"name": "prior (base rate)", "level": "", "weight": float(explanation.get("prior_weight") or 0.0),
             "kind": "prior", "values": None}]
    for comparison in explanation["comparisons"]:
        rows.append({
            "name": str(comparison.get("name", "")), "level": str(comparison.get("level", "")),
            "weight": float(comparison.get("weight") or 0.0), "kind": "comparison",
            "values": comparison.get("values"),
        })
    for rule in explanation.get("rules") or []:  # business rules that held for the pair (e.g. same tax ID)
        rows.append({"name": f"rule {rule.get('name', '')}", "level": "", "weight": float(rule.get("weight") or 0.0),
                     "kind": "comparison", "values": None})
    total = explanation.get("match_weight")
    if total is None:
        total = sum(r["weight"] for r in rows)
    rows.append({"name": "total match weight", "level": "", "weight": float(total), "kind": "total", "values": None})
    scale_max = nice_max(max(abs(r["weight"]) for r in rows) or 1.0)
    zero = (plot_x0 + plot_x1) / 2
    half = (plot_x1 - plot_x0) / 2
    top = 22
    for index, r in enumerate(rows):
        length = abs(r["weight"]) / scale_max * half
        r["y"] = top + index * row
        r["bar_y"] = r["y"] + 5
        r["bar_h"] = row - 10
        r["x"] = zero if r["weight"] >= 0 else zero - length
        r["w"] = max(length, 1.0)
        r["positive"] = r["weight"] >= 0
        r["text_y"] = r["y"] + row / 2 + 4
        r["label"] = f"{r['name']}: {r['level']}" if r["level"] else r["name"]
        r["weight_text"] = f"{r['weight']:+.2f}"
        r["color"] = ("#334155" if r["kind"] != "comparison" else "#16a34a") if r["positive"] else (
            "#334155" if r["kind"] != "comparison" else "#dc2626")
    height = top + len(rows) * row + 8
    axis = [{"x": zero + half * f, "label": fmt(scale_max * f)} for f in (-1, -0.5, 0, 0.5, 1)]
    return {
        "width": width, "height": height, "rows": rows, "zero": zero, "plot_x0": plot_x0, "plot_x1": plot_x1,
        "value_x": width - 4, "axis": axis, "top": top - 6, "bottom": height - 4,
        "probability": explanation.get("probability"),
    }


def hbar_chart(items: Sequence[tuple[str, float]], *, width: int = 520, row: int = 24, label_w: int = 170,
               color: str = PALETTE[0]) -> dict:
    """Horizontal bars: ``[(label, value)]``."""
    maximum = nice_max(max((v for _, v in items), default=0) or 1)
    plot_w = width - label_w - 60
    rows = []
    for index, (label, value) in enumerate(items):
        y = index * row + 4
        rows.append({"label": label, "value": fmt(value), "y": y, "bar_y": y + 4, "bar_h": row - 8,
                     "w": max(value / maximum * plot_w, 1 if value else 0), "text_y": y + row / 2 + 4,
                     "value_x": label_w + max(value / maximum * plot_w, 0) + 6})
    return {"width": width, "height": len(items) * row + 8, "rows": rows, "label_w": label_w, "color": color}


def stacked_hbar(rows: Sequence[tuple[str, Sequence[tuple[str, float]]]], colors: dict[str, str], *,
                 width: int = 560, row: int = 28, label_w: int = 150) -> dict:
    """Horizontal stacked bars: ``[(label, [(segment, value), ...])]``; segments coloured by key."""
    maximum = nice_max(max((sum(v for _, v in segs) for _, segs in rows), default=0) or 1)
    plot_w = width - label_w - 50
    out = []
    for index, (label, segments) in enumerate(rows):
        y = index * row + 4
        x = label_w
        parts = []
        for key, value in segments:
            w = value / maximum * plot_w
            if value:
                parts.append({"key": key, "x": x, "w": max(w, 1.5), "value": fmt(value), "color": colors.get(key, "#94a3b8")})
            x += w
        total = sum(v for _, v in segments)
        out.append({"label": label, "y": y, "bar_y": y + 5, "bar_h": row - 10, "parts": parts, "total": fmt(total),
                    "text_y": y + row / 2 + 4, "total_x": x + 6})
    return {"width": width, "height": len(rows) * row + 8, "rows": out, "label_w": label_w}


def histogram(counts: dict[int, dict[str, int]], bins: int, *, width: int = 560, height: int = 200,
              order: Sequence[str] = ("no_match", "possible", "match")) -> dict:
    """Stacked columns per probability bin (left 0, right 1), coloured by decision state.

    The height is on a square-root scale: a good model piles thousands of
    pairs at 1.0, and on a linear scale the few dozen in the review band,
    the ones a steward cares about, would not show at all. Ticks are
    labelled with real counts.
    """
    left, bottom_pad, top_pad = 44, 22, 8
    plot_w, plot_h = width - left - 8, height - bottom_pad - top_pad
    totals = [sum(counts.get(i, {}).values()) for i in range(bins)]
    maximum = nice_max(max(totals, default=0), counts=True)
    root = math.sqrt(maximum)

    def height_of(n: float) -> float:
        return math.sqrt(max(n, 0)) / root * plot_h

    col_w = plot_w / bins
    columns = []
    for i in range(bins):
        y = top_pad + plot_h
        parts = []
        stacked = 0
        for state in order:
            n = counts.get(i, {}).get(state, 0)
            if not n:
                continue
            h = height_of(stacked + n) - height_of(stacked)
            stacked += n
            y -= h
            parts.append({"y": y, "h": h, "color": STATE_COLORS.get(state, "#94a3b8"), "state": state, "n": n})
        columns.append({"x": left + i * col_w + 1, "w": col_w - 2, "parts": parts, "total": totals[i],
                        "range": f"{i / bins:.2f}–{(i + 1) / bins:.2f}"})
    y_ticks = [{"y": top_pad + plot_h - height_of(t), "label": fmt(t)} for t in ticks(maximum)]
    x_labels = [{"x": left + plot_w * f, "label": f"{f:.2g}"} for f in (0, 0.25, 0.5, 0.75, 1)]
    return {"width": width, "height": height, "columns": columns, "y_ticks": y_ticks, "x_labels": x_labels,
            "left": left, "right": width - 8, "base_y": top_pad + plot_h, "label_y": height - 6,
            "total": sum(totals)}


def grouped_columns(points: Sequence[dict], series: Sequence[tuple[str, str, str]], *, width: int = 560,
                    height: int = 180, label_key: str = "label") -> dict:
    """Columns side by side per point: ``series = [(key, label, colour)]``."""
    left, bottom_pad, top_pad = 40, 22, 8
    plot_w, plot_h = width - left - 8, height - bottom_pad - top_pad
    maximum = nice_max(max((p[key] for p in points for key, _, _ in series), default=0), counts=True)
    group_w = plot_w / max(len(points), 1)
    bar_w = max((group_w - 4) / max(len(series), 1), 1)
    groups = []
    for i, p in enumerate(points):
        x0 = left + i * group_w + 2
        bars = []
        for j, (key, label, colour) in enumerate(series):
            h = p[key] / maximum * plot_h
            bars.append({"x": x0 + j * bar_w, "y": top_pad + plot_h - h, "w": bar_w - 1, "h": h, "color": colour,
                         "title": f"{label}: {p[key]}"})
        groups.append({"bars": bars, "label": p[label_key], "label_x": x0 + (group_w - 4) / 2,
                       "show_label": i % 2 == 0 or len(points) <= 8})
    y_ticks = [{"y": top_pad + plot_h - t / maximum * plot_h, "label": fmt(t)} for t in ticks(maximum)]
    return {"width": width, "height": height, "groups": groups, "y_ticks": y_ticks, "left": left,
            "right": width - 8, "base_y": top_pad + plot_h, "label_y": height - 6,
            "series": [{"label": label, "color": colour} for _, label, colour in series]}
