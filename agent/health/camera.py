"""The camera check's hardware side: which video device is a camera, one still frame from it, and
that frame drawn with the console's characters. The screen (agent/tui/screens/guided_camera.py)
asks the volunteer whether it shows what the camera sees.

A UVC webcam shows up as several /dev/video nodes: one captures images, the others carry
metadata. `v4l2-ctl --info` says which: the node's own "Device Caps" list "Video Capture". The
frame is taken in YUYV 4:2:2 at 160x120, which nearly every UVC camera gives at small sizes
(their MJPG would need a JPEG decoder), after a few frames skipped so the camera's automatic
exposure has settled.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent import runner
from agent.runner import CommandNotFound, CommandRecord, Runner

WIDTH, HEIGHT = 160, 120
PIXEL_FORMAT = "YUYV"
SKIP_FRAMES = 8  # about a third of a second at 25 frames a second
CAPTURE_TIMEOUT_SECONDS = 20

# The console's 16 colours as the VGA palette draws them (the Linux console's default), in ANSI
# order: the colour of each cell is the nearest of these.
PALETTE = (
    (0, 0, 0), (170, 0, 0), (0, 170, 0), (170, 85, 0), (0, 0, 170), (170, 0, 170),
    (0, 170, 170), (170, 170, 170), (85, 85, 85), (255, 85, 85), (85, 255, 85),
    (255, 255, 85), (85, 85, 255), (255, 85, 255), (85, 255, 255), (255, 255, 255))


@dataclass(frozen=True)
class Camera:
    device: str  # "/dev/video0"
    name: str  # as the driver names it: "Integrated_Webcam_HD: Integrate"


@dataclass(frozen=True)
class CameraDetection:
    cameras: tuple[Camera, ...] = ()
    tools_missing: bool = False  # v4l-utils is not installed
    evidence: tuple[CommandRecord, ...] = field(default=())


def video_nodes(sysfs_root: str | Path = "/sys") -> list[tuple[str, str]]:
    """Each /dev/video node with its name, from /sys/class/video4linux, in number order."""
    nodes = []
    folder = Path(sysfs_root) / "class" / "video4linux"
    for node in folder.glob("video*"):
        number = node.name.removeprefix("video")
        if not number.isdigit():
            continue
        try:
            name = (node / "name").read_text(errors="replace").strip()
        except OSError:
            name = ""
        nodes.append((int(number), f"/dev/{node.name}", name))
    return [(device, name) for _number, device, name in sorted(nodes)]


def device_caps(info: str) -> set[str]:
    """The capabilities of the node itself ("Device Caps" of `v4l2-ctl --info`); the device's
    ("Capabilities") when an old driver gives no per-node list."""
    sections: dict[str, set[str]] = {}
    current: str | None = None
    indent = 0
    for line in info.splitlines():
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        key, colon, _value = stripped.partition(":")
        if colon and key.strip() in ("Capabilities", "Device Caps"):
            current, indent = key.strip(), depth
            sections.setdefault(current, set())
        elif current is not None and stripped and depth > indent and not colon:
            sections[current].add(stripped)
        else:
            current = None
    return sections.get("Device Caps", sections.get("Capabilities", set()))


def captures_video(info: str) -> bool:
    return "Video Capture" in device_caps(info)


def find_cameras(run: Runner = runner.run, sysfs_root: str | Path = "/sys") -> CameraDetection:
    """The video nodes that capture images."""
    cameras: list[Camera] = []
    records: list[CommandRecord] = []
    for device, name in video_nodes(sysfs_root):
        try:
            record = run(["v4l2-ctl", "-d", device, "--info"], timeout=15)
        except CommandNotFound:
            return CameraDetection(tuple(cameras), tools_missing=True, evidence=tuple(records))
        records.append(record)
        if record.returncode == 0 and captures_video(record.stdout):
            cameras.append(Camera(device, name or card_type(record.stdout) or device))
    return CameraDetection(tuple(cameras), evidence=tuple(records))


def card_type(info: str) -> str | None:
    match = re.search(r"^\s*Card type\s*:\s*(.+?)\s*$", info, re.MULTILINE)
    return match.group(1) if match else None


# --- The frame -----------------------------------------------------------------------------


class CaptureFailed(Exception):
    """No frame: the reason in the command's own words where it gave them."""


@dataclass(frozen=True)
class Frame:
    """One YUYV 4:2:2 frame: two pixels in four bytes, Y0 U Y1 V."""

    width: int
    height: int
    data: bytes
    stride: int = 0  # bytes per line; 0: width * 2

    def __post_init__(self) -> None:
        if self.width < 2 or self.height < 1 or len(self.data) < self.line_bytes * self.height:
            raise ValueError(f"a {self.width}x{self.height} YUYV frame needs "
                             f"{self.line_bytes * self.height} bytes, not {len(self.data)}")

    @property
    def line_bytes(self) -> int:
        return self.stride or self.width * 2

    def rgb(self, x: int, y: int) -> tuple[int, int, int]:
        """The pixel's colour (ITU-R BT.601, limited range, as UVC cameras send it)."""
        pair = y * self.line_bytes + (x // 2) * 4
        luma = self.data[pair + (2 if x % 2 else 0)]
        blue_difference, red_difference = self.data[pair + 1] - 128, self.data[pair + 3] - 128
        scaled = 1.164 * (luma - 16)
        return (_byte(scaled + 1.596 * red_difference),
                _byte(scaled - 0.392 * blue_difference - 0.813 * red_difference),
                _byte(scaled + 2.017 * blue_difference))


def _byte(value: float) -> int:
    return max(0, min(255, round(value)))


Capture = Callable[[Camera], Frame]

_SIZE = re.compile(r"Width/Height\s*:\s*(\d+)/(\d+)")
_FORMAT = re.compile(r"Pixel Format\s*:\s*'(\w+)'")
_STRIDE = re.compile(r"Bytes per Line\s*:\s*(\d+)")


def capture_command(device: str, path: str) -> list[str]:
    """v4l2-ctl(1): the format is asked for, then read back (the driver may give another size
    or format), then frames are streamed by mmap and the one after the skipped ones written."""
    return ["v4l2-ctl", "-d", device,
            f"--set-fmt-video=width={WIDTH},height={HEIGHT},pixelformat={PIXEL_FORMAT}",
            "--get-fmt-video", "--stream-mmap", f"--stream-skip={SKIP_FRAMES}",
            "--stream-count=1", f"--stream-to={path}"]


def capture_frame(camera: Camera, run: Runner = runner.run) -> Frame:
    """One frame from `camera`; `CaptureFailed` says why there is none."""
    with tempfile.TemporaryDirectory(prefix="reeeboot-camera-") as folder:
        path = Path(folder) / "frame.yuyv"
        try:
            record = run(capture_command(camera.device, str(path)),
                         timeout=CAPTURE_TIMEOUT_SECONDS)
        except CommandNotFound as missing:
            raise CaptureFailed(f"{missing.program}: not installed") from missing
        data = path.read_bytes() if path.exists() else b""
    return frame_from(record, data)


def frame_from(record: CommandRecord, data: bytes) -> Frame:
    """The frame the capture command wrote, in the format it reported."""
    if record.returncode != 0:
        raise CaptureFailed(_last_line(record.stderr) or _last_line(record.stdout)
                            or f"v4l2-ctl: exit status {record.returncode}")
    pixel_format = _FORMAT.search(record.stdout)
    if pixel_format and pixel_format.group(1) != PIXEL_FORMAT:
        raise CaptureFailed(f"the camera gives no {PIXEL_FORMAT} images, only "
                            f"{pixel_format.group(1)}")
    size = _SIZE.search(record.stdout)
    width, height = (int(size.group(1)), int(size.group(2))) if size else (WIDTH, HEIGHT)
    stride_match = _STRIDE.search(record.stdout)
    stride = int(stride_match.group(1)) if stride_match else 0
    if not data:
        raise CaptureFailed("the camera sent no image")
    try:
        return Frame(width, height, data, stride)
    except ValueError as error:
        raise CaptureFailed(str(error)) from error


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- The frame on the console ----------------------------------------------------------------

Cell = tuple[int, int]  # the palette colours of its upper and lower half (drawn as "▀")


def fitted_size(width: int, height: int, columns: int, rows: int) -> tuple[int, int]:
    """The cells a `width` x `height` image fills within `columns` x `rows`, its proportions
    kept: a cell is about twice as tall as wide, so each holds two square pixels, one above
    the other."""
    pixel_rows = rows * 2
    if width * pixel_rows >= columns * height:  # as wide as it can be
        fitted_columns, fitted_pixel_rows = columns, max(2, round(columns * height / width))
    else:
        fitted_columns, fitted_pixel_rows = max(1, round(pixel_rows * width / height)), pixel_rows
    return fitted_columns, max(1, fitted_pixel_rows // 2)


def render_frame(frame: Frame, columns: int = 76, rows: int = 19) -> list[list[Cell]]:
    """The frame as rows of cells: each pixel of the reduced image is the average of the
    frame's pixels it covers, drawn in the nearest of the 16 colours."""
    fitted_columns, fitted_rows = fitted_size(frame.width, frame.height, columns, rows)
    pixel_rows = fitted_rows * 2
    image = [[_nearest(_average(frame, column, pixel_row, fitted_columns, pixel_rows))
              for column in range(fitted_columns)] for pixel_row in range(pixel_rows)]
    return [[(image[2 * row][column], image[2 * row + 1][column])
             for column in range(fitted_columns)] for row in range(fitted_rows)]


def _average(frame: Frame, column: int, row: int, columns: int,
             rows: int) -> tuple[float, float, float]:
    left, right = column * frame.width // columns, (column + 1) * frame.width // columns
    top, bottom = row * frame.height // rows, (row + 1) * frame.height // rows
    xs = range(left, max(right, left + 1))
    ys = range(top, max(bottom, top + 1))
    pixels = [frame.rgb(x, y) for y in ys for x in xs]
    count = len(pixels)
    return (sum(pixel[0] for pixel in pixels) / count, sum(pixel[1] for pixel in pixels) / count,
            sum(pixel[2] for pixel in pixels) / count)


def _nearest(colour: tuple[float, float, float]) -> int:
    red, green, blue = colour
    return min(range(len(PALETTE)), key=lambda index: (PALETTE[index][0] - red) ** 2
               + (PALETTE[index][1] - green) ** 2 + (PALETTE[index][2] - blue) ** 2)
