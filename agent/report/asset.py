"""The asset id: the label a workshop knows a machine by, in the report and as its hostname.

A volunteer may type the workshop's own inventory number; otherwise the id is derived from the
machine's identity, so the same computer gets the same asset id on every run.
"""

from __future__ import annotations

import base64
import re

from agent.inventory.model import Machine

DEFAULT_PREFIX = "RB"
_NOT_IN_HOSTNAME = re.compile(r"[^a-z0-9-]+")


def default_asset_id(machine: Machine, prefix: str = DEFAULT_PREFIX) -> str:
    """`RB-` and 8 base32 characters of the identity digest (40 bits: no clash in a region)."""
    digest = machine.identity.id.removeprefix("rb1-") if machine.identity else ""
    raw = bytes.fromhex(digest[:10].ljust(10, "0"))
    return f"{prefix}-{base64.b32encode(raw).decode().rstrip('=')}"


def asset_id_for(machine: Machine, given: str | None = None) -> str:
    """The id a person typed (trimmed), or the one derived from the machine's identity."""
    if given and given.strip():
        return given.strip()
    return default_asset_id(machine)


def hostname_for(asset_id: str) -> str:
    """A valid hostname (RFC 1123 label, 63 characters at most) made from the asset id."""
    label = _NOT_IN_HOSTNAME.sub("-", asset_id.lower()).strip("-")[:63].strip("-")
    return label or "ordinateur"
