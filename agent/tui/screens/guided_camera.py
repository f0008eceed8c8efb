"""Guided check: the camera. One still frame is taken and drawn with the console's characters
(half blocks in the 16 colours); the volunteer waves a hand or holds something in front of the
camera and says whether the picture shows it. Without a picture the camera can only fail or
be skipped. The hardware side is agent/health/camera.py."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from agent.health import guided
from agent.health.camera import (
    Camera,
    CameraDetection,
    Capture,
    CaptureFailed,
    Frame,
    capture_frame,
    find_cameras,
    render_frame,
)
from agent.health.model import FAIL, NOT_PRESENT, Finding
from agent.i18n import N_, _
from agent.tui.console import plain, printable
from agent.tui.screens.base import ENTER
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen

ABSENT, TOOLS_MISSING, TAKING, PICTURE, FAILED = (
    "absent", "tools_missing", "taking", "picture", "failed")
# The picture's room on an 80x25 screen: the title, a line of text, the keys' line and a
# status line leave 19 rows of 76 columns.
PICTURE_COLUMNS, PICTURE_ROWS = 76, 19
HALF_BLOCK = "\u2580"  # ▀: its upper half in the text colour, its lower half in the background

_ACTIONS = {
    ABSENT: ("none_present", "not_found"),
    TOOLS_MISSING: (),
    TAKING: ("no_image",),
    PICTURE: ("image_shown", "no_image", "again"),
    FAILED: ("retry", "no_image"),
}
_ALL_ACTIONS = {action for actions in _ACTIONS.values() for action in actions}


class CameraScreen(GuidedScreen):
    CHECK = guided.CAMERA
    NAME = N_("the camera")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "image_shown", N_("Picture is right"), key_display=ENTER),
        Binding("enter", "retry", N_("Try again"), key_display=ENTER),
        Binding("enter", "none_present", N_("Right, it has none"), key_display=ENTER),
        Binding("n", "no_image", N_("Wrong picture")),
        Binding("n", "not_found", N_("It has one, but it is not found")),
        Binding("r", "again", N_("New picture")),
    ]

    DEFAULT_CSS = """
    CameraScreen #picture {
        height: auto;
        padding: 0 0 0 2;
    }
    """

    def __init__(self, context: GuidedContext, number: int, count: int, *,
                 find: Callable[[], CameraDetection] = find_cameras,
                 capture: Capture = capture_frame) -> None:
        super().__init__(context, number, count)
        self._find, self._capture = find, capture
        self.detection = CameraDetection()
        self.state = ABSENT
        self.frame: Frame | None = None
        self.error: str | None = None
        self.captures = 0  # frames asked for and answered, for the tests to wait on

    @property
    def camera(self) -> Camera | None:
        return self.detection.cameras[0] if self.detection.cameras else None

    def compose_body(self) -> ComposeResult:
        self.detection = self._find()
        self.evidence.extend(self.detection.evidence)
        yield Static("", id="what", classes="text", markup=False)
        yield Static("", id="picture")
        yield Static("", id="status", classes="text", markup=False)

    def on_mount(self) -> None:
        if self.detection.tools_missing and self.camera is None:
            self.show(TOOLS_MISSING)
        elif self.camera is None:
            self.show(ABSENT)
        else:
            self.take()

    def show(self, state: str) -> None:
        self.state = state
        camera = self.camera
        name = printable(camera.name) if camera else ""
        what = {
            ABSENT: _("This computer shows no camera. Does it really have none?"),
            TOOLS_MISSING: _("The camera programs (v4l-utils) are not on this system. Press "
                             "Esc to skip this test."),
            TAKING: _("Taking a picture with {camera}...").format(camera=name),
            PICTURE: _("Camera: {camera}. Does the picture show what is in front of it? "
                       "(Wave a hand, then press r for a new picture.)").format(camera=name),
            FAILED: _("Camera: {camera}. No picture could be taken.").format(camera=name),
        }[state]
        self.query_one("#what", Static).update(plain(what))
        picture = self.query_one("#picture", Static)
        picture.update(self.picture() if state == PICTURE else "")
        if state == FAILED:
            self.say(_("Why: {error}").format(error=printable(self.error or "")), "error")
        else:
            self.say("", "")
        self.refresh_bindings()

    def picture(self) -> Text:
        assert self.frame is not None
        text = Text(no_wrap=True)
        rows = render_frame(self.frame, PICTURE_COLUMNS, PICTURE_ROWS)
        for index, row in enumerate(rows):
            if index:
                text.append("\n")
            for top, bottom in row:
                text.append(HALF_BLOCK, Style(color=Color.from_ansi(top),
                                              bgcolor=Color.from_ansi(bottom)))
        return text


    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _ALL_ACTIONS:
            return action in _ACTIONS[self.state]
        return True

    # --- the picture ------------------------------------------------------------------------

    def take(self) -> None:
        camera = self.camera
        assert camera is not None
        self.show(TAKING)
        self.run_worker(lambda: self._take(camera), thread=True, exclusive=True, group="camera")

    def _take(self, camera: Camera) -> None:
        """On a worker thread: v4l2-ctl waits for the frames."""
        frame: Frame | None = None
        error: str | None = None
        try:
            frame = self._capture(camera)
        except CaptureFailed as failure:
            error = str(failure)
        with contextlib.suppress(RuntimeError):  # the app ended meanwhile
            self.app.call_from_thread(self.taken, frame, error)

    def taken(self, frame: Frame | None, error: str | None) -> None:
        self.captures += 1
        if not self.is_mounted:
            return
        self.frame, self.error = frame, error
        self.show(PICTURE if frame is not None else FAILED)

    def action_again(self) -> None:
        self.take()

    def action_retry(self) -> None:
        self.take()

    # --- the answers ------------------------------------------------------------------------

    def measured(self) -> dict[str, Any]:
        camera = self.camera
        return {"camera": camera.name if camera else None,
                "device": camera.device if camera else None,
                "cameras": len(self.detection.cameras),
                "image": self.frame is not None,
                "width": self.frame.width if self.frame else None,
                "height": self.frame.height if self.frame else None,
                "error": self.error}

    def action_image_shown(self) -> None:
        if self.frame is None:  # a pass needs a picture
            return
        self.finish_passed(self.measured())

    def action_no_image(self) -> None:
        if self.error:
            finding = Finding.of("camera_no_image", FAIL,
                                 N_("The camera gave no picture: {error}"), error=self.error)
        else:
            finding = Finding.of("camera_no_image", FAIL,
                                 N_("The camera's picture does not show what it sees"))
        self.finish_failed(finding, self.measured())

    def action_none_present(self) -> None:
        self.finish_absent(Finding.of("camera_not_present", NOT_PRESENT,
                                      N_("The computer has no camera")))

    def action_not_found(self) -> None:
        self.finish_failed(Finding.of("camera_not_found", FAIL,
                                      N_("The computer has a camera, but it was not found")),
                           self.measured())
