"""What went wrong talking to the hub, in words a volunteer understands.

The raw error (an `HTTPConnectionPool(host=...)` line, a traceback) goes to the log; the screen,
the command line and the status lines get one plain sentence saying what to check.
"""

from __future__ import annotations

import logging

import requests

from agent.i18n import _
from agent.report.hubclient import HubError, StationRevoked

log = logging.getLogger(__name__)
MAX_DETAIL = 200  # characters of a hub's own answer quoted in a message


def describe_failure(error: BaseException) -> str:
    """One sentence for `error`, translated; the original is logged."""
    log.warning("hub: %s: %s", type(error).__name__, error)
    if isinstance(error, StationRevoked):
        return str(error)  # already written for people
    if isinstance(error, requests.exceptions.SSLError):
        return _("the secure connection to the platform failed (its certificate is not "
                 "trusted, or this computer's clock is wrong)")
    if isinstance(error, requests.exceptions.Timeout):
        return _("the platform did not answer in time (slow or broken network)")
    if isinstance(error, requests.exceptions.ConnectionError):
        return _("the platform cannot be reached (no network cable, no network address, or "
                 "the platform is stopped)")
    if isinstance(error, HubError):
        detail = " ".join(str(error).split())
        if len(detail) > MAX_DETAIL:
            detail = detail[:MAX_DETAIL - 3] + "..."
        return _("the platform refused it: {detail}").format(detail=detail)
    return " ".join(str(error).split())[:MAX_DETAIL] or type(error).__name__
