"""The OS images a hub offers to stations: NAME_VERSION.* files with a manifest beside each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ImageShelf:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def manifests(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted(self.directory.glob("*.manifest.json")):
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # a manifest being written or broken: not offered
            if isinstance(manifest, dict) and self.file(str(manifest.get("file", ""))):
                found.append(manifest)
        return found

    def file(self, name: str) -> Path | None:
        """The file by its bare name, never a path outside the folder."""
        if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
            return None
        path = self.directory / name
        return path if path.is_file() else None
