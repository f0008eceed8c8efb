"""The OS images image/build.sh made (out/os/), for the tests that install them."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.install.image import OsImage, image_from_path, read_manifest

OS_DIR = Path(__file__).resolve().parent.parent / "out" / "os"


def built_os_image(name: str = "reeeboot-os-minimal") -> OsImage:
    """The newest built image called `name`; its absence fails the test (build it first)."""
    manifests = sorted(OS_DIR.glob(f"{name}_*.manifest.json"))
    if not manifests:
        profile = name.removeprefix("reeeboot-os-")
        pytest.fail(f"no {name} image in {OS_DIR}: build it with "
                    f"image/build.sh --os {profile} (--os-only to leave the stick as it is)")
    manifest = read_manifest(manifests[-1])
    return image_from_path(OS_DIR / manifest.file, source="file", manifest=manifest)

