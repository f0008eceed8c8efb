"""Method names as people read them, for the screen; the report keeps the machine names."""

from __future__ import annotations

from agent.i18n import _
from agent.report.labels import FIRMWARE_METHODS, LEVELS, OVERWRITE_FORMAT, OVERWRITE_PASSES
from agent.wipe.firmware import model


def method_label(method: str, overwrite_method: str = "random") -> str:
    """`method` as in a plan ("overwrite" + the overwrite method) or a result ("random")."""
    if method == model.OVERWRITE:
        method = overwrite_method
    if method in OVERWRITE_PASSES:
        return _(OVERWRITE_FORMAT).format(passes=_(OVERWRITE_PASSES[method]))
    return _(FIRMWARE_METHODS.get(method, method))


def level_label(level: str) -> str:
    return _(LEVELS.get(level, level))
