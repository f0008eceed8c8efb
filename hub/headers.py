"""Security headers on every answer of the hub (OWASP ASVS 14.4), set by the hub itself so that
they hold behind any reverse proxy, or none.

The one script is the hub's own file, the live board's /static/board.js: scripts are allowed
from the hub itself only ('self'), never inline nor eval'd, so text a station or a person sent
can never run as code even if a page forgot to escape it; the script fetches the board's tiles
from the hub ('self' again for connect-src, nothing else). The pages' stylesheets are inline,
and the live views draw their bars with an inline width, hence 'unsafe-inline' for styles only
(CSS cannot run code); images are the page's own or inline SVG (QR codes, charts)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
ALWAYS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
# Everything but the OS images holds what a workshop keeps to itself, or changes at once (the
# live view): never kept by a browser or a shared cache. OS images are public and large.
CACHEABLE_PREFIXES = ("/api/v1/images/files/",)
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(ALWAYS)
        if scope.get("scheme") == "https":  # directly, or as the proxy forwarded it
            extra.append(HSTS)
        if not str(scope.get("path", "")).startswith(CACHEABLE_PREFIXES):
            extra.append(NO_STORE)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(pair for pair in extra if pair[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)
