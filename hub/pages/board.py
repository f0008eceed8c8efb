"""The live board: every machine of a workshop with news in the last 12 hours, one small tile
each, for a screen on the workshop's wall (docs/netboot.md, "The live board").

The page updates its tiles every 2 s without reloading where JavaScript runs (/static/board.js
fetches /board/tiles, the tiles alone); without it the page reloads itself every 5 s, and
`?pause=1` stops that while a person ticks machines. On the ticked machines: arm unattended
erasure (network-booted machines only), power off at the end or not; and "arm the next N
machines to start". A workshop's person sees their own workshop's board, an administrator
chooses the workshop.

Above the tiles, in the same fragment so that it updates with them, "Asking to join": the
machines of a boot service that asks for approval, each with "Accept" and "Refuse" (their
buttons belong to a form of their own, outside the ticked machines' form, with the CSRF token).
"""

from __future__ import annotations

import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub import arming as bounds
from hub import audit
from hub.board_view import duration_text, silent_after, tile
from hub.deps import CheckedForm, HubDep, Session, SignedIn, clean
from hub.models import ROLE_ADMIN, STATION_KIND_NETBOOTED
from hub.pages.render import language, not_found, page
from hub.web import page_gettext, page_ngettext

BOARD_WINDOW = datetime.timedelta(hours=12)
SCRIPT = Path(__file__).parents[1] / "static" / "board.js"

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form()]


def _workshop(hub: HubDep, session: SignedIn, named: str | None) -> tuple[int, str] | None:
    """The board's workshop: a workshop account's own (None when it names another, answered
    as if there were none), or the one an administrator names (None when unknown)."""
    person = session.person
    if person.role != ROLE_ADMIN:
        if person.workshop_id is None or person.workshop_name is None \
                or named not in (None, "", person.workshop_name):
            return None
        return person.workshop_id, person.workshop_name
    found = hub.store.workshop_id(named) if named else None
    return (found, str(named)) if found is not None else None


def _tiles(request: Request, hub: HubDep, workshop_id: int) -> list[dict[str, Any]]:
    now = datetime.datetime.now(datetime.UTC)
    gettext, silent = page_gettext(language(request)), silent_after()
    return [tile(machine, now, gettext, silent)
            for machine in hub.store.board_machines(workshop_id, now - BOARD_WINDOW)]


def _joins(request: Request, hub: HubDep, workshop_id: int) -> list[dict[str, Any]]:
    """The machines asking to join, as the board lists them. What the machine sent (its
    addresses, UUID, station name) is shown as it came: the template escapes it."""
    now = datetime.datetime.now(datetime.UTC)
    _ = page_gettext(language(request))
    return [{"id": asking.id, "station": asking.station, "mac": asking.mac,
             "uuid": asking.uuid, "ip": asking.ip, "ip_seen": asking.ip_seen,
             "asked": _("{duration} ago").format(duration=duration_text(
                 (now - asking.asked_at).total_seconds(), _))}
            for asking in hub.store.join_requests(workshop_id)]


def _board(request: Request, hub: HubDep, session: SignedIn, workshop: tuple[int, str], *,
           paused: bool, status: int = 200, message: str | None = None,
           error: str | None = None, ticked: frozenset[str] = frozenset(),
           minutes: str = str(bounds.DEFAULT_MINUTES)) -> HTMLResponse:
    workshop_id, name = workshop
    query = {"workshop": name} if session.person.role == ROLE_ADMIN else {}
    chosen = language(request)
    gettext, now = page_gettext(chosen), datetime.datetime.now(datetime.UTC)
    armings = [{**arming, "text": _arming_text(arming, page_ngettext(chosen)),
                "ends_in": duration_text((arming["expires_at"] - now).total_seconds(), gettext,
                                         minutes_at_least=True)}
               for arming in hub.store.active_armings(workshop_id)]
    return page(request, "board.html", session, status, workshop=name,
                tiles=_tiles(request, hub, workshop_id), armings=armings,
                joins=_joins(request, hub, workshop_id),
                paused=paused, message=message, error=error,
                ticked=ticked, minutes=minutes, most_machines=bounds.MOST_MACHINES,
                longest_minutes=bounds.LONGEST_MINUTES,
                workshop_query=urlencode(query),
                source="/board/tiles" + (f"?{urlencode(query)}" if query else ""))


def _arming_text(arming: dict[str, Any], ngettext: Any) -> str:
    if arming["next_count"] is None:
        return str(ngettext("Armed: {count} listed machine", "Armed: {count} listed machines",
                            arming["machines"])).format(count=arming["machines"])
    return str(ngettext("Armed: the next {count} machine to start ({remaining} still to come)",
                        "Armed: the next {count} machines to start ({remaining} still to come)",
                        arming["next_count"])).format(count=arming["next_count"],
                                                      remaining=arming["remaining"])


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, hub: HubDep, session: Session) -> HTMLResponse:
    named = clean(request.query_params.get("workshop"))
    if session.person.role == ROLE_ADMIN and not named:
        return page(request, "board.html", session, workshops=hub.store.workshops(),
                    workshop=None)
    workshop = _workshop(hub, session, named)
    if workshop is None:
        return not_found(request, session)
    return _board(request, hub, session, workshop,
                  paused=request.query_params.get("pause") == "1",
                  message=_done_message(request))


@router.get("/board/tiles", response_class=HTMLResponse)
def board_tiles(request: Request, hub: HubDep, session: Session) -> HTMLResponse:
    """The tiles alone, as /static/board.js swaps them in."""
    workshop = _workshop(hub, session, clean(request.query_params.get("workshop")))
    if workshop is None:
        return not_found(request, session)
    return page(request, "_board_tiles.html", session, tiles=_tiles(request, hub, workshop[0]),
                joins=_joins(request, hub, workshop[0]), ticked=frozenset())


@router.get("/static/board.js")
def board_script() -> Response:
    return Response(_script(), media_type="text/javascript; charset=utf-8")


@cache
def _script() -> bytes:
    return SCRIPT.read_bytes()


def _done_message(request: Request) -> str | None:
    """What the action before the redirect did, said from its code and numbers (never text
    from the address, which anyone can write into a link)."""
    chosen = language(request)
    _, ngettext = page_gettext(chosen), page_ngettext(chosen)
    done = request.query_params.get("done")
    count, minutes = (_small_number(request.query_params.get(name)) for name in
                      ("count", "minutes"))
    if done == "ended":
        return str(_("The arming was ended: no machine is offered it any more."))
    if done == "join_accepted":
        return str(_("The machine was accepted: it joins the workshop the next time it asks, "
                     "within seconds."))
    if done == "join_refused":
        return str(_("The machine was refused: it does not join the workshop, and its screen "
                     "says so."))
    if count is None:
        return None
    if done == "armed" and minutes is not None:
        return str(ngettext("{count} machine armed for unattended erasure, for {minutes} "
                            "minutes.", "{count} machines armed for unattended erasure, for "
                            "{minutes} minutes.", count)).format(count=count, minutes=minutes)
    if done == "armed_next" and minutes is not None:
        return str(ngettext("The next {count} machine to start is armed for unattended "
                            "erasure, for {minutes} minutes.", "The next {count} machines to "
                            "start are armed for unattended erasure, for {minutes} minutes.",
                            count)).format(count=count, minutes=minutes)
    if done == "power_off":
        return str(ngettext("{count} machine will power off at the end.",
                            "{count} machines will power off at the end.", count)
                   ).format(count=count)
    if done == "stay_on":
        return str(ngettext("{count} machine will stay on at the end.",
                            "{count} machines will stay on at the end.", count)
                   ).format(count=count)
    return None


def _small_number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) <= 6 else None


def _back(workshop: tuple[int, str], session: SignedIn, **done: object) -> RedirectResponse:
    query = {"workshop": workshop[1]} if session.person.role == ROLE_ADMIN else {}
    return RedirectResponse(f"/board?{urlencode({**query, **done})}", 303)


def _minutes(text: str) -> int:
    """The minutes a form asks for; ArmingProblem for anything but 1 to 720."""
    value = text.strip()
    if not value.isdigit() or len(value) > 6:
        raise bounds.ArmingProblem(bounds.MINUTES_PROBLEM)
    bounds.expiry(int(value))
    return int(value)


@router.post("/board/actions", response_class=HTMLResponse)
def board_actions(request: Request, hub: HubDep, session: CheckedForm, action: Text = "",
                  workshop: Text = "", minutes: Text = str(bounds.DEFAULT_MINUTES),
                  stations: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    _ = page_gettext(language(request))
    chosen = _workshop(hub, session, clean(workshop))
    if chosen is None:
        return not_found(request, session)
    names = list(dict.fromkeys(clean(name) or "" for name in stations))
    ticked = frozenset(names)

    def refused(error: str) -> HTMLResponse:
        # The board again, paused, with the same boxes ticked: the person corrects and sends.
        return _board(request, hub, session, chosen, paused=True, status=422, error=error,
                      ticked=ticked, minutes=clean(minutes) or "")

    if not names:
        return refused(_("Tick at least one machine first."))
    found = hub.store.board_stations(names)
    strangers = [name for name in names
                 if name not in found or found[name].workshop_id != chosen[0]]
    if strangers:
        return refused(_("Not a machine of this workshop: {stations}").format(
            stations=", ".join(strangers)))
    if action in ("power_off", "stay_on"):
        count = hub.store.set_power_off_at_end(chosen[0], names, action == "power_off")
        audit.record("power_off_at_end_set", request, person=session.person.email,
                     workshop=chosen[1], stations=names, value=action == "power_off")
        return _back(chosen, session, done=action, count=count)
    if action != "arm":
        return refused(_("Choose what to do with the ticked machines."))
    sticks = [name for name in names if found[name].kind != STATION_KIND_NETBOOTED]
    if sticks:
        return refused(_("Only machines started from the network are armed here; these "
                         "started otherwise (a stick has its own unattended switch, in its "
                         "settings): {stations}").format(stations=", ".join(sticks)))
    unknown = [name for name in names if found[name].mac is None]
    if unknown:
        return refused(_("The hub does not know which network card these machines started "
                         "from: {stations}").format(stations=", ".join(unknown)))
    try:
        asked = _minutes(minutes)
        macs = [str(found[name].mac) for name in names]
        arming_id = hub.store.arm_machines(chosen[0], macs, bounds.expiry(asked),
                                           session.person.email)
    except bounds.ArmingProblem as problem:
        return refused(problem.text(_))
    audit.record("unattended_armed", request, person=session.person.email, workshop=chosen[1],
                 arming=arming_id, stations=names, macs=macs, minutes=asked)
    return _back(chosen, session, done="armed", count=len(macs), minutes=asked)


@router.post("/board/arm-next", response_class=HTMLResponse)
def arm_next(request: Request, hub: HubDep, session: CheckedForm, workshop: Text = "",
             count: Text = "", minutes: Text = str(bounds.DEFAULT_MINUTES)) -> Response:
    _ = page_gettext(language(request))
    chosen = _workshop(hub, session, clean(workshop))
    if chosen is None:
        return not_found(request, session)
    try:
        value = count.strip()
        if not value.isdigit() or len(value) > 6:
            raise bounds.ArmingProblem(bounds.COUNT_PROBLEM)
        machines = bounds.checked_count(int(value))
        asked = _minutes(minutes)
        arming_id = hub.store.arm_next(chosen[0], machines, bounds.expiry(asked),
                                       session.person.email)
    except bounds.ArmingProblem as problem:
        return _board(request, hub, session, chosen, paused=True, status=422,
                      error=problem.text(_))
    audit.record("unattended_armed", request, person=session.person.email, workshop=chosen[1],
                 arming=arming_id, next=machines, minutes=asked)
    return _back(chosen, session, done="armed_next", count=machines, minutes=asked)


@router.post("/board/armings/{arming_id}/end", response_class=HTMLResponse)
def end_arming(request: Request, arming_id: int, hub: HubDep, session: CheckedForm,
               workshop: Text = "") -> Response:
    chosen = _workshop(hub, session, clean(workshop))
    if chosen is None or not hub.store.end_arming(chosen[0], arming_id):
        return not_found(request, session)
    audit.record("arming_ended", request, person=session.person.email, workshop=chosen[1],
                 arming=arming_id)
    return _back(chosen, session, done="ended")


@router.post("/board/joins/{join_id}/{decision}", response_class=HTMLResponse)
def decide_join(request: Request, join_id: int, decision: str, hub: HubDep,
                session: CheckedForm, workshop: Text = "") -> Response:
    """"Accept" or "Refuse" on a machine asking to join: a person of its workshop, or an
    administrator on that workshop's board; another workshop's request is not found."""
    _ = page_gettext(language(request))
    chosen = _workshop(hub, session, clean(workshop))
    if chosen is None or decision not in ("accept", "refuse"):
        return not_found(request, session)
    decided = hub.store.decide_join(chosen[0], join_id, decision == "accept",
                                    session.person.email)
    if decided is None:
        return not_found(request, session)
    outcome, asking = decided
    if outcome == "expired":
        return _board(request, hub, session, chosen, paused=True, status=409, error=_(
            "This machine's boot credential expired before anyone accepted it: it can no "
            "longer join. Start it from the network again to ask again."))
    if outcome == "decided":
        return _board(request, hub, session, chosen, paused=True, status=409, error=_(
            "Someone already accepted or refused this machine."))
    audit.record("boot_join_accepted" if decision == "accept" else "boot_join_refused",
                 request, person=session.person.email, workshop=chosen[1],
                 station=asking.station, mac=asking.mac, uuid=asking.uuid,
                 ip_claimed=asking.ip, ip_seen=asking.ip_seen)
    return _back(chosen, session, done=f"join_{outcome}")
