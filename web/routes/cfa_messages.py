"""The relay of short messages between a CFA and the young person, in the portal's lead page.

An htmx partial (``GET``/``POST /cfa/demandes/{lead_id}/messages``), loaded by the
lead page: the thread (the CFA's messages with their state, the young person's
replies) and the form. Thin handlers: the rules (length, who can still be written
to, ownership) are in :mod:`akto_data.leads.relay`. Another CFA's lead answers 404,
like an unknown one (the portal's one 404 page).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa, CatTerritory
from akto_data.leads import relay
from web.app import templates
from web.routes.cfa_portal import not_found
from web.security import CfaUser, csrf_token, current_cfa, unit_of_work

router = APIRouter(prefix="/cfa/demandes")


def _zone(session: Session, cfa_id: str) -> ZoneInfo:
    """The CFA's time zone, for the times shown (UTC when unknown)."""
    cfa = session.get(CatCfa, cfa_id)
    place = session.get(CatTerritory, cfa.territory) if cfa is not None else None
    return ZoneInfo(place.timezone) if place is not None else ZoneInfo("UTC")


def _render(request: Request, session: Session, cfa: CfaUser, lead_id: int, *, error: str | None = None,
            text: str = "", status_code: int = 200) -> Response:
    found = relay.thread(session, cfa.cfa_id, lead_id)
    if found is None:
        return not_found(request, cfa)
    zone = _zone(session, cfa.cfa_id)

    def shown(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M") if moment else ""

    return templates.TemplateResponse(request, "cfa/_messages.html", {
        "thread": found, "lead_id": lead_id, "error": error, "text": text, "shown": shown,
        "max_length": relay.MAX_LENGTH, "max_unanswered": relay.MAX_UNANSWERED, "max_per_day": relay.MAX_PER_DAY,
        "csrf_token": csrf_token(request), "user": cfa}, status_code=status_code)


@router.get("/{lead_id}/messages")
def messages(request: Request, lead_id: int, cfa: CfaUser = Depends(current_cfa),
                   session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return _render(request, session, cfa, lead_id)


@router.post("/{lead_id}/messages")
def send_message(request: Request, lead_id: int, text: str = Form(""), cfa: CfaUser = Depends(current_cfa),
                       session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        relay.post_cfa_message(session, cfa.cfa_id, lead_id, text)
    except LookupError:
        return not_found(request, cfa)
    except relay.RelayRefused as refused:
        # htmx swaps only 2xx answers by default: the refusal is shown in the form, the text kept.
        return _render(request, session, cfa, lead_id, error=refused.text, text=text)
    return _render(request, session, cfa, lead_id)
