"""Where a CFA's leads go: the settings it saved in the portal, else the delivery file's;
and the portal's settings page (addresses, contact option, webhook and its secret's rotation).

:func:`delivery_for` is the one place the worker, the lead form and the portal read
a CFA's delivery settings from, so a setting saved in the portal takes effect for the
next send, and a catalogue import (which rewrites ``cat_cfa_delivery``) never undoes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from akto_data.catalogue.schema import webhook_url_problem
from akto_data.catalogue.tables import CatCfaDelivery
from akto_data.cfa.models import CfaAccount
from akto_data.i18n import text as t
from akto_data.models import as_utc, utcnow
from akto_data.staff.audit import record


@dataclass(frozen=True)
class Delivery:
    cfa_id: str
    #: Lead e-mails go to every address; each one may ask for a portal login link.
    emails: tuple[str, ...]
    webhook_url: str | None = None
    #: Secrets to sign webhook calls with: the current one first, then the previous one
    #: during the overlap after a rotation (the receiver accepts either while it switches).
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    #: False: the young person's phone or e-mail is left out of the e-mail (shown in the portal).
    contact_in_email: bool = True
    paused: bool = False


def delivery_for(session: Session, cfa_id: str, now: datetime | None = None) -> Delivery | None:
    """The CFA's delivery settings in force, or None when it has none (not a delivering CFA)."""
    now = now or utcnow()
    account = session.get(CfaAccount, cfa_id)
    base = session.get(CatCfaDelivery, cfa_id)
    if account is None and base is None:
        return None
    emails: list[str] = []
    if account is not None and account.emails:
        emails = list(account.emails)
    elif base is not None and base.email:
        emails = [base.email]
    if account is not None and (account.emails is not None or account.webhook_url is not None):
        url, secret = account.webhook_url, account.webhook_secret
    else:
        url, secret = (base.webhook_url, base.webhook_secret) if base is not None else (None, None)
    secrets = [secret] if secret else []
    if (account is not None and account.previous_webhook_secret and account.previous_secret_until is not None
            and as_utc(account.previous_secret_until) > now):
        secrets.append(account.previous_webhook_secret)
    return Delivery(cfa_id=cfa_id, emails=tuple(emails), webhook_url=url or None, webhook_secrets=tuple(secrets),
                    contact_in_email=account.contact_in_email if account is not None else True,
                    paused=account is not None and account.paused_at is not None)


def is_paused(session: Session, cfa_id: str) -> bool:
    account = session.get(CfaAccount, cfa_id)
    return account is not None and account.paused_at is not None


def paused_cfas(session: Session) -> set[str]:
    """Ids of the CFAs AKTO paused (matching leaves them out)."""
    from sqlalchemy import select

    return set(session.scalars(select(CfaAccount.cfa_id).where(CfaAccount.paused_at.is_not(None))))


# -- the portal's settings page ------------------------------------------------------------------------------------
#: How long the secret before a rotation still signs webhook calls (as a second signature),
#: so the CFA's receiver can switch to the new one without losing a lead. A week covers a
#: CFA whose IT person is away a few days; longer would keep a possibly leaked secret valid.
SECRET_OVERLAP = timedelta(days=7)
#: A CFA gives 1 to 5 delivery addresses (lead e-mails go to each; each may ask for a login link).
MAX_EMAILS = 5
#: Longest webhook address accepted (browsers and proxies refuse much longer ones).
MAX_URL_LENGTH = 2000


class SettingsRefused(ValueError):
    """Bad input on the settings form: French messages by field; nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


@dataclass(frozen=True)
class SettingsSaved:
    """What a save did: whether anything changed, and a secret to show once (None: none made)."""

    changed: bool
    new_secret: str | None = None


def clean_emails(raw: list[str]) -> list[str]:
    """The addresses typed (empty boxes ignored), normalised and without duplicates, in order.

    Checked by ``email-validator`` without a network call, as the lead form checks a young
    person's address; the typo check of common webmail domains is not applied: a CFA's
    own domain (``cfa-martinique.fr``) is no typo of gmail.com. Raises SettingsRefused.
    """
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for index, value in enumerate(raw):
        typed = value.strip()
        if not typed:
            continue
        try:
            address = validate_email(typed, check_deliverability=False, allow_smtputf8=False).normalized
        except EmailNotValidError:
            errors[f"email.{index}"] = t("cfa.settings.email_invalid", email=typed[:80])
            continue
        if len(address) > 254:
            errors[f"email.{index}"] = t("cfa.settings.email_invalid", email=typed[:80])
            continue
        seen.setdefault(address.lower(), address)
    if not errors and not seen:
        errors["email"] = t("cfa.settings.email_none")
    if len(seen) > MAX_EMAILS:
        errors["email"] = t("cfa.settings.email_too_many", max=MAX_EMAILS)
    if errors:
        raise SettingsRefused(errors)
    return list(seen.values())


def clean_webhook_url(raw: str) -> str | None:
    """The webhook address, or None when the box is empty (no webhook). Raises SettingsRefused."""
    url = raw.strip()
    if not url:
        return None
    problem = "adresse trop longue" if len(url) > MAX_URL_LENGTH else webhook_url_problem(url)
    if problem:
        raise SettingsRefused({"webhook_url": t("cfa.settings.webhook_invalid", problem=problem)})
    return url


def account_of(session: Session, cfa_id: str) -> CfaAccount:
    """The CFA's own settings row, created from the delivery file's on first use.

    Once a CFA saves in the portal, :func:`delivery_for` reads the row instead of the
    file: everything the file said (address, webhook, its secret) is copied first, so a
    save of one field never drops the others. A row made by a pause only (no address
    yet) is completed the same way.
    """
    account = session.get(CfaAccount, cfa_id)
    if account is None:
        account = CfaAccount(cfa_id=cfa_id, contact_in_email=True)
        session.add(account)
    if account.emails is None and account.webhook_url is None:
        base = session.get(CatCfaDelivery, cfa_id)
        if base is not None:
            account.emails = [base.email] if base.email else []
            account.webhook_url = base.webhook_url or None
            account.webhook_secret = account.webhook_secret or base.webhook_secret or None
        else:
            account.emails = []
    return account


def _masked_url(url: str | None) -> str | None:
    """A webhook address for the audit log: a query string may carry a token, so it is cut."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "", ""))


def _audit_view(account: CfaAccount) -> dict[str, object]:
    """What the audit log keeps of the settings: never a secret, only whether one is set."""
    return {"emails": list(account.emails or []), "contact_in_email": bool(account.contact_in_email),
            "webhook_url": _masked_url(account.webhook_url),
            "webhook_secret": "défini (masqué)" if account.webhook_secret else None}


def _values(account: CfaAccount) -> tuple[object, ...]:
    """The settings as saved (compared unmasked: a change of a URL's token is a change too)."""
    return (list(account.emails or []), bool(account.contact_in_email), account.webhook_url, account.webhook_secret)


def actor_of(cfa_id: str, email: str) -> str:
    """Who did it, in the audit log: ``cfa:<id> <address the login link went to>``."""
    return f"cfa:{cfa_id} {email}"[:254]


def save_settings(session: Session, cfa_id: str, actor: str, *, emails: list[str], contact_in_email: bool,
                  webhook_url: str, now: datetime | None = None) -> SettingsSaved:
    """Check and save the settings form; audited (secrets masked). Raises SettingsRefused.

    A webhook address given while no secret exists gets one (signatures need it): it is
    returned to be shown once, as after a rotation.
    """
    now = now or utcnow()
    errors: dict[str, str] = {}
    cleaned: list[str] = []
    url: str | None = None
    try:
        cleaned = clean_emails(emails)
    except SettingsRefused as exc:
        errors.update(exc.errors)
    try:
        url = clean_webhook_url(webhook_url)
    except SettingsRefused as exc:
        errors.update(exc.errors)
    if errors:
        raise SettingsRefused(errors)
    account = account_of(session, cfa_id)
    before, values_before = _audit_view(account), _values(account)
    account.emails = cleaned
    account.contact_in_email = contact_in_email
    account.webhook_url = url
    new_secret = None
    if url and not account.webhook_secret:
        new_secret = account.webhook_secret = secrets.token_urlsafe(32)
    after = _audit_view(account)
    if _values(account) == values_before:
        return SettingsSaved(changed=False)
    account.updated_at = now
    record(session, actor, "cfa.settings", f"CFA {cfa_id}", before, after,
           detail="secret généré" if new_secret else None)
    return SettingsSaved(changed=True, new_secret=new_secret)


def rotate_secret(session: Session, cfa_id: str, actor: str, now: datetime | None = None) -> str:
    """A new webhook secret, returned to be shown once; the previous one still signs until
    ``now + SECRET_OVERLAP``. A rotation during an overlap drops the oldest secret (two at most)."""
    now = now or utcnow()
    account = account_of(session, cfa_id)
    new = secrets.token_urlsafe(32)
    had = account.webhook_secret
    account.previous_webhook_secret = had
    account.previous_secret_until = now + SECRET_OVERLAP if had else None
    account.webhook_secret = new
    account.updated_at = now
    until = account.previous_secret_until
    record(session, actor, "cfa.secret_rotate", f"CFA {cfa_id}",
           {"webhook_secret": "défini (masqué)" if had else None},
           {"webhook_secret": "nouveau (masqué)",
            "previous_valid_until": until.isoformat(timespec="minutes") if until else None})
    return new


@dataclass(frozen=True)
class SettingsView:
    """What the settings page shows (never a secret)."""

    emails: tuple[str, ...]
    contact_in_email: bool
    webhook_url: str | None
    has_secret: bool
    previous_secret_until: datetime | None
    paused: bool
    pause_reason: str | None


def settings_view(session: Session, cfa_id: str, now: datetime | None = None) -> SettingsView:
    now = now or utcnow()
    delivery = delivery_for(session, cfa_id, now)
    account = session.get(CfaAccount, cfa_id)
    until = as_utc(account.previous_secret_until) if account is not None and account.previous_secret_until else None
    return SettingsView(
        emails=delivery.emails if delivery else (), contact_in_email=delivery.contact_in_email if delivery else True,
        webhook_url=delivery.webhook_url if delivery else None,
        has_secret=bool(delivery and delivery.webhook_secrets),
        previous_secret_until=until if until is not None and until > now else None,
        paused=bool(account is not None and account.paused_at is not None),
        pause_reason=account.pause_reason if account is not None else None)
