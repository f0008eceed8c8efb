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


def set_language(language: str) -> None:
    global _translation
    _translation = gettext.translation(
        DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True
    )


def _(message: str) -> str:
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Marks a string for translation where it is defined; `_()` translates it when shown."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    return _translation.ngettext(singular, plural, count)


set_language(DEFAULT_LANGUAGE)


def translator(language: str) -> gettext.NullTranslations:
    """A catalog for one request or one screen, without touching the process-wide language."""
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)
