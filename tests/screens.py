"""Helpers for driving the walk-through with Textual's Pilot and reading what it shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from agent import flow
from agent.inventory.source import ProfileSource
from agent.tui.app import ReeebootApp

PROFILES = Path(__file__).parent / "fixtures" / "profiles"


def profile_paths() -> list[Path]:
    return sorted(path for path in PROFILES.glob("*.json") if not path.name.endswith(
        ".expected.json"))


def screen_text(app: App[Any]) -> str:
    """The characters of the screen as the volunteer sees it (the top screen is opaque)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def outside_cp437(text: str) -> list[str]:
    """Characters the Linux console's VGA font (code page 437) cannot draw."""
    return sorted({f"U+{ord(char):04X} {char!r}" for char in text
                   if char != "\n" and not char.encode("cp437", "ignore")})


async def settle(pilot: Pilot[None], app: ReeebootApp) -> None:
    """Until the run's workers are done and the screen has drawn what they said."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(char, char) for char in text])


def profile_station(data_dir: Path, profile: Path, config: str = "") -> flow.Station:
    (data_dir / "reeeboot.toml").write_text(config)
    station = flow.open_station(data_dir)
    station.profile = ProfileSource.load(profile)
    return station


_FRAME = str.maketrans({char: " " for char in "│─┌┐└┘├┤"})


def flat(text: str) -> str:
    """The screen's words in one line: frames removed, wrapped lines joined."""
    return " ".join(text.translate(_FRAME).split())
