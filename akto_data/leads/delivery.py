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
import json
import logging
import os
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.catalogue.queries import territory
from akto_data.catalogue.tables import CatCfa, CatCfaDelivery
from akto_data.db import session_scope
from akto_data.i18n import long_date
from akto_data.i18n import text as t
from akto_data.leads.form import label
from akto_data.leads.lifecycle import queue_reminders
from akto_data.leads.links import CFA_STATUSES, body_signature, status_url
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.models import utcnow
from akto_data.retention import apply_retention
from akto_data.settings import load_settings

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
    def from_env(cls) -> SmtpSettings:
        return cls(host=os.environ.get("SMTP_HOST", cls.host), port=int(os.environ.get("SMTP_PORT", cls.port)),
                   sender=os.environ.get("LEAD_SENDER", cls.sender))


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else t("lead.value.yes" if value else "lead.value.no")


def card_values(lead: Lead) -> dict[str, object]:
    """The lead's fields as the CFA reads them (labels, not codes)."""
    return {
        "first_name": lead.first_name or "?", "age": lead.age if lead.age is not None else "?",
        "minor": t("lead.email.minor") if lead.minor else "", "training": lead.training,
        "territory": _territory_name(lead.territory), "town": lead.town or "?",
        "diploma_level": label("diploma", lead.diploma_level), "start_when": label("start", lead.start_when),
        "has_employer": _yes_no(lead.has_employer), "mobility": label("mobility", lead.mobility),
        "contact_channel": label("channel", lead.contact_channel), "contact_value": lead.contact_value or "",
        "reasons": ", ".join(label("reason", r) for r in lead.reasons or []) or "?",
        "message": lead.message or "", "score": lead.score,
    }


def _territory_name(territory_id: str) -> str:
    place = territory(territory_id)
    return place.name if place else territory_id


def lead_email(lead: Lead, cfa: CatCfa, to: str, sender: str, reminder: bool = False) -> EmailMessage:
    """The e-mail a CFA receives: a one-glance card and the status links, as text and HTML."""
    values = card_values(lead)
    intro = t("lead.email.intro", consent_version=lead.consent_version, consented_at=long_date(lead.consented_at))
    if reminder:
        intro = t("lead.email.reminder_intro") + "\n\n" + intro
    card = t("lead.email.card", **values)
    links = [(t(f"lead.status.{status}"), status_url(lead.idempotency_key, status)) for status in CFA_STATUSES]
    footer = t("lead.email.footer", key=lead.idempotency_key)
    message = EmailMessage()
    subject = t("lead.email.subject", first_name=values["first_name"], training=lead.training)
    message["Subject"] = t("lead.email.reminder_subject", subject=subject) if reminder else subject
    message["From"] = sender
    message["To"] = to
    # The lead's key makes the Message-ID: a resend after a crash is recognisably the same mail.
    suffix = "-reminder" if reminder else ""
    message["Message-ID"] = f"<{lead.idempotency_key}{suffix}@ici-cest-ma-place>"
    message["X-Lead-Key"] = lead.idempotency_key
    link_text = "\n".join(f"• {label} : {url}" for label, url in links)
    message.set_content(f"{intro}\n\n{card}\n\n{t('lead.email.links')}\n{link_text}\n\n{footer}\n")
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, _, v in (line.partition(" : ") for line in card.splitlines())
    )
    anchors = " · ".join(f"<a href='{html.escape(url)}'>{html.escape(label)}</a>" for label, url in links)
    message.add_alternative(
        f"<p>{html.escape(intro)}</p><table>{rows}</table><p>{html.escape(t('lead.email.links'))}<br>{anchors}</p>"
        f"<p>{html.escape(footer)}</p>", subtype="html")
    return message


def webhook_body(lead: Lead) -> bytes:
    """JSON sent to a CFA's webhook: codes (for their software) plus the status links."""
    data = {
        "event": "lead.created", "key": lead.idempotency_key, "cfa_id": lead.cfa_id, "rome": lead.rome,
        "training": lead.training, "first_name": lead.first_name, "age": lead.age, "minor": lead.minor,
        "territory": lead.territory, "town": lead.town, "diploma_level": lead.diploma_level,
        "start_when": lead.start_when, "has_employer": lead.has_employer, "mobility": lead.mobility,
        "contact_channel": lead.contact_channel, "contact_value": lead.contact_value, "reasons": lead.reasons,
        "message": lead.message, "score": lead.score, "consent_version": lead.consent_version,
        "consented_at": lead.consented_at.isoformat(), "created_at": lead.created_at.isoformat(),
        "status_links": {status: status_url(lead.idempotency_key, status) for status in CFA_STATUSES},
    }
    return json.dumps(data, ensure_ascii=False).encode()


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
            try:
                sent = self._send(session, item, lead)
            except (OSError, smtplib.SMTPException, LookupError, httpx.HTTPError) as exc:
                item.attempts += 1
                item.last_error = f"{type(exc).__name__}: {exc}"[:500]
                item.next_attempt_at = now + BACKOFF[min(item.attempts, len(BACKOFF)) - 1]
                log.warning("outbox %s (%s %s, lead %s) not delivered (attempt %d): %s", item.id, item.channel,
                            item.kind, lead.id, item.attempts, item.last_error)
                return 0
            item.attempts += 1
            item.state = "sent" if sent else "skipped"
            item.sent_at = now
            item.last_error = None
            if item.kind == "lead" and item.channel == "email":
                lead.status = "sent"
                session.add(LeadStatusEvent(lead_id=lead.id, status="sent", by="system", at=now))
            return 1 if sent else 0

    def _send(self, session: Session, item: OutboxMessage, lead: Lead) -> bool:
        """Do the I/O of one outbox message; False when there is nowhere to send it."""
        cfa = session.get(CatCfa, lead.cfa_id)
        delivery = session.get(CatCfaDelivery, lead.cfa_id)
        if item.channel == "telegram":
            return self._send_notice(lead, cfa, (item.payload or {}).get("status", ""))
        if cfa is None or delivery is None:
            raise LookupError(f"no delivery settings for CFA {lead.cfa_id}")
        if item.channel == "webhook":
            if not delivery.webhook_url or not delivery.webhook_secret:
                return False
            body = webhook_body(lead)
            response = httpx.post(delivery.webhook_url, content=body, timeout=self.smtp.timeout, headers={
                "Content-Type": "application/json", "X-Signature": body_signature(body, delivery.webhook_secret),
                "X-Lead-Key": lead.idempotency_key})
            response.raise_for_status()
            return True
        self._send_email(lead_email(lead, cfa, delivery.email, self.smtp.sender, reminder=item.kind == "reminder"))
        return True

    def _send_notice(self, lead: Lead, cfa: CatCfa | None, status: str) -> bool:
        """Tell the young person, in their Telegram chat, what the CFA did with their request."""
        settings = load_settings()
        if not settings.telegram_token or not lead.chat_id:
            return False  # console chats have no Telegram to write to
        text = t(f"lead.notice.{status}", cfa=cfa.name if cfa else lead.cfa_id, training=lead.training)
        response = httpx.post(f"{settings.telegram_api_base_url}{settings.telegram_token}/sendMessage",
                              json={"chat_id": lead.chat_id, "text": text}, timeout=self.smtp.timeout)
        response.raise_for_status()
        return True

    def housekeeping(self, now: datetime | None = None) -> None:
        """Reminders and anonymisation, run by the worker between sends."""
        now = now or self.clock()
        queue_reminders(now)
        apply_retention(now)  # every store of personal data (akto_data.personal_data)

    def run_forever(self, interval: float = 5.0, should_stop: Callable[[], bool] = lambda: False,
                    housekeeping_every: float = 60.0) -> None:
        last_housekeeping = 0.0
        while not should_stop():
            try:
                if time.monotonic() - last_housekeeping >= housekeeping_every:
                    self.housekeeping()
                    last_housekeeping = time.monotonic()
                self.run_once()
            except Exception:  # the worker must outlive a database hiccup
                log.exception("outbox pass failed")
            time.sleep(interval)
