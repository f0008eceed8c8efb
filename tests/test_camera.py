"""The camera check's hardware side: which node captures (v4l2-ctl outputs of real cameras,
tests/fixtures/camera/SOURCE.md), the capture command and its failures, the YUYV decoding and
the frame drawn in the console's colours (a synthetic frame: SOURCE.md says why)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.health.camera import (
    PALETTE,
    Camera,
    CaptureFailed,
    Frame,
    capture_frame,
    captures_video,
    device_caps,
    find_cameras,
    fitted_size,
    frame_from,
    render_frame,
    video_nodes,
)
from agent.runner import CommandNotFound, CommandRecord

FIXTURES = Path(__file__).parent / "fixtures" / "camera"
METADATA = (FIXTURES / "integrated-webcam-hd.video3-metadata.all.txt").read_text()
CAPTURE = (FIXTURES / "av-to-usb2.video4-capture.all.txt").read_text()
BLACK, WHITE, RED, BLUE = 0, 15, 1, 4


def gradient_frame(width: int = 160, height: int = 120) -> Frame:
    """Brightness rising from black on the left to white on the right; the top eighth red, the
    bottom eighth blue (BT.601 limited range: black Y=16, white Y=235)."""
    data = bytearray()
    for y in range(height):
        for x in range(0, width, 2):
            lumas = [16 + (235 - 16) * column // (width - 1) for column in (x, x + 1)]
            if y < height // 8:
                lumas, u, v = [81, 81], 90, 240  # red
            elif y >= height - height // 8:
                lumas, u, v = [41, 41], 240, 110  # blue
            else:
                u = v = 128
            data += bytes((lumas[0], u, lumas[1], v))
    return Frame(width, height, bytes(data))


def sysfs(tmp_path: Path, nodes: dict[str, str]) -> Path:
    for node, name in nodes.items():
        folder = tmp_path / "class" / "video4linux" / node
        folder.mkdir(parents=True)
        (folder / "name").write_text(name + "\n")
    return tmp_path


class Commands:
    def __init__(self, answers: dict[str, CommandRecord] | None) -> None:
        self.answers = answers
        self.argvs: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        self.argvs.append(tuple(argv))
        if self.answers is None:
            raise CommandNotFound(argv[0])
        return self.answers[argv[2]]


def info(text: str, returncode: int = 0) -> CommandRecord:
    return CommandRecord(("v4l2-ctl",), returncode, text, "", 0.01)


# --- which node is a camera ------------------------------------------------------------------


def test_the_node_s_own_capabilities_decide() -> None:
    assert device_caps(METADATA) == {"Metadata Capture", "Streaming", "Extended Pix Format"}
    assert not captures_video(METADATA)
    assert captures_video(CAPTURE)


def test_a_driver_without_per_node_capabilities_is_read_by_its_device_s() -> None:
    old = "Driver Info:\n\tDriver name   : gspca\n\tCapabilities  : 0x05000001\n" \
          "\t\tVideo Capture\n\t\tRead/Write\n\t\tStreaming\n"
    assert captures_video(old)


def test_the_capture_node_of_a_webcam_is_its_camera(tmp_path: Path) -> None:
    root = sysfs(tmp_path, {"video4": "AV TO USB2.0", "video5": "AV TO USB2.0",
                            "video10": "other"})
    assert [device for device, _name in video_nodes(root)] == ["/dev/video4", "/dev/video5",
                                                               "/dev/video10"]
    commands = Commands({"/dev/video4": info(CAPTURE), "/dev/video5": info(METADATA),
                         "/dev/video10": info("", 1)})
    detection = find_cameras(commands, root)
    assert detection.cameras == (Camera("/dev/video4", "AV TO USB2.0"),)
    assert not detection.tools_missing
    assert len(detection.evidence) == 3
    assert commands.argvs[0] == ("v4l2-ctl", "-d", "/dev/video4", "--info")


def test_no_video_node_is_no_camera(tmp_path: Path) -> None:
    detection = find_cameras(Commands({}), tmp_path)
    assert detection.cameras == () and not detection.tools_missing


def test_without_v4l_utils_it_says_so(tmp_path: Path) -> None:
    detection = find_cameras(Commands(None), sysfs(tmp_path, {"video0": "Webcam"}))
    assert detection.tools_missing and detection.cameras == ()


# --- the capture ---------------------------------------------------------------------------


def test_the_capture_asks_for_a_small_yuyv_frame_and_reads_it() -> None:
    frame = gradient_frame()
    format_lines = ("Format Video Capture:\n\tWidth/Height      : 160/120\n"
                    "\tPixel Format      : 'YUYV' (YUYV 4:2:2)\n\tBytes per Line    : 320\n")

    def run(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        path = next(arg for arg in argv if arg.startswith("--stream-to="))
        Path(path.removeprefix("--stream-to=")).write_bytes(frame.data)
        return CommandRecord(tuple(argv), 0, format_lines, "", 0.5)

    taken = capture_frame(Camera("/dev/video0", "Webcam"), run)
    assert (taken.width, taken.height, taken.data) == (160, 120, frame.data)


def test_the_size_the_driver_chose_is_used() -> None:
    frame = gradient_frame(320, 240)
    record = CommandRecord((), 0, "\tWidth/Height      : 320/240\n"
                               "\tPixel Format      : 'YUYV' (YUYV 4:2:2)\n", "", 0.5)
    assert frame_from(record, frame.data).width == 320


def test_a_camera_without_yuyv_is_a_reason() -> None:
    with pytest.raises(CaptureFailed, match="only MJPG"):
        frame_from(CommandRecord((), 0, CAPTURE, "", 0.5), b"\xff\xd8")


def test_a_failed_capture_gives_the_command_s_words() -> None:
    record = CommandRecord((), 255, "", "VIDIOC_STREAMON returned -1 (No space left on device)\n",
                           0.5)
    with pytest.raises(CaptureFailed, match="No space left on device"):
        frame_from(record, b"")
    with pytest.raises(CaptureFailed, match="no image"):
        frame_from(CommandRecord((), 0, "", "", 0.5), b"")
    with pytest.raises(CaptureFailed, match="needs 38400 bytes"):
        frame_from(CommandRecord((), 0, "", "", 0.5), b"\x10\x80" * 100)


def test_a_missing_v4l2_ctl_is_a_reason() -> None:
    def missing(argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        raise CommandNotFound("v4l2-ctl")

    with pytest.raises(CaptureFailed, match="not installed"):
        capture_frame(Camera("/dev/video0", "Webcam"), missing)


# --- the picture ---------------------------------------------------------------------------


def test_yuyv_decodes_to_its_colours() -> None:
    frame = gradient_frame()
    assert frame.rgb(0, 60) == (0, 0, 0)
    assert frame.rgb(159, 60) == (255, 255, 255)
    red, green, blue = frame.rgb(80, 2)
    assert red > 200 and green < 40 and blue < 40
    red, green, blue = frame.rgb(80, 118)
    assert blue > 200 and red < 40


def test_a_4_by_3_frame_fits_the_height_of_the_screen() -> None:
    assert fitted_size(160, 120, 76, 19) == (51, 19)
    assert fitted_size(320, 40, 76, 19) == (76, 5)  # 9.5 pixel rows, rounded to 10


def test_the_gradient_is_drawn_dark_to_light_between_its_bands() -> None:
    rows = render_frame(gradient_frame())
    assert len(rows) == 19 and {len(row) for row in rows} == {51}
    middle = rows[9]
    assert middle[0] == (BLACK, BLACK)
    assert middle[-1] == (WHITE, WHITE)
    greys = [top for top, _bottom in middle]
    order = [BLACK, 8, 7, WHITE]  # the four greys of the palette, dark to light
    assert [order.index(grey) for grey in greys] == sorted(order.index(grey) for grey in greys)
    assert {top for top, _bottom in rows[0]} == {RED}
    assert {bottom for _top, bottom in rows[-1]} == {BLUE}
    assert len(PALETTE) == 16
