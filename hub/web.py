"""Rendering the hub's pages: jinja2 templates translated through agent.i18n's catalogs."""

from __future__ import annotations

import contextvars
import gettext
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.i18n import LANGUAGES, translator

_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="fr")


@cache
def _catalog(language: str) -> gettext.NullTranslations:
    return translator(language)


def _gettext(message: str) -> str:
    return _catalog(_language.get()).gettext(message)


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _catalog(_language.get()).ngettext(singular, plural, count)


def page_gettext(language: str) -> Any:
    return _catalog(language).gettext


def page_ngettext(language: str) -> Any:
    return _catalog(language).ngettext


environment = Environment(
    loader=PackageLoader("hub", "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.install_gettext_callables(  # type: ignore[attr-defined]
    _gettext, _ngettext, newstyle=True)


def _result_label(code: Any) -> str:
    from hub.views import RESULT_LABELS, label

    return label(RESULT_LABELS, code, _gettext)


def _step_label(code: Any) -> str:
    from hub.views import STEP_LABELS, label

    return label(STEP_LABELS, code, _gettext)


environment.filters["result_label"] = _result_label
environment.filters["step_label"] = _step_label


def render(name: str, language: str, **context: Any) -> str:
    token = _language.set(language if language in LANGUAGES else "fr")
    try:
        return environment.get_template(name).render(language=language, **context)
    finally:
        _language.reset(token)


def preferred_language(query: str | None, cookie: str | None, header: str) -> str:
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return str(choice)
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "fr"
