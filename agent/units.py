"""Quantities as people read them, in the language of the screen."""

from __future__ import annotations

from agent.i18n import N_, _, number

# Disk sizes in decimal units, as disk makers print them on the label the volunteer compares
# with; memory in binary units, as the modules are made. French says "octet": Go, Gio.
_DECIMAL = ((N_("TB"), 1e12), (N_("GB"), 1e9), (N_("MB"), 1e6), (N_("kB"), 1e3))
_BINARY = ((N_("TiB"), 2**40), (N_("GiB"), 2**30), (N_("MiB"), 2**20), (N_("KiB"), 2**10))


def human_size(size_bytes: int) -> str:
    """Three significant digits in decimal units: "500 GB", "25.2 MB" ("25,2 Mo" in French)."""
    for unit, scale in _DECIMAL:
        if size_bytes >= scale:
            return f"{_significant(size_bytes / scale)} {_(unit)}"
    return _("{count} B").format(count=size_bytes)


def memory_size(size_bytes: int) -> str:
    """One decimal in binary units, as memory is counted: "8.0 GiB" ("8,0 Gio" in French)."""
    for unit, scale in _BINARY:
        if size_bytes >= scale:
            return f"{number(size_bytes / scale, 1)} {_(unit)}"
    return _("{count} B").format(count=size_bytes)


def rate(bytes_per_second: float) -> str:
    """A transfer rate: "512 MB/s" ("512 Mo/s")."""
    return _("{size}/s").format(size=human_size(int(bytes_per_second)))


def duration(seconds: float) -> str:
    """A time left or taken, to the minute above one hour: "45 s", "12 min 05 s", "2 h 07 min"."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("{hours} h {minutes:02d} min").format(hours=hours, minutes=minutes)
    if minutes:
        return _("{minutes} min {seconds:02d} s").format(minutes=minutes, seconds=secs)
    return _("{seconds} s").format(seconds=secs)


def _significant(value: float) -> str:
    """Three significant digits without trailing zeros, as `%.3g` but in the screen's language."""
    digits = 0 if value >= 100 else 1 if value >= 10 else 2
    text = number(value, digits)
    mark = number(0.5, 1)[1]  # the language's decimal mark
    if mark in text:
        text = text.rstrip("0").rstrip(mark)
    return text
