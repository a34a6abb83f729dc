"""Staff accounts: argon2 password hashes, a login throttle with lockout, roles.

Passwords are hashed with argon2id (argon2-cffi's defaults); nothing here is
hand-written crypto. A wrong password counts against the account: after
``MAX_FAILED_LOGINS`` in a row it is locked for ``LOCKOUT``; a successful login resets
the count. An unknown e-mail costs the same hashing time as a known one, so timing
does not tell which addresses exist.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from akto_data.catalogue.schema import TERRITORIES
from akto_data.models import as_utc, utcnow
from akto_data.staff.audit import record
from akto_data.staff.models import ROLES, StaffAccount

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()
#: Verified against when the e-mail is unknown (same cost as a real check).
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A refused account change: one French message per form field at fault."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class LoginResult:
    account: StaffAccount | None
    #: "ok", "bad" (wrong e-mail or password), "locked" (too many failures), "inactive".
    outcome: str
    locked_until: datetime | None = None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Le mot de passe doit faire au moins {MIN_PASSWORD} caractères."
    return None


def create_account(session: Session, *, email: str, name: str, role: str, password: str,
                   territories: list[str] | None = None, actor: str) -> StaffAccount:
    """A new account (every field checked, nothing stored on a refusal); audited."""
    email = email.strip().lower()
    errors: dict[str, str] = {}
    if not EMAIL.match(email):
        errors["email"] = "Adresse e-mail invalide."
    elif session.scalar(select(func.count()).where(StaffAccount.email == email)):
        errors["email"] = "Un compte existe déjà avec cette adresse."
    if not name.strip():
        errors["name"] = "Indique un nom."
    if role not in ROLES:
        errors["role"] = "Rôle inconnu : admin, staff ou advisor."
    places = [t for t in (territories or []) if t]
    unknown = [t for t in places if t not in TERRITORIES]
    if unknown:
        errors["territories"] = f"Territoire inconnu : {', '.join(unknown)}."
    elif role == "advisor" and not places:
        errors["territories"] = "Un conseiller doit avoir au moins un territoire."
    if (problem := password_problem(password)) is not None:
        errors["password"] = problem
    if errors:
        raise AccountError(errors)
    account = StaffAccount(email=email, name=name.strip(), role=role, territories=places,
                           password_hash=_hasher.hash(password), active=True, failed_logins=0)
    session.add(account)
    session.flush()
    record(session, actor, "account.create", f"compte {email}", None, describe(account))
    return account


def describe(account: StaffAccount) -> dict[str, object]:
    """What the audit log shows of an account (never the hash)."""
    return {"email": account.email, "name": account.name, "role": account.role,
            "territories": list(account.territories or []), "active": account.active}


def authenticate(session: Session, email: str, password: str, now: datetime | None = None) -> LoginResult:
    now = now or utcnow()
    account = session.scalar(select(StaffAccount).where(StaffAccount.email == email.strip().lower()))
    if account is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password + "x")
        return LoginResult(None, "bad")
    locked_until = as_utc(account.locked_until) if account.locked_until else None
    if locked_until is not None and locked_until > now:
        return LoginResult(None, "locked", locked_until)
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        account.failed_logins = (account.failed_logins or 0) + 1
        if account.failed_logins >= MAX_FAILED_LOGINS:
            account.locked_until = now + LOCKOUT
            account.failed_logins = 0
            record(session, account.email, "account.locked", f"compte {account.email}", None,
                   {"locked_until": account.locked_until.isoformat()})
            return LoginResult(None, "locked", account.locked_until)
        return LoginResult(None, "bad")
    if not account.active:
        return LoginResult(None, "inactive")
    account.failed_logins, account.locked_until, account.last_login_at = 0, None, now
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return LoginResult(account, "ok")


def set_active(session: Session, account_id: int, active: bool, actor: str) -> StaffAccount:
    account = session.get(StaffAccount, account_id)
    if account is None:
        raise AccountError({"account": "Compte introuvable."})
    before = describe(account)
    account.active = active
    record(session, actor, "account.activate" if active else "account.deactivate", f"compte {account.email}",
           before, describe(account))
    return account


def accounts(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.role, StaffAccount.email)))


def has_admin(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).where(StaffAccount.role == "admin", StaffAccount.active)))
