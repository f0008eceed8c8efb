"""The translatable strings of the hub's jinja2 templates, as a gettext template (.pot).

Templates mark strings as `_("...")` (jinja2's i18n extension); this finds them so that
`tools/catalogs` merges them with the strings xgettext finds in the Python code.
Run: python -m hub.template_strings OUTPUT.pot
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
_MARKED = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*[,)]""")


def template_msgids(directory: Path = TEMPLATES) -> dict[str, list[str]]:
    """msgid -> ["file:line", ...] for every marked string."""
    found: dict[str, list[str]] = {}
    for path in sorted(directory.glob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for double, single in _MARKED.findall(line):
                text = (double or single).replace('\\"', '"').replace("\\'", "'")
                found.setdefault(text, []).append(f"hub/templates/{path.name}:{number}")
    return found


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pot_text(msgids: dict[str, list[str]]) -> str:
    entries = ['msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n']
    for msgid in sorted(msgids):
        entries.append(f"msgid {_quoted(msgid)}\nmsgstr \"\"\n")
    return "\n".join(entries)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    Path(arguments[0]).write_text(pot_text(template_msgids()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
