"""Geometry for the dashboard's inline SVG chart of cumulative hours."""

from __future__ import annotations

import math
from datetime import date

# Drawn for a phone's width: the SVG scales, and its text with it (the label
# size in shrutik.css is set for that; the padding leaves room for it).
CHART_WIDTH, CHART_HEIGHT = 400, 220
CHART_PAD = {"left": 54, "right": 14, "top": 14, "bottom": 30}
# Colour-blind-safe (Okabe–Ito) colours, one per language in order.
CHART_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above ``value`` (an axis maximum people read)."""
    if value <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(value))
    return next(base * step for step in (1, 2, 5, 10) if base * step >= value)


def hours_chart(
    series: dict[str, dict[str, list[tuple[date, float]]]], *, names: dict[str, str]
) -> dict:
    """Geometry for an inline SVG line chart of cumulative hours (drawn by the template).

    Pure layout: one polyline per language and kind (recorded solid, validated
    dashed), three y ticks and first/middle/last day labels.
    """
    plot_w = CHART_WIDTH - CHART_PAD["left"] - CHART_PAD["right"]
    plot_h = CHART_HEIGHT - CHART_PAD["top"] - CHART_PAD["bottom"]
    values = [h for kinds in series.values() for pts in kinds.values() for _, h in pts]
    # A young platform has minutes, not hours: an axis of 0.0, 0.0, 0.0 says nothing.
    unit, scale = ("hours", 1.0) if max(values, default=0.0) >= 1 else ("minutes", 60.0)
    top = _nice_ceiling(max(values, default=0.0) * scale)
    days = next((pts for kinds in series.values() for pts in kinds.values()), [])

    def x(i: int) -> float:
        return round(CHART_PAD["left"] + plot_w * i / max(len(days) - 1, 1), 1)

    def y(hours: float) -> float:
        return round(CHART_PAD["top"] + plot_h * (1 - hours * scale / top), 1)

    lines = []
    for n, (code, kinds) in enumerate(series.items()):
        colour = CHART_COLOURS[n % len(CHART_COLOURS)]
        for kind in ("recorded", "validated"):
            points = kinds.get(kind, [])
            lines.append(
                {
                    "language": names.get(code, code),
                    "kind": kind,
                    "colour": colour,
                    "points": " ".join(f"{x(i)},{y(h)}" for i, (_, h) in enumerate(points)),
                    "last": points[-1][1] if points else 0.0,
                }
            )
    ticks = [
        {"value": top * f, "label": f"{top * f:g}", "y": y(top * f / scale)} for f in (0, 0.5, 1)
    ]
    labels = [
        {"day": days[i][0], "x": x(i), "anchor": anchor}
        for i, anchor in ((0, "start"), (len(days) // 2, "middle"), (len(days) - 1, "end"))
        if days
    ]
    table = [
        {
            "day": day,
            "cells": [
                (names.get(code, code), kinds["recorded"][i][1], kinds["validated"][i][1])
                for code, kinds in series.items()
            ],
        }
        for i, (day, _) in enumerate(days)
    ]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_PAD["left"],
        "right": CHART_WIDTH - CHART_PAD["right"],
        "bottom": CHART_HEIGHT - CHART_PAD["bottom"],
        "lines": lines,
        "ticks": ticks,
        "labels": labels,
        "table": table[::-1],
        "unit": unit,
        "empty": not series,
    }
