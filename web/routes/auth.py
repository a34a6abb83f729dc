"""Login and logout. Throttled twice: per account (lockout in the database, survives
restarts and several console processes) and per client address (in this process)."""

from __future__ import annotations

import time
from collections import deque
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from akto_data.i18n import long_date
from akto_data.staff.accounts import authenticate
from web.app import page
from web.security import end_session, start_session, unit_of_work

router = APIRouter()

#: At most this many login attempts per client address in ``WINDOW`` seconds.
PER_ADDRESS, WINDOW = 20, 600.0
_attempts: dict[str, deque[float]] = {}


def _address_throttled(address: str) -> bool:
    now = time.monotonic()
    seen = _attempts.setdefault(address, deque())
    while seen and now - seen[0] > WINDOW:
        seen.popleft()
    seen.append(now)
    return len(seen) > PER_ADDRESS


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never another host) after login."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", next=_safe_next(next))


@router.post("/login")
async def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
                session: Session = Depends(unit_of_work, scope="function")) -> Response:
    address = request.client.host if request.client else "?"
    if _address_throttled(address):
        return page(request, "login.html", status_code=429, next=_safe_next(next), email=email,
                    error="Trop de tentatives depuis cet ordinateur. Réessaie dans quelques minutes.")
    result = authenticate(session, email, password)
    if result.outcome == "ok" and result.account is not None:
        start_session(request, result.account)
        return RedirectResponse(_safe_next(next), status_code=303)
    errors = {
        "bad": "E-mail ou mot de passe incorrect.",
        "inactive": "Ce compte est désactivé. Demande à un administrateur.",
        "locked": "Trop d'essais : compte bloqué jusqu'à {until}. Réessaie plus tard ou demande à un administrateur.",
    }
    until = f"{result.locked_until:%H:%M} UTC le {long_date(result.locked_until)}" if result.locked_until else ""
    return page(request, "login.html", status_code=401 if result.outcome == "bad" else 403, next=_safe_next(next),
                email=email, error=errors[result.outcome].format(until=until))


@router.post("/logout")
async def logout(request: Request) -> Response:
    end_session(request)
    return RedirectResponse("/login", status_code=303)
