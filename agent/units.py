"""Quantities as people read them."""

from __future__ import annotations


def human_size(size_bytes: int) -> str:
    """Decimal units, as disk makers print them on the label the volunteer compares with."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.3g} {unit}"
    return f"{size_bytes} B"
