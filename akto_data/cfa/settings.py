"""Where a CFA's leads go: the settings it saved in the portal, else the delivery file's;
and the portal's settings page (addresses, contact option, webhook and its secret's rotation).

:func:`delivery_for` is the one place the worker, the lead form and the portal read
a CFA's delivery settings from, so a setting saved in the portal takes effect for the
next send, and a catalogue import (which rewrites ``cat_cfa_delivery``) never undoes it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
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
    #: True when the webhook address was typed in the portal (not the operator's delivery
    #: file): the worker checks, right before each call, that it leads to no internal host.
    webhook_checked: bool = False


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
    checked = False
    if account is not None and (account.emails is not None or account.webhook_url is not None):
        url, secret = account.webhook_url, account.webhook_secret
        # The file's address copied on the first save stays operator-trusted; anything else came from the portal.
        checked = bool(url) and (base is None or url != base.webhook_url)
    else:
        url, secret = (base.webhook_url, base.webhook_secret) if base is not None else (None, None)
    secrets = [secret] if secret else []
    if (account is not None and account.previous_webhook_secret and account.previous_secret_until is not None
            and as_utc(account.previous_secret_until) > now):
        secrets.append(account.previous_webhook_secret)
    return Delivery(cfa_id=cfa_id, emails=tuple(emails), webhook_url=url or None, webhook_secrets=tuple(secrets),
                    contact_in_email=account.contact_in_email if account is not None else True,
                    paused=account is not None and account.paused_at is not None, webhook_checked=checked)


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


#: Operator switch (tests, a local demo): portal-typed webhooks may use http:// and internal
#: hosts. Never set in production: the worker would then POST leads wherever a CFA says.
ALLOW_PRIVATE_ENV = "CFA_WEBHOOK_ALLOW_PRIVATE"
#: ``socket.getaddrinfo``'s shape; passed in by tests that need a name to resolve without DNS.
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class UnsafeWebhook(ValueError):
    """A portal-typed webhook address our worker must not call; ``unresolved``: its name
    did not resolve (worth retrying at send time: DNS may be down), else refused for good.
    The message names no address (it goes to the outbox row's error and the logs)."""

    def __init__(self, reason: str, *, unresolved: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unresolved = unresolved


def private_webhooks_allowed() -> bool:
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes")


def _public(address: str) -> bool:
    """A host on the Internet: not loopback, private, link-local, shared (CGNAT), multicast,
    reserved or unspecified (``is_global`` covers all but multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_webhook_target(url: str, resolve: Resolver = socket.getaddrinfo) -> None:
    """Refuse a portal-typed webhook that would make our worker call one of our own services.

    A CFA types this address; the worker, inside our network, POSTs to it. Without this
    check ``http://127.0.0.1:5055/webhook`` (the bot), Rasa, a database's HTTP port or a
    cloud metadata address (169.254.169.254) would receive our requests (SSRF). So:
    https only, and the host, or every address its name resolves to, must be public. Run
    when the settings are saved and again right before each call (a name can be re-pointed
    after the save). :data:`ALLOW_PRIVATE_ENV` lifts both rules for tests. Raises UnsafeWebhook.
    """
    problem = webhook_url_problem(url)
    if problem:
        raise UnsafeWebhook(problem)
    if private_webhooks_allowed():
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise UnsafeWebhook("https:// obligatoire")
    host = (parts.hostname or "").rstrip(".")
    try:
        addresses = [host] if _is_ip(host) else [str(info[4][0]) for info in
                                                 resolve(host, parts.port or 443, type=socket.SOCK_STREAM)]
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhook("nom d'hôte introuvable", unresolved=True) from exc
    if not addresses:
        raise UnsafeWebhook("nom d'hôte introuvable", unresolved=True)
    if not all(_public(address) for address in addresses):
        raise UnsafeWebhook("adresse interne ou réservée (boucle locale, réseau privé…) refusée")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def clean_webhook_url(raw: str, resolve: Resolver = socket.getaddrinfo) -> str | None:
    """The webhook address, or None when the box is empty (no webhook). Raises SettingsRefused."""
    url = raw.strip()
    if not url:
        return None
    problem = "adresse trop longue" if len(url) > MAX_URL_LENGTH else None
    if problem is None:
        try:
            check_webhook_target(url, resolve)
        except UnsafeWebhook as exc:
            problem = exc.reason
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
                  webhook_url: str, now: datetime | None = None,
                  resolve: Resolver = socket.getaddrinfo) -> SettingsSaved:
    """Check and save the settings form; audited (secrets masked). Raises SettingsRefused.

    A webhook address given while no secret exists gets one (signatures need it): it is
    returned to be shown once, as after a rotation. Every portal-typed address must pass
    :func:`check_webhook_target`, even saved again unchanged (one saved before the check
    existed is refused here, with the reason, instead of failing silently at each call);
    the delivery file's address left as is stays trusted, as the operator's.
    """
    now = now or utcnow()
    errors: dict[str, str] = {}
    cleaned: list[str] = []
    url: str | None = None
    try:
        cleaned = clean_emails(emails)
    except SettingsRefused as exc:
        errors.update(exc.errors)
    in_force = delivery_for(session, cfa_id, now)
    typed = webhook_url.strip()
    if typed and in_force is not None and typed == in_force.webhook_url and not in_force.webhook_checked:
        url = typed  # the delivery file's address, left as is: the operator's, trusted as before
    else:
        try:
            url = clean_webhook_url(webhook_url, resolve)
        except SettingsRefused as exc:
            errors.update(exc.errors)
    if errors:
        raise SettingsRefused(errors)
    account = account_of(session, cfa_id)
    before, values_before = _audit_view(account), _values(account)
    old_emails, old_url = list(account.emails or []), account.webhook_url
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
    queue_settings_notice(session, cfa_id, actor, in_force.emails if in_force else (), now,
                          added=[a for a in cleaned if a.lower() not in {b.lower() for b in old_emails}],
                          removed=[a for a in old_emails if a.lower() not in {b.lower() for b in cleaned}],
                          webhook_url=(url,) if url != old_url else None, secret_changed=bool(new_secret))
    return SettingsSaved(changed=True, new_secret=new_secret)


def queue_settings_notice(session: Session, cfa_id: str, actor: str, previous: Sequence[str], now: datetime, *,
                          added: Sequence[str] = (), removed: Sequence[str] = (),
                          webhook_url: tuple[str | None] | None = None, secret_changed: bool = False) -> bool:
    """Warn the addresses in force BEFORE a change of addresses, webhook or secret (all of them).

    Whoever holds a login link can change where leads go; the real owners of the account
    learn it from this e-mail, sent to the addresses they had (a thief who replaced them
    would not get it otherwise). The payload says what changed, by which address and
    when, never a secret (a webhook address without its query, which may hold a token).
    ``webhook_url``: ``(new address or None,)`` when it changed. False: nothing to tell
    (only the contact option changed) or nobody to tell (a webhook-only CFA).
    """
    from akto_data.leads.models import OutboxMessage  # the leads package reads these settings: no cycle at import

    if not previous or not (added or removed or webhook_url is not None or secret_changed):
        return False
    payload: dict[str, object] = {
        "to": list(previous), "by": actor.split(" ", 1)[-1], "at": now.isoformat(timespec="minutes"),
        "added": list(added), "removed": list(removed), "secret_changed": secret_changed,
        "webhook_url_changed": webhook_url is not None,
        "webhook_url": _masked_url(webhook_url[0]) if webhook_url is not None else None}
    session.add(OutboxMessage(channel="email", kind="settings", cfa_id=cfa_id, lead_id=None, payload=payload,
                              next_attempt_at=now))
    return True


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
    queue_settings_notice(session, cfa_id, actor, list(account.emails or []), now, secret_changed=True)
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
