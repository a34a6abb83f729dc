"""The CFA portal (role ``cfa``): magic-link login, the CFA's leads, one lead, its status, the export.

Thin handlers: the rules are in :mod:`akto_data.cfa.login` (links, throttle per
address in the database) and :mod:`akto_data.cfa.portal` (every query filtered on the
signed-in CFA). Kept here, in this process, is what only protects this web front: the
number of link requests per client address, and per typed address that is nobody's
(those leave no row in the database, yet must be throttled like known ones, or the
throttle's answer would tell which addresses are CFAs').

A lead that is not the CFA's answers the same 404 page as a lead that does not exist.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from akto_data.cfa import login, portal
from akto_data.i18n import text as t
from akto_data.leads.lifecycle import REFUSAL_REASONS
from akto_data.settings import load_settings
from web.app import templates
from web.security import CfaUser, csrf_token, current_cfa, end_session, start_cfa_session, unit_of_work

router = APIRouter(prefix="/cfa")

#: Link requests per client address (this process), as for the staff login.
PER_CLIENT, CLIENT_WINDOW = 20, 600.0
_clients: dict[str, deque[float]] = {}
#: Requests for addresses that are no CFA's, by hash of the address (this process).
_unknown: dict[str, deque[float]] = {}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


#: Keys kept per store at most: a flood of distinct client or typed addresses cannot grow memory without end.
MAX_KEYS = 10_000


def _count(store: dict[str, deque[float]], key: str, window: float, add: bool, now: float | None = None) -> int:
    """Requests of ``key`` in the last ``window`` seconds (counting this one when ``add``).

    A key whose requests all fell out of the window is dropped; past :data:`MAX_KEYS`
    the oldest keys go first (dicts keep insertion order; a key is re-inserted when used),
    which at worst forgets the throttle of someone idle for the longest time.
    """
    now = time.monotonic() if now is None else now
    seen = store.pop(key, None) or deque()
    while seen and now - seen[0] > window:
        seen.popleft()
    if add:
        seen.append(now)
    if seen:
        store[key] = seen  # re-inserted: the most recently used keys are the last ones
        while len(store) > MAX_KEYS:
            del store[next(iter(store))]
    return len(seen)


def _address_key(address: str) -> str:
    return hashlib.sha256(login.normalise_email(address).encode()).hexdigest()


def portal_page(request: Request, name: str, cfa: CfaUser | None = None, status_code: int = 200,
                **context: Any) -> Response:
    """A portal page (``cfa/base_portal.html``): the signed-in CFA as ``user``, the CSRF token."""
    return templates.TemplateResponse(request, f"cfa/{name}",
                                      {"user": cfa, "csrf_token": csrf_token(request), **context},
                                      status_code=status_code)


def not_found(request: Request, cfa: CfaUser) -> Response:
    """The one answer for a lead that does not exist and a lead of another CFA."""
    return portal_page(request, "error.html", cfa, status_code=404, problem="not_found",
                       message=t("cfa.portal.not_found"))


# -- Login ------------------------------------------------------------------------------


@router.get("/connexion")
async def login_form(request: Request, next: str = "", fin: str = "") -> Response:
    return portal_page(request, "login.html", next=login.safe_next(next), logged_out=bool(fin))


@router.post("/connexion")
def ask_link(request: Request, email: str = Form(""), next: str = Form(""),
             session: Session = Depends(unit_of_work, scope="function")) -> Response:
    """Sync on purpose: the e-mail is sent now, in FastAPI's thread pool, not on the event loop."""
    target = login.safe_next(next)
    client = request.client.host if request.client else "?"
    if _count(_clients, client, CLIENT_WINDOW, add=True) > PER_CLIENT:
        return portal_page(request, "login.html", status_code=429, next=target, email=email,
                           error=t("cfa.portal.login.too_many_here"))
    address = email.strip()
    if not EMAIL.fullmatch(address) or len(address) > login.MAX_EMAIL_LENGTH:
        return portal_page(request, "login.html", status_code=400, next=target, email=email,
                           error=t("cfa.portal.login.invalid_email"))
    window = login.WINDOW.total_seconds()
    if _count(_unknown, _address_key(address), window, add=False) >= login.PER_ADDRESS:
        outcome = login.LinkRequest.THROTTLED
    else:
        outcome = login.request_link(session, address, target, load_settings().portal_base_url)
    if outcome is login.LinkRequest.UNKNOWN:
        _count(_unknown, _address_key(address), window, add=True)
    if outcome is login.LinkRequest.THROTTLED:
        return portal_page(request, "login.html", status_code=429, next=target, email=email,
                           error=t("cfa.portal.login.throttled"))
    if outcome is login.LinkRequest.FAILED:
        return portal_page(request, "login.html", status_code=503, next=target, email=email,
                           error=t("cfa.portal.login.failed"))
    minutes = int(login.LINK_LIFETIME.total_seconds() // 60)
    return portal_page(request, "login_sent.html", email=address, minutes=minutes)


def _link_problem(request: Request, state: login.LinkState) -> Response:
    """An expired, used or unknown link: a clear page, a way to get a new one, nothing about any CFA."""
    status = 404 if state is login.LinkState.UNKNOWN else 410
    return portal_page(request, "link_invalid.html", status_code=status, message=t(f"cfa.portal.link.{state}"))


@router.get("/lien/{token}")
def link_page(request: Request, token: str, next: str = "",
                    session: Session = Depends(unit_of_work, scope="function")) -> Response:
    """Changes nothing: mail scanners open links before people do; the button below uses it."""
    seen = login.peek_link(session, token)
    if seen.state is not login.LinkState.VALID:
        return _link_problem(request, seen.state)
    return portal_page(request, "link.html", token=token, next=login.safe_next(next), cfa_name=seen.cfa_name)


@router.post("/lien/{token}")
def use_link(request: Request, token: str, next: str = Form(""),
                   session: Session = Depends(unit_of_work, scope="function")) -> Response:
    opened = login.use_link(session, token)
    if opened.state is not login.LinkState.VALID or opened.cfa_id is None:
        return _link_problem(request, opened.state)
    start_cfa_session(request, opened.cfa_id, opened.email or "")
    return RedirectResponse(login.safe_next(next), status_code=303)


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    end_session(request)
    return RedirectResponse("/cfa/connexion?fin=1", status_code=303)


# -- Leads ------------------------------------------------------------------------------


@router.get("/demandes")
def leads(request: Request, cfa: CfaUser = Depends(current_cfa),
                session: Session = Depends(unit_of_work, scope="function")) -> Response:
    filters, errors = portal.LeadFilters.from_query(dict(request.query_params))
    listing = portal.list_leads(session, cfa.cfa_id, filters)
    export_start, export_end = portal.default_export_range(session, cfa.cfa_id, filters)
    return portal_page(request, "leads.html", cfa, filters=filters, listing=listing, errors=errors,
                       export_start=export_start, export_end=export_end)


def _lead_id(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 12 else None


def _lead_page(request: Request, cfa: CfaUser, view: portal.LeadView, status_code: int = 200,
               notice: str | None = None, error: str | None = None) -> Response:
    reasons = [(code, t(f"lead.refusal.{code}")) for code in REFUSAL_REASONS]
    return portal_page(request, "lead.html", cfa, status_code=status_code, lead=view, reasons=reasons,
                       notice=notice, error=error)


@router.get("/demandes/{lead_id}")
def lead_page(request: Request, lead_id: str, resultat: str = "", cfa: CfaUser = Depends(current_cfa),
                    session: Session = Depends(unit_of_work, scope="function")) -> Response:
    number = _lead_id(lead_id)
    view = portal.open_lead(session, cfa.cfa_id, number) if number is not None else None
    if view is None:
        return not_found(request, cfa)
    return _lead_page(request, cfa, view, notice=portal.outcome_message(resultat, view.status) if resultat else None)


@router.post("/demandes/{lead_id}/statut")
def set_status(request: Request, lead_id: str, status: str = Form(""), reason: str = Form(""),
                     cfa: CfaUser = Depends(current_cfa),
                     session: Session = Depends(unit_of_work, scope="function")) -> Response:
    number = _lead_id(lead_id)
    outcome = (portal.change_status(session, cfa.cfa_id, number, status, reason or None)
               if number is not None else None)
    if outcome is None or number is None:
        return not_found(request, cfa)
    if outcome in (portal.StatusOutcome.NEEDS_REASON, portal.StatusOutcome.BAD_STATUS):
        view = portal.lead_view(session, cfa.cfa_id, number)
        if view is None:
            return not_found(request, cfa)
        return _lead_page(request, cfa, view, status_code=400, error=portal.outcome_message(outcome, view.status))
    return RedirectResponse(f"/cfa/demandes/{number}?resultat={outcome}", status_code=303)


@router.get("/export.csv")
def export(request: Request, du: str = "", au: str = "", cfa: CfaUser = Depends(current_cfa),
                 session: Session = Depends(unit_of_work, scope="function")) -> Response:
    try:
        start, end = portal.export_range(du, au)
    except portal.ExportRangeError as problem:
        return portal_page(request, "error.html", cfa, status_code=400, problem="export",
                           message=str(problem), back="/cfa/demandes")
    body, _count_rows = portal.export_csv(session, cfa.cfa_id, start, end)
    name = f"demandes-{cfa.cfa_id}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})

