"""The hub's pages for people: sign-in, live view, reports, passports, certificates, totals,
stations; one router per area.

Server-rendered (jinja2), usable without JavaScript; French by default, English on request.
Every form that changes something carries the session's CSRF token (hub/deps.py)."""
