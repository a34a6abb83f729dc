"""Sending queued leads to CFAs by e-mail, with retries and back-off.

The worker claims due outbox messages, sends each one, and records the result in its
own transaction. A refused or failing SMTP server leaves the message pending with a
later ``next_attempt_at``; nothing is lost by a restart since the queue is in the
database. Delivery is at-least-once: if a worker dies between the SMTP "250 OK" and
its commit, the message is sent again with the same ``Message-ID`` (the lead's
idempotency key), which lets the receiving side drop the duplicate.
"""

from __future__ import annotations

import html
import logging
import os
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select

from akto_data.catalogue.tables import CatCfa, CatCfaDelivery
from akto_data.db import session_scope
from akto_data.i18n import long_date
from akto_data.i18n import text as t
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.models import utcnow

log = logging.getLogger(__name__)

#: Delay before the 1st, 2nd, ... retry; the last one repeats.
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "Ici c'est ma place <leads@ici-cest-ma-place.example>"
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> "SmtpSettings":
        return cls(host=os.environ.get("SMTP_HOST", cls.host), port=int(os.environ.get("SMTP_PORT", cls.port)),
                   sender=os.environ.get("LEAD_SENDER", cls.sender))


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("oui" if value else "non")


def lead_email(lead: Lead, cfa: CatCfa, to: str, sender: str) -> EmailMessage:
    """The e-mail a CFA receives: a one-glance card, as text and HTML."""
    values = {
        "first_name": lead.first_name or "?", "age": lead.age if lead.age is not None else "?",
        "minor": t("lead.email.minor") if lead.minor else "", "training": lead.training,
        "territory": lead.territory, "town": lead.town or "?", "diploma_level": lead.diploma_level or "?",
        "start_when": lead.start_when or "?", "has_employer": _yes_no(lead.has_employer),
        "mobility": lead.mobility or "?", "contact_channel": lead.contact_channel or "?",
        "contact_value": lead.contact_value or "", "reasons": ", ".join(lead.reasons or []) or "?",
        "message": lead.message or "", "score": lead.score,
    }
    intro = t("lead.email.intro", consent_version=lead.consent_version, consented_at=long_date(lead.consented_at))
    card = t("lead.email.card", **values)
    footer = t("lead.email.footer", key=lead.idempotency_key)
    message = EmailMessage()
    message["Subject"] = t("lead.email.subject", first_name=values["first_name"], training=lead.training)
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = f"<{lead.idempotency_key}@ici-cest-ma-place>"
    message["X-Lead-Key"] = lead.idempotency_key
    message.set_content(f"{intro}\n\n{card}\n\n{footer}\n")
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, _, v in (line.partition(" : ") for line in card.splitlines())
    )
    message.add_alternative(
        f"<p>{html.escape(intro)}</p><table>{rows}</table><p>{html.escape(footer)}</p>", subtype="html")
    return message


class OutboxWorker:
    def __init__(self, smtp: SmtpSettings | None = None, clock: Callable[[], datetime] = utcnow,
                 batch: int = 20) -> None:
        self.smtp = smtp or SmtpSettings.from_env()
        self.clock = clock
        self.batch = batch

    def _send_email(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout) as client:
            client.send_message(message)

    def run_once(self) -> int:
        """Send what is due; return how many messages were sent."""
        now = self.clock()
        with session_scope() as session:
            due = list(session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id).limit(self.batch)))
        sent = 0
        for message_id in due:
            sent += self._deliver(message_id, now)
        return sent

    def _deliver(self, message_id: int, now: datetime) -> int:
        with session_scope() as session:
            item = session.scalars(select(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.state
                                   == "pending").with_for_update(skip_locked=True)).first()
            if item is None:  # another worker took it
                return 0
            lead = item.lead
            cfa = session.get(CatCfa, lead.cfa_id)
            delivery = session.get(CatCfaDelivery, lead.cfa_id)
            try:
                if cfa is None or delivery is None:
                    raise LookupError(f"no delivery settings for CFA {lead.cfa_id}")
                self._send_email(lead_email(lead, cfa, delivery.email, self.smtp.sender))
            except (OSError, smtplib.SMTPException, LookupError) as exc:
                item.attempts += 1
                item.last_error = f"{type(exc).__name__}: {exc}"[:500]
                item.next_attempt_at = now + BACKOFF[min(item.attempts, len(BACKOFF)) - 1]
                log.warning("lead %s not delivered (attempt %d): %s", lead.id, item.attempts, item.last_error)
                return 0
            item.attempts += 1
            item.state = "sent"
            item.sent_at = now
            item.last_error = None
            lead.status = "sent"
            session.add(LeadStatusEvent(lead_id=lead.id, status="sent", by="system", at=now))
            return 1

    def run_forever(self, interval: float = 5.0, should_stop: Callable[[], bool] = lambda: False) -> None:
        while not should_stop():
            try:
                self.run_once()
            except Exception:  # the worker must outlive a database hiccup
                log.exception("outbox pass failed")
            time.sleep(interval)
