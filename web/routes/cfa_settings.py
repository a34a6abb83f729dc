"""The CFA portal's settings page (``/cfa/reglages``): delivery addresses, contact details
in the e-mail, webhook and its secret, and the trainings the CFA proposes.

Thin handlers: the rules are in :mod:`akto_data.cfa.settings` and
:mod:`akto_data.cfa.proposals`. A new webhook secret is shown once, in the answer to the
POST that made it (never put in the session cookie, which is signed, not encrypted,
nor in a URL); the page says to copy it now.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from akto_data.cfa import proposals
from akto_data.cfa import settings as cfa_settings
from akto_data.cfa.proposals import ProposalRefused
from akto_data.cfa.settings import SettingsRefused
from web.app import templates
from web.security import CfaUser, csrf_token, current_cfa, unit_of_work

router = APIRouter(prefix="/cfa/reglages")

#: Empty rows offered under the current trainings to add new ones (no script needed).
BLANK_ROWS = 3


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop, so that the handlers themselves can be plain
    ``def`` (run in FastAPI's thread pool: their database session blocks)."""
    return await request.form()


def _render(request: Request, cfa: CfaUser, view: proposals.PortalView, status_code: int = 200,
            **context: Any) -> Response:
    context.setdefault("form", None)
    context.setdefault("rows", [t.as_entry() for t in view.editable])
    context.setdefault("errors", {})
    context.setdefault("training_errors", {})
    context.setdefault("blank_rows", BLANK_ROWS)
    return templates.TemplateResponse(
        request, "cfa/settings.html",
        {"user": cfa, "csrf_token": csrf_token(request), "view": view,
         "levels": proposals.LEVELS, "max_emails": cfa_settings.MAX_EMAILS,
         "overlap_days": cfa_settings.SECRET_OVERLAP.days, **context}, status_code=status_code)


@router.get("")
def settings_page(request: Request, fait: str = "", cfa: CfaUser = Depends(current_cfa),
                        session: Session = Depends(unit_of_work, scope="function")) -> Response:
    return _render(request, cfa, proposals.portal_view(session, cfa.cfa_id), done=fait)


@router.post("")
def save(request: Request, form: FormData = Depends(posted_form), cfa: CfaUser = Depends(current_cfa),
         session: Session = Depends(unit_of_work, scope="function")) -> Response:
    actor = cfa_settings.actor_of(cfa.cfa_id, cfa.email)
    if form.get("action") == "rotate":
        secret = cfa_settings.rotate_secret(session, cfa.cfa_id, actor)
        return _render(request, cfa, proposals.portal_view(session, cfa.cfa_id), new_secret=secret, done="secret")
    emails = [str(v) for v in form.getlist("email")]
    contact, url = bool(form.get("contact_in_email")), str(form.get("webhook_url") or "")
    typed = {"emails": emails, "contact_in_email": contact, "webhook_url": url}
    try:
        saved = cfa_settings.save_settings(session, cfa.cfa_id, actor, emails=emails, contact_in_email=contact,
                                           webhook_url=url)
    except SettingsRefused as exc:
        return _render(request, cfa, proposals.portal_view(session, cfa.cfa_id), status_code=422, form=typed,
                       errors=exc.errors)
    if saved.new_secret:
        return _render(request, cfa, proposals.portal_view(session, cfa.cfa_id), new_secret=saved.new_secret,
                       done="secret")
    session.commit()  # before the redirect: the next page must read the saved settings
    return RedirectResponse(f"/cfa/reglages?fait={'enregistre' if saved.changed else 'inchange'}", status_code=303)


@router.post("/formations")
def propose(request: Request, form: FormData = Depends(posted_form), cfa: CfaUser = Depends(current_cfa),
            session: Session = Depends(unit_of_work, scope="function")) -> Response:
    indices = sorted({int(key.split(".")[1]) for key in form if key.startswith("rome.") and key[5:].isdigit()})
    rows = [{"rome": str(form.get(f"rome.{i}") or ""), "diploma": str(form.get(f"diploma.{i}") or ""),
             "level": str(form.get(f"level.{i}") or ""), "remove": str(form.get(f"remove.{i}") or "")}
            for i in indices]
    note = str(form.get("note") or "")
    try:
        trainings = proposals.read_trainings(session, rows)
        proposals.propose(session, cfa.cfa_id, cfa_settings.actor_of(cfa.cfa_id, cfa.email), trainings, note)
    except ProposalRefused as exc:
        return _render(request, cfa, proposals.portal_view(session, cfa.cfa_id), status_code=422, rows=rows,
                       blank_rows=0, note=note, training_errors=exc.errors)
    session.commit()
    return RedirectResponse("/cfa/reglages?fait=propose#formations", status_code=303)
