"""Translations: every string a person reads goes through `_()`.

English is the source language; French is the default for the workshops. Catalogs are compiled
`.mo` files under agent/locale, kept in step with their `.po` sources by the tests.
"""

from __future__ import annotations

import gettext
from pathlib import Path

DOMAIN = "reeeboot"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = DEFAULT_LANGUAGE
# How numbers are written, per language: the decimal mark, and what groups thousands. French
# groups with a space (a plain one: the console's font has no narrow no-break space).
_DECIMAL_MARK = {"fr": ",", "en": "."}
_THOUSANDS = {"fr": " ", "en": ","}


def set_language(language: str) -> None:
    global _translation, _language
    _translation = gettext.translation(
        DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True
    )
    _language = language


def _(message: str) -> str:
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Marks a string for translation where it is defined; `_()` translates it when shown."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    return _translation.ngettext(singular, plural, count)


class LocalNumber(float):
    """A number that formats itself in the screen's language: f"{LocalNumber(3.75):.1f}" is
    "3,8" in French, so translated messages keep their format specifications."""

    def __format__(self, spec: str) -> str:
        return _localize(float.__format__(self, spec))


class LocalWords(tuple[str, ...]):
    """A list in a message: words (message ids, translated where shown) and names (a disk's path,
    which no catalog knows and so stays as it is), joined with ", ". Formatted directly it is the
    English list, as a report's text keeps it; `translated()` is the screen's."""

    def __str__(self) -> str:
        return ", ".join(self)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def translated(self) -> str:
        return ", ".join(_(word) for word in self)


def _localize(text: str) -> str:
    marks = {ord(","): _THOUSANDS.get(_language, ","), ord("."): _DECIMAL_MARK.get(_language, ".")}
    return text.translate(marks)


def number(value: float, decimals: int = 0) -> str:
    """`value` as the language writes it: "8,0" and "1 234" in French, "8.0" and "1,234" in
    English."""
    return _localize(f"{value:,.{decimals}f}")


set_language(DEFAULT_LANGUAGE)


def translator(language: str) -> gettext.NullTranslations:
    """A catalog for one request or one screen, without touching the process-wide language."""
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)
