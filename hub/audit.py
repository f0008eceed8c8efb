"""The hub's security log (OWASP ASVS 7.1, 7.2): who signed in or failed to, who was refused,
which station enrolled, rotated or was revoked, which envelopes were refused.

One JSON object a line, so that a value sent by a client (an e-mail address typed into the
sign-in form, a station's name) can never forge or split a line (ASVS 7.3.1). Never a password,
a token or a session cookie (ASVS 7.1.1). `serve` writes it to standard error, which systemd's
journal keeps; the logger is `reeeboot.hub.audit` for anyone embedding the hub.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

from starlette.requests import Request

logger = logging.getLogger("reeeboot.hub.audit")
# Long client-supplied values are cut: a log line is evidence, not storage.
LONGEST_VALUE = 200


def record(event: str, request: Request | None = None, **facts: Any) -> None:
    line: dict[str, Any] = {
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "event": event,
    }
    if request is not None:
        line["address"] = request.client.host if request.client is not None else None
        line["method"], line["path"] = request.method, request.url.path[:LONGEST_VALUE]
    for name, value in facts.items():
        line[name] = value[:LONGEST_VALUE] if isinstance(value, str) else value
    logger.info(json.dumps(line, ensure_ascii=True, default=str))


def send_to_standard_error() -> None:
    """For `serve`: the security log on standard error, once per process."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("reeeboot-hub audit %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
