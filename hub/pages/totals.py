"""The workshop's totals: machines per month, methods, the environmental impact of reuse."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from hub import views
from hub.deps import HubDep, Session, workshop_scope
from hub.pages.render import language, page
from hub.web import page_gettext

router = APIRouter(include_in_schema=False)


@router.get("/totals", response_class=HTMLResponse)
def totals_page(request: Request, hub: HubDep, session: Session) -> HTMLResponse:
    _ = page_gettext(language(request))
    totals = views.totals(hub.store.report_summaries(workshop_scope(session.person)))
    return page(request, "totals.html", session, totals=totals,
                month_chart=views.bar_chart(totals.per_month, _("Machines per month")),
                method_chart=views.bar_chart(totals.methods, _("Erasure methods")),
                co2=views.CO2_KG_PER_MACHINE, water=views.WATER_L_PER_MACHINE,
                ore=views.ORE_KG_PER_MACHINE)
