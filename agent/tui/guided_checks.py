"""The guided checks' screens, in the order the walk-through asks them (agent/health/guided.py
says what each one tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.tui.screens.guided_appearance import AppearanceScreen
from agent.tui.screens.guided_camera import CameraScreen
from agent.tui.screens.guided_display import DisplayScreen
from agent.tui.screens.guided_keyboard import KeyboardScreen
from agent.tui.screens.guided_sound import SoundScreen
from agent.tui.screens.guided_touchpad import TouchpadScreen
from agent.tui.screens.guided_usb import UsbPortsScreen

if TYPE_CHECKING:
    from agent.tui.app import GuidedFactory


def default_guided_screens() -> list[GuidedFactory]:
    """Each screen with this computer's devices (the kernel's input devices, ALSA, video4linux,
    udev): the keyboard first, since every other answer is typed on it."""
    return [KeyboardScreen, DisplayScreen, SoundScreen, CameraScreen, UsbPortsScreen,
            TouchpadScreen, AppearanceScreen]
