"""What can go wrong with an OS image, as typed errors whose message says what to do.

Each message is translated when the error is made, so it is ready for the screen, the log and the
report. `ImageError` is the base the front ends catch.
"""

from __future__ import annotations

from agent.i18n import _


class ImageError(Exception):
    """An image that cannot be installed, or an install that failed; `str()` is for people."""


class BadBmap(ImageError):
    def __init__(self, detail: str) -> None:
        super().__init__(_("The block map (.bmap) cannot be used: {detail}. Rebuild it with "
                           "`bmaptool create` or install the image without it.").format(
                               detail=detail))
        self.detail = detail


class UnsupportedImage(ImageError):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(_("{path} is not an image that can be installed: {detail}.").format(
            path=path, detail=detail))


class CorruptImage(ImageError):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(_("The image {path} is corrupt ({detail}). Copy or download it again; "
                           "nothing usable was left on the disk.").format(path=path,
                                                                           detail=detail))
        self.detail = detail


class TruncatedImage(ImageError):
    def __init__(self, path: str, got: int | None = None, expected: int | None = None) -> None:
        if got is None or expected is None:
            message = _("The image {path} ends too early: it is incomplete. Copy or download it "
                        "again; nothing usable was left on the disk.")
        else:
            message = _("The image {path} ends too early ({got} of {expected} bytes): it is "
                        "incomplete. Copy or download it again; nothing usable was left on the "
                        "disk.")
        super().__init__(message.format(path=path, got=got, expected=expected))
        self.got, self.expected = got, expected


class ChecksumMismatch(ImageError):
    """The data of one mapped range (bytes [start, end)) does not have the expected checksum."""

    def __init__(self, path: str, start: int, end: int, *, on_disk: bool = False) -> None:
        if on_disk:
            message = _("The disk does not hold what was written in bytes {start} to {end}: "
                        "the disk may be failing. Try another disk.")
        else:
            message = _("The image {path} is damaged: bytes {start} to {end} do not have the "
                        "checksum its block map gives. Copy or download it again.")
        super().__init__(message.format(path=path, start=start, end=end))
        self.start, self.end, self.on_disk = start, end, on_disk


class TargetTooSmall(ImageError):
    def __init__(self, target: str, target_size: int, image_size: int) -> None:
        super().__init__(_("The disk {target} ({target_size} bytes) is smaller than the image "
                           "({image_size} bytes). Choose a larger disk.").format(
                               target=target, target_size=target_size, image_size=image_size))
        self.target_size, self.image_size = target_size, image_size


class NoPartitionTable(ImageError):
    def __init__(self, path: str) -> None:
        super().__init__(_("The image {path} has no partition table (GPT or MBR) at its start: "
                           "it is not a whole-disk image and would not boot. Use a disk image, "
                           "not a partition or file system image.").format(path=path))


class WriteFailed(ImageError):
    def __init__(self, target: str, detail: str) -> None:
        super().__init__(_("Writing to {target} failed ({detail}). The disk was left without a "
                           "partition table; check the disk or choose another.").format(
                               target=target, detail=detail))
        self.detail = detail


class InstallCancelled(ImageError):
    def __init__(self, target: str) -> None:
        super().__init__(_("Installation on {target} was stopped. The disk was left without a "
                           "partition table.").format(target=target))


class DownloadFailed(ImageError):
    def __init__(self, url: str, detail: str) -> None:
        super().__init__(_("Downloading {url} failed ({detail}). Check the network and try "
                           "again; the part already downloaded is kept.").format(
                               url=url, detail=detail))
        self.detail = detail


class ImageNotFound(ImageError):
    def __init__(self, name: str) -> None:
        super().__init__(_("No OS image called {name} on the stick or on the hub.").format(
            name=name))


class DownloadCancelled(ImageError):
    def __init__(self, url: str) -> None:
        super().__init__(_("The download of {url} was stopped; the part already downloaded is "
                           "kept and the next try resumes it.").format(url=url))
