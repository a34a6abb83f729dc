"""Where a CFA's leads go: the settings it saved in the portal, else the delivery file's.

:func:`delivery_for` is the one place the worker, the lead form and the portal read
a CFA's delivery settings from, so a setting saved in the portal takes effect for the
next send, and a catalogue import (which rewrites ``cat_cfa_delivery``) never undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfaDelivery
from akto_data.cfa.models import CfaAccount
from akto_data.models import as_utc, utcnow


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
