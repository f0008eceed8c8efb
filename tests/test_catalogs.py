"""The French and English catalogs cover every UI string and their .mo files are current."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LOCALE = ROOT / "agent" / "locale"


def po_entries(path: Path) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) for a .po file; a plural entry also gives its plural msgid,
    each with every form joined (an empty form leaves an empty string)."""
    entries: dict[str, tuple[str, bool]] = {}
    for block in path.read_text().split("\n\n"):
        msgid = _joined(block, "msgid")
        if not msgid:
            continue
        fuzzy = "#, fuzzy" in block
        plural = _joined(block, "msgid_plural")
        if plural:
            forms = [_joined(block, rf"msgstr\[{index}\]") for index in range(2)]
            translated = "\n".join(forms) if all(forms) else ""
            entries[msgid] = entries[plural] = (translated, fuzzy)
        else:
            entries[msgid] = (_joined(block, "msgstr"), fuzzy)
    return entries


def _joined(block: str, keyword: str) -> str:
    match = re.search(rf'^{keyword} "(.*)"\n?((?:".*"\n?)*)', block, re.MULTILINE)
    if not match:
        return ""
    parts = [match.group(1), *re.findall(r'^"(.*)"$', match.group(2), re.MULTILINE)]
    return "".join(parts).replace('\\"', '"')


def source_msgids(tmp_path: Path) -> set[str]:
    sources = sorted(str(p) for p in [*ROOT.glob("agent/**/*.py"), *ROOT.glob("hub/**/*.py")])
    template = tmp_path / "fresh.pot"
    subprocess.run(
        ["xgettext", "--from-code=UTF-8", "--language=Python", "--keyword=_",
         "--keyword=N_", "--keyword=ngettext:1,2", "-o", str(template), *sources],
        check=True,
    )
    from hub.template_strings import template_msgids

    return set(po_entries(template)) | set(template_msgids())


@pytest.mark.parametrize("language", ["fr", "en"])
def test_catalog_is_complete(language: str, tmp_path: Path) -> None:
    entries = po_entries(LOCALE / language / "LC_MESSAGES" / "reeeboot.po")
    wanted = source_msgids(tmp_path)
    assert wanted - set(entries) == set(), "run tools/catalogs and translate the new strings"
    for msgid in wanted:
        translated, fuzzy = entries[msgid]
        assert translated and not fuzzy, f"{language}: {msgid!r} is not translated"
        assert set(re.findall(r"{\w+", msgid)) == set(re.findall(r"{\w+", translated)), msgid


@pytest.mark.parametrize("language", ["fr", "en"])
def test_compiled_catalog_is_current(language: str, tmp_path: Path) -> None:
    directory = LOCALE / language / "LC_MESSAGES"
    compiled = tmp_path / "reeeboot.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(directory / "reeeboot.po")], check=True)
    assert compiled.read_bytes() == (directory / "reeeboot.mo").read_bytes()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_string_has_glyphs_on_the_linux_console(language: str) -> None:
    # The console's VGA font is code page 437: a character outside it shows as a block.
    entries = po_entries(LOCALE / language / "LC_MESSAGES" / "reeeboot.po")
    for msgid, (translated, _fuzzy) in entries.items():
        try:
            translated.encode("cp437")
        except UnicodeEncodeError as error:
            glyph = error.object[error.start]
            raise AssertionError(f"{language}: {msgid!r} has {glyph!r}") from None


def test_first_boot_questions_are_translated(tmp_path: Path) -> None:
    """The installed OS's first-boot program (a shell script) has its own French catalog."""
    script = Path("image/os/extra/usr/lib/reeeboot-os/firstboot")
    template = tmp_path / "firstboot.pot"
    subprocess.run(["xgettext", "--language=Shell", "--from-code=UTF-8", "--keyword=gettext",
                    "--keyword=eval_gettext", "-o", str(template), str(script)], check=True)
    french = po_entries(Path("image/os/firstboot/fr.po"))
    wanted = set(po_entries(template)) - {""}
    assert wanted, "no strings found in the first-boot program"
    for msgid in wanted:
        assert french.get(msgid, ("", False))[0], f"fr: {msgid!r} is not translated"
        assert set(re.findall(r"\$\w+", msgid)) == set(re.findall(r"\$\w+", french[msgid][0]))
