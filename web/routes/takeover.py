"""Advisors take conversations over (issue 11, section 5): the live queue of their
territories, one conversation with its history, replies, hand back, duty.

Thin handlers: the rules are in :mod:`akto_data.takeover.core`. The queue and the
conversation are polled by htmx (every 3 s and 2 s): new requests and the young
person's messages appear without reloading the page; the queue's poll also tells
the core that the advisor is there (presence, for "de permanence").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatTerritory
from akto_data.models import utcnow
from akto_data.staff import audit
from akto_data.takeover import core
from akto_data.takeover.models import TakeoverRequest
from web.app import page
from web.security import User, require, unit_of_work

router = APIRouter(prefix="/conseiller")
# Every handler's unit of work ends *before* the response goes out (scope="function"): with
# FastAPI's default the commit runs after the response, so the page a redirect leads to
# could be read before the change it shows was committed (seen: "Prendre" still offered
# after taking over).

REASONS = {core.ASKED: "a demandé un conseiller", core.FALLBACK: "deux messages non compris de suite"}
CLOSED_BY = {"advisor": "rendue à l'assistant par le conseiller", "young": "le jeune a tapé /annuler",
             "silence": "sans nouvelles depuis un moment : l'assistant a repris la main",
             "dismissed": "classée sans réponse"}
SENDERS = {core.YOUNG: "Jeune", "assistant": "Assistant", core.ADVISOR: "Conseiller", core.SYSTEM: "Message auto"}


def advisor_of(user: User) -> core.Advisor:
    return core.Advisor(user.id, user.name, user.role, user.territories)


def _places(session: Session) -> dict[str, CatTerritory]:
    return {place.id: place for place in session.scalars(select(CatTerritory))}


def _local(moment: datetime | None, place: CatTerritory | None) -> str:
    """``14:05`` in the territory's time zone (UTC when unknown), ``30/11 14:05`` on another day."""
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    zone = ZoneInfo(place.timezone) if place else UTC
    local, today = moment.astimezone(zone), utcnow().astimezone(zone).date()
    shown = f"{local:%H:%M}" if local.date() == today else f"{local:%d/%m %H:%M}"
    return shown if place else f"{shown} UTC"


def _row(request: TakeoverRequest, places: dict[str, CatTerritory]) -> dict[str, Any]:
    place = places.get(request.territory or "")
    return {"id": request.id, "state": request.state, "reason": REASONS.get(request.reason, request.reason),
            "territory": place.name if place else "territoire inconnu", "at": _local(request.requested_at, place),
            "advisor": request.advisor_name, "advisor_id": request.advisor_id,
            "closed": CLOSED_BY.get(request.closed_by or "", "")}


def _queue_context(session: Session, user: User) -> dict[str, Any]:
    places = _places(session)
    rows = [_row(request, places) for request in core.queue(session, advisor_of(user))]
    return {"rows": rows, "waiting": sum(1 for r in rows if r["state"] == core.WAITING)}


@router.get("")
async def queue_page(request: Request, user: User = Depends(require("advisor")),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    on_duty = core.mark_present(session, user.id, utcnow())
    return page(request, "takeover_queue.html", user, on_duty=on_duty, error=None, **_queue_context(session, user))


@router.get("/file")
async def queue_rows(request: Request, user: User = Depends(require("advisor")),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    core.mark_present(session, user.id, utcnow())
    return page(request, "_takeover_rows.html", user, **_queue_context(session, user))


@router.post("/permanence")
async def duty(on: str = Form("0"), user: User = Depends(require("advisor")),
               session: Session = Depends(unit_of_work, scope="function")) -> Response:
    before = core.set_duty(session, user.id, on == "1", utcnow())
    if before != (on == "1"):
        audit.record(session, user.email, "takeover.duty", f"account:{user.id}", {"on_duty": before},
                     {"on_duty": on == "1"})
    return RedirectResponse("/conseiller", status_code=303)


def _refused(request: Request, user: User, session: Session, error: str) -> Response:
    on_duty = core.mark_present(session, user.id, utcnow())
    return page(request, "takeover_queue.html", user, status_code=409, on_duty=on_duty, error=error,
                **_queue_context(session, user))


@router.post("/{request_id}/prendre")
async def take(request: Request, request_id: int, user: User = Depends(require("advisor")),
               session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        taken = core.take(session, request_id, advisor_of(user))
    except core.TakeoverError as exc:
        return _refused(request, user, session, str(exc))
    audit.record(session, user.email, "takeover.take", f"takeover:{taken.id}", {"state": core.WAITING},
                 {"state": core.ACTIVE, "advisor": user.email})
    return RedirectResponse(f"/conseiller/{request_id}", status_code=303)


@router.post("/{request_id}/classer")
async def dismiss(request: Request, request_id: int, user: User = Depends(require("advisor")),
                  session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        core.dismiss(session, request_id, advisor_of(user))
    except core.TakeoverError as exc:
        return _refused(request, user, session, str(exc))
    audit.record(session, user.email, "takeover.dismiss", f"takeover:{request_id}", {"state": core.WAITING},
                 {"state": core.CLOSED})
    return RedirectResponse("/conseiller", status_code=303)


@router.post("/{request_id}/rendre")
async def hand_back(request: Request, request_id: int, user: User = Depends(require("advisor")),
                    session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        core.hand_back(session, request_id, advisor_of(user))
    except core.TakeoverError as exc:
        return _refused(request, user, session, str(exc))
    audit.record(session, user.email, "takeover.hand_back", f"takeover:{request_id}", {"state": core.ACTIVE},
                 {"state": core.CLOSED})
    return RedirectResponse(f"/conseiller/{request_id}", status_code=303)


def _conversation(session: Session, user: User, request_id: int) -> dict[str, Any]:
    """What the conversation page and its poll show; ``gone`` when erased or not visible."""
    try:
        found = core.get_visible(session, request_id, advisor_of(user))
    except core.TakeoverError as exc:
        return {"gone": str(exc), "request_id": request_id}
    places = _places(session)
    place = places.get(found.territory or "")
    lines = [{"sender": line.sender, "who": SENDERS.get(line.sender, line.sender), "text": line.text,
              "at": _local(line.at, place), "failed": line.delivery == core.FAILED,
              "pending": line.delivery in (core.PENDING, core.SENDING)}
             for line in core.transcript(session, found)]
    mine = found.state == core.ACTIVE and found.advisor_id == user.id
    return {"gone": None, "request_id": request_id, "item": _row(found, places), "lines": lines, "mine": mine}


@router.get("/{request_id}")
async def conversation(request: Request, request_id: int, user: User = Depends(require("advisor")),
                       session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return page(request, "takeover_chat.html", user, text="", error=None,
                **_conversation(session, user, request_id))


@router.get("/{request_id}/fil")
async def transcript(request: Request, request_id: int, user: User = Depends(require("advisor")),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return page(request, "_takeover_transcript.html", user, **_conversation(session, user, request_id))


@router.post("/{request_id}/repondre")
async def reply(request: Request, request_id: int, text: str = Form(""), user: User = Depends(require("advisor")),
                session: Session = Depends(unit_of_work, scope="function")) -> Response:
    htmx = bool(request.headers.get("hx-request"))
    try:
        core.reply(session, request_id, advisor_of(user), text)
    except core.TakeoverError as exc:
        if htmx:  # the form comes back with the text kept and the reason next to it
            return page(request, "_takeover_reply.html", user, request_id=request_id, text=text, error=str(exc))
        return page(request, "takeover_chat.html", user, status_code=422, text=text, error=str(exc),
                    **_conversation(session, user, request_id))
    if htmx:
        response = page(request, "_takeover_reply.html", user, request_id=request_id, text="", error=None)
        response.headers["HX-Trigger"] = "transcript-refresh"
        return response
    return RedirectResponse(f"/conseiller/{request_id}", status_code=303)
