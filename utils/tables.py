"""Figures as plain-text tables: one line per model or setting, rates as percentages."""

from __future__ import annotations

import math


def figure(value, width: int) -> str:
    """`value` right-aligned in `width` characters: a count as a whole number, any other number as
    a percentage, None or NaN as n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a".rjust(width)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:{width}d}"
    return f"{value:{width}.2%}"


def rate_table(rows: dict[str, dict], columns: dict[str, str], label: str = "") -> str:
    """One line per row, its name first, then its figure for each key of `columns` under that
    key's title; a row without a figure leaves its place blank."""
    if not rows:
        raise ValueError("a table needs at least one row")
    name_width = max(len(label), *(len(name) for name in rows))
    widths = {key: max(len(title), 8) for key, title in columns.items()}
    header = f"{label:{name_width}s} " + " ".join(
        f"{title:>{widths[key]}s}" for key, title in columns.items()
    )
    lines = [header]
    for name, row in rows.items():
        cells = [
            figure(row[key], widths[key]) if key in row else " " * widths[key] for key in columns
        ]
        lines.append(f"{name:{name_width}s} " + " ".join(cells))
    return "\n".join(line.rstrip() for line in lines)
