"""Sessions, CSRF protection and roles of the staff console.

- Sessions: Starlette's signed cookie (itsdangerous), HttpOnly, SameSite=Strict,
  Secure behind TLS (``CONSOLE_HTTPS=1``). The cookie holds the account id, the login
  time, the last activity and the CSRF token; the server refuses a session idle for
  ``IDLE_TIMEOUT`` or older than ``MAX_AGE``, and re-reads the account on every request
  (a deactivated account is out at its next click).
- CSRF: a random token per session, checked on every unsafe request (form field
  ``csrf_token`` or header ``X-CSRF-Token`` for htmx), app-wide, so no route can
  forget it.
- Roles: ``require("staff")`` lets staff and admins in; ``require("advisor")`` lets
  advisors, staff and admins in.
- CFAs (role ``cfa``, the portal under ``/cfa``): no account or password; a magic link
  sent to a delivery address opens a session holding the CFA's id and the address
  (:func:`start_cfa_session`), for a working day (:data:`CFA_MAX_AGE`). A CFA session and
  a staff session never open each other's pages: staff pages need ``uid``, portal pages
  need ``cfa``, and each login clears the other.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from akto_data.db import session_scope
from akto_data.staff.models import StaffAccount

IDLE_TIMEOUT = 30 * 60
MAX_AGE = 12 * 3600
#: A CFA's portal session lasts a working day from the login link, idle or not.
CFA_MAX_AGE = 10 * 3600
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Which roles may enter a page guarded for a role.
ALLOWED = {"admin": {"admin"}, "staff": {"admin", "staff"}, "advisor": {"admin", "staff", "advisor"}}


class LoginRequired(Exception):
    """No valid session: the handler sends the browser to the login page."""


class CfaLoginRequired(Exception):
    """No valid CFA session: the handler sends the browser to the portal's login page."""


@dataclass(frozen=True)
class CfaUser:
    """A CFA signed in to the portal: which CFA, and which of its addresses the link went to."""

    cfa_id: str
    email: str
    name: str
    role: str = "cfa"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str
    territories: tuple[str, ...]

    def can(self, role: str) -> bool:
        return self.role in ALLOWED[role]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def csrf_protect(request: Request) -> None:
    """App-wide dependency: an unsafe request without the session's token is refused (403)."""
    if request.method not in UNSAFE:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = str((await request.form()).get("csrf_token") or "")
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(status_code=403, detail="Jeton de sécurité absent ou périmé : recharge la page.")


def start_session(request: Request, account: StaffAccount) -> None:
    request.session.clear()
    now = int(time.time())
    request.session.update(uid=account.id, login_at=now, seen_at=now, csrf=secrets.token_urlsafe(32))


def start_cfa_session(request: Request, cfa_id: str, email: str) -> None:
    request.session.clear()
    request.session.update(cfa=cfa_id, cfa_email=email, login_at=int(time.time()), csrf=secrets.token_urlsafe(32))


def end_session(request: Request) -> None:
    request.session.clear()


def unit_of_work() -> Iterator[Session]:
    """FastAPI dependency: one session per request, committed when the handler returns.

    Always used as ``Depends(unit_of_work, scope="function")``: with FastAPI's default
    scope the commit runs after the response is sent, so the page a redirect opens
    could read the database before the change was saved.
    """
    with session_scope() as session:
        yield session


def current_user(request: Request, session: Session = Depends(unit_of_work, scope="function")) -> User:
    data = request.session
    now = int(time.time())
    uid = data.get("uid")
    if not uid or now - int(data.get("seen_at", 0)) > IDLE_TIMEOUT or now - int(data.get("login_at", 0)) > MAX_AGE:
        request.session.clear()
        raise LoginRequired
    account = session.get(StaffAccount, int(uid))
    if account is None or not account.active:
        request.session.clear()
        raise LoginRequired
    data["seen_at"] = now
    return User(account.id, account.email, account.name, account.role, tuple(account.territories or ()))


def current_cfa(request: Request, session: Session = Depends(unit_of_work, scope="function")) -> CfaUser:
    """FastAPI dependency of every portal page: the signed-in CFA, or the portal's login page.

    The CFA and its addresses are read again on every request: a CFA removed from the
    catalogue, or an address removed from its settings, is out at its next click. Every
    query of a portal page filters on ``cfa.cfa_id``.
    """
    from akto_data.catalogue.tables import CatCfa

    data = request.session
    cfa_id = data.get("cfa")
    if not cfa_id or int(time.time()) - int(data.get("login_at", 0)) > CFA_MAX_AGE:
        if cfa_id:
            request.session.clear()
        raise CfaLoginRequired
    cfa = session.get(CatCfa, str(cfa_id))
    email = str(data.get("cfa_email", ""))
    if cfa is None or not _still_an_address(session, cfa.id, email):
        request.session.clear()
        raise CfaLoginRequired
    return CfaUser(cfa.id, email, cfa.name)


def _still_an_address(session: Session, cfa_id: str, email: str) -> bool:
    """The session's address is still one of the CFA's: removing an address in the settings
    (say, of someone who left) ends the sessions opened with it at their next click."""
    from akto_data.cfa.login import normalise_email
    from akto_data.cfa.settings import delivery_for

    delivery = delivery_for(session, cfa_id)
    wanted = normalise_email(email)
    return bool(wanted) and delivery is not None and wanted in {normalise_email(e) for e in delivery.emails}


def require(role: str) -> Callable[..., Awaitable[User]]:
    async def guard(user: User = Depends(current_user)) -> User:
        if not user.can(role):
            raise HTTPException(status_code=403, detail="Cette page n'est pas ouverte à ton rôle.")
        return user

    return guard
