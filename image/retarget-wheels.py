#!/usr/bin/env python3
"""Make a wheel directory installable by the image's CPython 3.13 on x86-64 Linux.

    retarget-wheels.py WHEEL_DIR

image/build.sh runs `pip wheel` with the build machine's Python. When that is not 3.13 (Debian
12 has 3.11), the binary wheels in WHEEL_DIR are for the wrong interpreter: each is replaced by
the CPython 3.13 wheel of the same version from the package index. Pure-Python wheels, including
those pip built from source-only releases, fit any Python 3 and stay.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pip._vendor.packaging.tags import Tag
from pip._vendor.packaging.utils import parse_wheel_filename

TARGET_MINOR = 13  # Debian 13's Python
TARGET_GLIBC_MINOR = 41  # Debian 13's glibc
# Every manylinux level up to the image's glibc, and the old names of the first ones.
PLATFORMS = [
    *(f"manylinux_2_{minor}" for minor in range(TARGET_GLIBC_MINOR, 4, -1)),
    "manylinux2014", "manylinux2010", "manylinux1",
]


def fits(tag: Tag) -> bool:
    if tag.abi == "none" and tag.platform == "any":
        return tag.interpreter.startswith("py3") or tag.interpreter == f"cp3{TARGET_MINOR}"
    if not tag.platform.endswith("x86_64") or not tag.interpreter.startswith("cp3"):
        return False
    if tag.abi == "abi3":
        return int(tag.interpreter[3:]) <= TARGET_MINOR
    return tag.interpreter == tag.abi == f"cp3{TARGET_MINOR}"


def main() -> int:
    wheels = Path(sys.argv[1])
    for wheel in sorted(wheels.glob("*.whl")):
        name, version, _, tags = parse_wheel_filename(wheel.name)
        if any(fits(tag) for tag in tags):
            continue
        print(f"retarget-wheels: {wheel.name} -> CPython 3.{TARGET_MINOR}", file=sys.stderr)
        wheel.unlink()
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--dest", str(wheels), "--only-binary=:all:",
                "--python-version", f"3.{TARGET_MINOR}", "--implementation", "cp",
                "--abi", f"cp3{TARGET_MINOR}", "--abi", "abi3", "--abi", "none",
                *[arg for p in PLATFORMS for arg in ("--platform", f"{p}_x86_64")],
                f"{name}=={version}",
            ],
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
