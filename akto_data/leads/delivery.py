"""Sending queued leads to CFAs (e-mail, webhook), with retries and back-off.

The worker claims due outbox messages, sends each one, and records the result in its
own transaction. Any failure, whatever its kind, is recorded on its row with a
back-off (:mod:`akto_data.leads.outbox`): one bad row never stops the others, and a
receiver that says no for good (HTTP 4xx, SMTP 5xx) is not asked again. Each send
has a total deadline, so a receiver trickling bytes cannot hold a row for long.
Nothing is lost by a restart since the queue is in the database. Delivery is
at-least-once: if a worker dies between the SMTP "250 OK" and its commit, the message
is sent again with the same ``Message-ID`` (the lead's idempotency key), which lets
the receiving side drop the duplicate.

Telegram notices to young people are not sent here: the bot process sends them
(:mod:`akto_data.leads.notices`), so the bot token stays in the bot's environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from akto_data.catalogue.schema import LOOPBACK_HOSTS, webhook_url_problem
from akto_data.cfa.settings import UnsafeWebhook, check_webhook_target, delivery_for
from akto_data.db import session_scope
from akto_data.leads.emails import CFA_KINDS, card_rows, cfa_email, lead_url, recipients
from akto_data.leads.links import LINK_STATUSES, body_signature, status_url
from akto_data.leads.models import Lead, LeadStatusEvent, OutboxMessage
from akto_data.leads.notices import is_telegram_chat
from akto_data.leads.outbox import (
    FAILED,
    PENDING,
    SKIPPED,
    SendFailed,
    record_failure,
    record_success,
)
from akto_data.leads.schedule import run_schedule
from akto_data.models import utcnow
from akto_data.retention import apply_retention

log = logging.getLogger(__name__)
#: ``card_rows`` lives with the e-mails now (:mod:`akto_data.leads.emails`); kept importable from here.
__all__ = ["OutboxWorker", "SmtpSettings", "card_rows", "failure_of", "mark_sent", "send_email", "webhook_body"]

SECURITY_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    """Where lead e-mails go (``SMTP_*`` variables); ``timeout`` is also each send's total deadline."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "Ici c'est ma place <leads@ici-cest-ma-place.example>"
    timeout: float = 30.0
    security: str = "none"  # none | starttls | ssl
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    #: CA file to trust for the mail server's certificate (default: the system's).
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"SMTP_SECURITY={self.security!r} : choisir none, starttls ou ssl")
        if self.username and self.security == "none" and self.host not in LOOPBACK_HOSTS:
            raise ValueError("SMTP_USERNAME sans SMTP_SECURITY=starttls ou ssl : le mot de passe partirait en clair")

    @classmethod
    def from_env(cls) -> SmtpSettings:
        security = (os.environ.get("SMTP_SECURITY") or "none").strip().lower()
        default_port = {"ssl": 465, "starttls": 587}.get(security, cls.port)
        return cls(host=os.environ.get("SMTP_HOST", cls.host), port=int(os.environ.get("SMTP_PORT") or default_port),
                   sender=os.environ.get("LEAD_SENDER", cls.sender),
                   timeout=float(os.environ.get("SMTP_TIMEOUT") or cls.timeout), security=security,
                   username=os.environ.get("SMTP_USERNAME") or None, password=os.environ.get("SMTP_PASSWORD") or None,
                   ca_file=os.environ.get("SMTP_CA_FILE") or None)


def webhook_body(lead: Lead) -> bytes:
    """JSON sent to a CFA's webhook: codes (for their software), the status links and the portal page.

    The young person's contact stays in the body even when the CFA asked to keep it out of
    its e-mails (``contact_in_email`` False): a webhook is a signed call from our server to
    the CFA's own system (HTTPS, HMAC), not a mailbox that gets forwarded; the option is
    about e-mails, and a CRM fed by the webhook needs the phone to call back.
    """
    data = {
        "event": "lead.created", "key": lead.idempotency_key, "cfa_id": lead.cfa_id, "rome": lead.rome,
        "training": lead.training, "first_name": lead.first_name, "age": lead.age, "minor": lead.minor,
        "territory": lead.territory, "town": lead.town, "diploma_level": lead.diploma_level,
        "start_when": lead.start_when, "has_employer": lead.has_employer, "mobility": lead.mobility,
        "contact_channel": lead.contact_channel, "contact_value": lead.contact_value, "reasons": lead.reasons,
        "message": lead.message, "score": lead.score, "consent_version": lead.consent_version,
        "consented_at": lead.consented_at.isoformat(), "created_at": lead.created_at.isoformat(),
        "status_links": {status: status_url(lead.idempotency_key, status) for status in LINK_STATUSES},
        "portal_url": lead_url(lead.id),
    }
    return json.dumps(data, ensure_ascii=False).encode()


def webhook_headers(lead: Lead, body: bytes, secrets: tuple[str, ...], timestamp: int) -> dict[str, str]:
    """Headers of a webhook call: ``X-Signature`` with the current secret and, during the
    overlap after a rotation, ``X-Signature-Previous`` with the previous one (see
    :func:`akto_data.leads.links.verify_webhook`: the receiver accepts either)."""
    headers = {"Content-Type": "application/json", "X-Lead-Key": lead.idempotency_key,
               "X-Signature-Timestamp": str(timestamp), "X-Signature": body_signature(body, secrets[0], timestamp)}
    if len(secrets) > 1:
        headers["X-Signature-Previous"] = body_signature(body, secrets[1], timestamp)
    return headers


def failure_of(exc: BaseException) -> SendFailed:
    """What a send error means for its row: permanent (the receiver said no) or worth retrying.

    SMTP 5xx answers to the message or its recipient are permanent; 5xx at login,
    STARTTLS or MAIL FROM are our settings' fault, not the message's: retried (and
    bounded), so fixing the settings delivers every waiting lead.
    """
    if isinstance(exc, SendFailed):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        retry_after = exc.response.headers.get("Retry-After", "")
        return SendFailed(f"HTTP {code} {exc.response.reason_phrase}",
                          permanent=400 <= code < 500 and code not in (408, 429),
                          retry_after=float(retry_after) if retry_after.isdigit() else None)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return SendFailed(f"webhook_url invalide ({type(exc).__name__})", permanent=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return SendFailed(f"SMTP destinataire refusé ({', '.join(map(str, codes))})",
                          permanent=bool(codes) and all(code >= 500 for code in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        message_level = isinstance(exc, smtplib.SMTPDataError)
        return SendFailed(f"SMTP {exc.smtp_code} {reply}", permanent=message_level and exc.smtp_code >= 500)
    return SendFailed(f"{type(exc).__name__}: {exc}")


class OutboxWorker:
    def __init__(self, smtp: SmtpSettings | None = None, clock: Callable[[], datetime] = utcnow,
                 batch: int = 20, deadline: float | None = None) -> None:
        self.smtp = smtp or SmtpSettings.from_env()
        self.clock = clock
        self.batch = batch
        #: Total time one send may take (connection, TLS, login, every byte of the answer).
        self.deadline = deadline or self.smtp.timeout

    def _send_email(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """Send over SMTP within :attr:`deadline`: a watchdog shuts the socket when it passes.

        Returns the recipients the server refused when it accepted others (all refused raises).
        """
        settings = self.smtp
        context = ssl.create_default_context(cafile=settings.ca_file)
        client = (smtplib.SMTP_SSL(timeout=settings.timeout, context=context) if settings.security == "ssl"
                  else smtplib.SMTP(timeout=settings.timeout))
        # The name TLS checks the certificate against (smtplib sets it only when the constructor connects).
        client._host = settings.host  # type: ignore[attr-defined]
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            if client.sock is not None:
                with suppress(OSError):
                    client.sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(self.deadline, stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            client.connect(settings.host, settings.port)
            client.ehlo()
            if settings.security == "starttls":
                client.starttls(context=context)  # no fallback to clear text: refused means not sent
                client.ehlo()
            if settings.username:
                client.login(settings.username, settings.password or "")
            refused = client.send_message(message)
            with suppress(smtplib.SMTPException, OSError):
                client.quit()
            return refused
        except (OSError, smtplib.SMTPException) as exc:
            if expired.is_set():
                raise SendFailed(f"délai de {self.deadline:g} s dépassé (SMTP)") from exc
            raise
        finally:
            watchdog.cancel()
            client.close()

    def _post_webhook(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        """POST within :attr:`deadline` for the whole exchange (httpx's timeouts are per read)."""
        async def post() -> None:
            async with httpx.AsyncClient(timeout=self.smtp.timeout) as client:
                (await client.post(url, content=body, headers=headers)).raise_for_status()

        async def bounded() -> None:
            await asyncio.wait_for(post(), self.deadline)

        try:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # the worker's own thread: no loop running
                asyncio.run(bounded())
            else:  # called under a running loop (sync Playwright in a test): a thread of its own
                with ThreadPoolExecutor(max_workers=1) as pool:
                    pool.submit(asyncio.run, bounded()).result()
        except TimeoutError as exc:
            raise SendFailed(f"délai de {self.deadline:g} s dépassé (webhook)") from exc

    def run_once(self) -> int:
        """Send what is due; return how many messages were sent."""
        now = self.clock()
        with session_scope() as session:
            skip_console_notices(session, now)
            due = list(session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now,
                                               OutboxMessage.channel != "telegram")
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(self.batch)))
        sent = 0
        for message_id in due:
            try:
                sent += self._deliver(message_id, now)
            except Exception as exc:  # e.g. the database failed while recording: keep going with the next row
                log.exception("outbox %s: delivery pass failed", message_id)
                self._record_crash(message_id, now, exc)
        return sent

    def _deliver(self, message_id: int, now: datetime) -> int:
        with session_scope() as session:
            item = session.scalars(select(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.state
                                   == PENDING).with_for_update(skip_locked=True)).first()
            if item is None:  # another worker took it
                return 0
            try:
                sent = self._send(session, item, item.lead, now)
            except Exception as exc:  # every failure is recorded on its row, whatever its type
                failure = failure_of(exc)
                record_failure(item, failure, now)
                level = logging.ERROR if item.state == FAILED else logging.WARNING
                log.log(level, "outbox %s (%s %s, lead %s) not delivered (attempt %d, %s): %s", item.id,
                        item.channel, item.kind, item.lead_id, item.attempts,
                        "given up" if item.state == FAILED else "will retry", item.last_error)
                return 0
            record_success(item, sent, now)
            if sent and item.kind == "lead" and item.channel == "email" and item.lead_id is not None:
                mark_sent(session, item.lead_id, now)
            return 1 if sent else 0

    def _record_crash(self, message_id: int, now: datetime, exc: BaseException) -> None:
        """Best effort: count a failure that escaped :meth:`_deliver` so the row backs off."""
        with suppress(Exception), session_scope() as session:
            item = session.get(OutboxMessage, message_id)
            if item is not None and item.state == PENDING:
                record_failure(item, failure_of(exc), now)

    def _send(self, session: Session, item: OutboxMessage, lead: Lead | None, now: datetime) -> bool:
        """Do the I/O of one outbox message; False when there is nowhere (or nothing any more) to send.

        The CFA's settings are read through :func:`akto_data.cfa.settings.delivery_for`
        (the portal's, else the delivery file's). A paused CFA still gets what is about
        the leads it already has; pausing only stops new leads (matching).
        """
        cfa_id = lead.cfa_id if lead is not None else item.cfa_id
        if cfa_id is None:
            raise SendFailed(f"envoi sans demande ni CFA : {item.kind}", permanent=True)
        if lead is not None and lead.anonymised_at is not None:
            return False  # nothing left to say about an anonymised lead
        delivery = delivery_for(session, cfa_id, now)
        if delivery is None:
            raise SendFailed(f"pas de réglages de livraison pour le CFA {cfa_id}")
        if item.channel == "webhook":
            if lead is None or item.kind != "lead":
                raise SendFailed(f"type d'envoi par webhook non pris en charge : {item.kind}", permanent=True)
            if not delivery.webhook_url or not delivery.webhook_secrets:
                return False
            problem = webhook_url_problem(delivery.webhook_url)
            if problem:
                raise SendFailed(f"webhook_url invalide : {problem}", permanent=True)
            if delivery.webhook_checked:  # typed in the portal: never one of our own services
                try:
                    check_webhook_target(delivery.webhook_url)
                except UnsafeWebhook as exc:
                    raise SendFailed(f"webhook refusé : {exc.reason}", permanent=not exc.unresolved) from None
            body = webhook_body(lead)
            self._post_webhook(delivery.webhook_url, body,
                               webhook_headers(lead, body, delivery.webhook_secrets, int(time.time())))
            return True
        if item.channel != "email" or item.kind not in CFA_KINDS:
            raise SendFailed(f"type d'envoi non pris en charge : {item.channel}/{item.kind}", permanent=True)
        to = recipients(item, delivery)
        if not to:
            if item.kind != "lead":
                # A webhook-only CFA (no address) cannot get notes, digests or settings notices:
                # nothing to retry. A lead waits instead: adding an address in the settings delivers it.
                log.info("outbox %s (%s, CFA %s): no e-mail address, skipped", item.id, item.kind, cfa_id)
                return False
            raise SendFailed(f"aucune adresse de réception pour le CFA {cfa_id}")
        message = cfa_email(session, item, delivery, self.smtp.sender, now)
        if message is None:  # e.g. a reminder for a lead answered since it was queued
            return False
        refused = self._send_email(message)
        if refused:  # some addresses took it: sent; the others are counted, never named (personal data)
            codes = ", ".join(sorted({str(code) for code, _ in refused.values()}))
            log.warning("outbox %s (%s): %d of %d addresses refused (SMTP %s)", item.id, item.kind, len(refused),
                        len(to), codes)
        return True

    def housekeeping(self, now: datetime | None = None) -> None:
        """Time-based steps (reminders, digests, the young person's questions), statistics and
        anonymisation, run by the worker between sends; one failing never stops the others."""
        now = now or self.clock()
        try:
            run_schedule(now)
        except Exception:
            log.exception("follow-up schedule failed")
        try:  # statistics first: events are counted before retention may delete them
            from akto_data.analytics.aggregate import run_until_caught_up

            run_until_caught_up(now)
        except Exception:
            log.exception("analytics update failed")
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


def send_email(message: EmailMessage, smtp: SmtpSettings | None = None) -> None:
    """Send one e-mail now, within the SMTP deadline (for what a person waits for: a login link).

    Raises what :meth:`OutboxWorker._send_email` raises; the caller tells the person.
    """
    OutboxWorker(smtp)._send_email(message)


def mark_sent(session: Session, lead_id: int, now: datetime) -> None:
    """The lead reached the CFA: "new" becomes "sent", never a later status (a CFA may click first)."""
    changed = session.execute(update(Lead).where(Lead.id == lead_id, Lead.status == "new").values(status="sent")
                              .execution_options(synchronize_session=False))
    if changed.rowcount:  # type: ignore[attr-defined]
        session.add(LeadStatusEvent(lead_id=lead_id, status="sent", by="system", at=now))


def skip_console_notices(session: Session, now: datetime) -> int:
    """Notices to chats that are not Telegram chats (the console) have nowhere to go: skipped."""
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "telegram",
                                                       OutboxMessage.state == PENDING)).all()
    skipped = 0
    for row in rows:
        if row.lead is None or not is_telegram_chat(row.lead.chat_id):
            row.state, row.sent_at, row.last_error = SKIPPED, now, None
            skipped += 1
    return skipped
