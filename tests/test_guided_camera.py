"""The camera check's screen through Pilot: a fake camera whose capture gives a synthetic YUYV
frame (tests/test_camera.py, `gradient_frame`) or fails; each answer's result, the picture's
characters and colours, and each state's snapshot at 80x25."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot

from agent.health.camera import Camera, CameraDetection, CaptureFailed, Frame
from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, CheckResult
from agent.tui.screens.guided_camera import HALF_BLOCK, CameraScreen
from tests.guided_host import SIZE, FakeClock, GuidedHost, compare_snapshot, context
from tests.screens import flat, screen_text
from tests.test_camera import gradient_frame

WEBCAM = CameraDetection((Camera("/dev/video0", "Integrated_Webcam_HD: Integrate"),))


class FakeCapture:
    """Gives its frames or failures in turn, the last one again when they run out."""

    def __init__(self, *answers: Frame | str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, camera: Camera) -> Frame:
        self.asked.append(camera.device)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, str):
            raise CaptureFailed(answer)
        return answer


def host(detection: CameraDetection, capture: FakeCapture, *, language: str = "fr",
         clock: FakeClock | None = None) -> GuidedHost:
    return GuidedHost(lambda: CameraScreen(context(clock=clock), 4, 7, find=lambda: detection,
                                           capture=capture), language)


async def taken(pilot: Pilot[None], app: GuidedHost, count: int) -> None:
    screen = app.screen
    assert isinstance(screen, CameraScreen)
    for _attempt in range(100):
        await pilot.pause()
        if screen.captures >= count:
            break
        await asyncio.sleep(0.02)
    assert screen.captures >= count
    await pilot.pause()


def only(results: list[CheckResult]) -> CheckResult:
    assert len(results) == 1
    return results[0]


async def test_a_picture_that_shows_the_scene_is_a_pass() -> None:
    clock = FakeClock()
    capture = FakeCapture(gradient_frame())
    app = host(WEBCAM, capture, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await taken(pilot, app, 1)
        lines = screen_text(app).splitlines()
        clock.now += 12.34
        await pilot.press("enter")
        await pilot.pause()
    picture = [line for line in lines if HALF_BLOCK in line]
    assert len(picture) == 19
    assert {line.strip() for line in picture} == {HALF_BLOCK * 51}
    result = only(app.results)
    assert (result.check, result.subject, result.verdict) == ("camera", "camera", PASS)
    assert result.seconds == 12.3 and result.operator == "Atelier Lyon"
    assert result.measured == {"camera": "Integrated_Webcam_HD: Integrate",
                               "device": "/dev/video0", "cameras": 1, "image": True,
                               "width": 160, "height": 120, "error": None}
    assert capture.asked == ["/dev/video0"]


async def test_the_picture_is_drawn_in_the_frame_s_colours() -> None:
    app = host(WEBCAM, FakeCapture(gradient_frame()), language="en")
    async with app.run_test(size=SIZE) as pilot:
        await taken(pilot, app, 1)
        screen = app.screen
        assert isinstance(screen, CameraScreen)
        text = screen.picture()
    middle = text.plain.split("\n")[9]
    assert middle == HALF_BLOCK * 51
    styles = [span.style for span in text.spans]
    first_of_middle = styles[9 * 51]
    last_of_middle = styles[10 * 51 - 1]
    assert str(first_of_middle) == "color(0) on color(0)"
    assert str(last_of_middle) == "color(15) on color(15)"


async def test_a_wrong_picture_fails_and_r_takes_another() -> None:
    capture = FakeCapture(gradient_frame())
    app = host(WEBCAM, capture)
    async with app.run_test(size=SIZE) as pilot:
        await taken(pilot, app, 1)
        await pilot.press("r")
        await taken(pilot, app, 2)
        await pilot.press("n")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == FAIL
    assert [finding.code for finding in result.findings] == ["camera_no_image"]
    assert result.measured["image"] is True
    assert len(capture.asked) == 2


async def test_a_failed_capture_cannot_pass_and_says_why() -> None:
    error = "VIDIOC_STREAMON returned -1 (No space left on device)"
    capture = FakeCapture(error)
    app = host(WEBCAM, capture, language="en")
    async with app.run_test(size=SIZE) as pilot:
        await taken(pilot, app, 1)
        assert error in flat(screen_text(app))
        await pilot.press("enter")  # tries again: no picture, no pass
        await taken(pilot, app, 2)
        assert app.results == []
        await pilot.press("n")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == FAIL
    assert result.findings[0].code == "camera_no_image"
    assert error in result.findings[0].text
    assert result.measured["image"] is False and result.measured["error"] == error
    assert len(capture.asked) == 2


async def test_a_capture_that_works_the_second_time_can_pass() -> None:
    app = host(WEBCAM, FakeCapture("select timeout", gradient_frame()))
    async with app.run_test(size=SIZE) as pilot:
        await taken(pilot, app, 1)
        await pilot.press("enter")
        await taken(pilot, app, 2)
        await pilot.press("enter")
        await pilot.pause()
    assert only(app.results).verdict == PASS


async def test_no_camera_confirmed_is_not_present() -> None:
    capture = FakeCapture(gradient_frame())
    app = host(CameraDetection(), capture)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("r", "enter")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == NOT_PRESENT
    assert [finding.code for finding in result.findings] == ["camera_not_present"]
    assert capture.asked == []


async def test_a_camera_that_is_not_found_fails() -> None:
    app = host(CameraDetection(), FakeCapture(gradient_frame()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
    result = only(app.results)
    assert result.verdict == FAIL
    assert [finding.code for finding in result.findings] == ["camera_not_found"]


async def test_escape_skips() -> None:
    app = host(WEBCAM, FakeCapture(gradient_frame()))
    async with app.run_test(size=SIZE) as pilot:
        await taken(pilot, app, 1)
        await pilot.press("escape")
        await pilot.pause()
    assert only(app.results).verdict == SKIPPED


async def test_without_v4l_utils_only_escape_answers() -> None:
    app = host(CameraDetection(tools_missing=True), FakeCapture(gradient_frame()),
               language="en")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter", "n")
        await pilot.pause()
        assert app.results == []
        assert "v4l-utils" in flat(screen_text(app))


async def test_a_camera_s_name_is_shown_as_it_is() -> None:
    hostile = CameraDetection((Camera("/dev/video0", "[b]Cam[/b] \u00c0"),))
    app = host(hostile, FakeCapture(gradient_frame()), language="en")
    async with app.run_test(size=SIZE) as pilot:
        await taken(pilot, app, 1)
        assert "[b]Cam[/b] ?" in screen_text(app)


async def test_snapshots() -> None:
    for language in ("fr", "en"):
        app = host(WEBCAM, FakeCapture(gradient_frame()), language=language)
        async with app.run_test(size=SIZE) as pilot:
            await taken(pilot, app, 1)
            compare_snapshot("5j-camera-picture", language, app)
        app = host(WEBCAM, FakeCapture("VIDIOC_STREAMON returned -1 (No space left on device)"),
                   language=language)
        async with app.run_test(size=SIZE) as pilot:
            await taken(pilot, app, 1)
            compare_snapshot("5j-camera-failed", language, app)
        app = host(CameraDetection(), FakeCapture(gradient_frame()), language=language)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            compare_snapshot("5j-camera-absent", language, app)
