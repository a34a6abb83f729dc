"""The e-mails a CFA receives: a new lead, the reminders, the follow-up notes, the weekly digest.

Every e-mail shares one layout (``templates/cfa_email.html`` and ``.txt``, Jinja2 with
autoescaping on): one column at most 600 px wide, tables and inline styles only (mail
clients ignore style sheets), nothing fetched from elsewhere, one main button to the
lead's page in the CFA portal, and a plain-text part with the same content.

What an e-mail says is decided when it is sent, from the outbox row and the lead as they
are then (:func:`cfa_email`): a reminder for a lead the CFA answered in the meantime is
not sent at all. The delivery settings come from :func:`akto_data.cfa.settings.delivery_for`;
with ``contact_in_email`` False the young person's phone or e-mail never appears in the
mail (not in the card, not in their message: masked) and the card says where to find it.

``python -m akto_data.leads.emails --preview DIR`` writes sample e-mails (HTML and text)
to DIR, to look at them in a browser; the browser test writes the README's screenshots.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.catalogue.tables import CatCfa, CatTerritory
from akto_data.cfa.settings import Delivery
from akto_data.i18n import MissingText, long_date
from akto_data.i18n import text as t
from akto_data.leads.form import REASONS, label, shown_contact
from akto_data.leads.lifecycle import ANSWERED, CLOSED
from akto_data.leads.links import EMAIL_STATUSES, status_url
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.models import utcnow
from akto_data.redact import mask_contacts
from akto_data.settings import load_settings

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Kinds of e-mail a CFA receives (``OutboxMessage.kind``).
CFA_KINDS = ("lead", "reminder", "nudge", "withdrawn", "rerouted", "reply", "digest", "settings")
#: The digest lists at most this many leads; the portal has the rest.
DIGEST_MAX_ROWS = 30
#: A young person's reply is quoted up to this many characters; the portal shows it whole.
REPLY_EXCERPT = 300
MESSAGE_ID_DOMAIN = "ici-cest-ma-place"


@dataclass(frozen=True)
class Button:
    label: str
    url: str


@dataclass(frozen=True)
class Quote:
    """The young person's own words, shown quoted; ``lines`` are plain text (escaped when rendered)."""

    title: str
    lines: list[str]
    note: str | None = None


@dataclass(frozen=True)
class DigestRow:
    name: str
    training: str
    status: str
    age: str
    waiting: bool
    mark: str
    url: str


@dataclass
class Email:
    """What one e-mail says, before it is laid out (HTML and text from the same fields)."""

    subject: str
    title: str
    preheader: str = ""
    paragraphs: list[str] = field(default_factory=list)
    main_button: Button | None = None
    #: Further buttons in the main button's style (the login e-mail of an address serving several CFAs).
    more_buttons: list[Button] = field(default_factory=list)
    card: list[tuple[str, str]] = field(default_factory=list)
    quote: Quote | None = None
    digest: list[DigestRow] = field(default_factory=list)
    digest_more: str | None = None
    status_title: str = ""
    status_buttons: list[Button] = field(default_factory=list)
    refuse: Button | None = None
    refuse_help: str = ""
    notes: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """Autoescaping for ``.html`` only: the text part must show ``<b>`` as typed, not ``&lt;b&gt;``."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
                      keep_trailing_newline=True)
    env.globals["t"] = t
    return env


def render(email: Email) -> tuple[str, str]:
    """(plain text, HTML) of ``email``."""
    values: dict[str, Any] = {name: getattr(email, name) for name in email.__dataclass_fields__}
    env = _environment()
    return env.get_template("cfa_email.txt").render(values), env.get_template("cfa_email.html").render(values)


# -- Pieces shared by the e-mails ------------------------------------------------------------

def one_line(value: object) -> str:
    """A card value on one line: a stray newline cannot start a row of its own."""
    return " ".join(str(value).split())


def lead_url(lead_id: int) -> str:
    """The lead's page in the CFA portal (the e-mail's "Voir la demande")."""
    return f"{load_settings().portal_base_url.rstrip('/')}/cfa/demandes/{lead_id}"


def portal_url(path: str = "/cfa/demandes") -> str:
    return f"{load_settings().portal_base_url.rstrip('/')}{path}"


def reason_labels(codes: Sequence[object] | None) -> list[str]:
    """The young person's reasons as the CFA reads them; never an internal code.

    Reasons are checked against the form's list when the lead is made, but a lead can
    come from elsewhere (an import, an older form): an unknown code reads "autre chose".
    """
    labels: list[str] = []
    for code in codes or []:
        try:
            shown = t(f"lead.value.reason.{code}") if code in REASONS else t("lead.value.reason.other")
        except MissingText:  # a reason listed in the form but missing from the catalogue
            shown = t("lead.value.reason.other")
        if shown not in labels:
            labels.append(shown)
    return labels


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else t("lead.value.yes" if value else "lead.value.no")


def card_rows(session: Session, lead: Lead, contact: bool = True) -> list[tuple[str, str]]:
    """The lead's fields as the CFA reads them (labels, not codes), one (label, value) per row.

    Built from the lead's fields, never by parsing rendered text: the young person's
    free message is a value like any other and cannot add a row (finding 3).
    ``contact`` False: the phone/e-mail is replaced by where to find it (the portal).
    """
    place = session.get(CatTerritory, lead.territory)
    age = f"{lead.age if lead.age is not None else '?'}{t('lead.email.minor') if lead.minor else ''}"
    shown = (shown_contact(lead.contact_channel, lead.contact_value) if contact
             else t("cfa.email.contact_in_portal"))
    rows = [
        ("first_name", lead.first_name or "?"), ("age", age), ("training", lead.training),
        ("territory", f"{place.name if place else lead.territory}, {lead.town or '?'}"),
        ("diploma_level", label("diploma", lead.diploma_level)), ("start_when", label("start", lead.start_when)),
        ("has_employer", _yes_no(lead.has_employer)), ("mobility", label("mobility", lead.mobility)),
        ("contact", shown), ("reasons", ", ".join(reason_labels(lead.reasons)) or "?"),
        ("score", f"{lead.score}/100"),
    ]
    return [(t(f"lead.card.{name}"), one_line(value)) for name, value in rows]


def _words(text: str | None, contact: bool) -> list[str]:
    """The young person's text as lines, contacts masked when they stay out of the e-mail."""
    said = (text or "").strip()
    if not contact:
        said = mask_contacts(said)
    return said.splitlines()


def _message_quote(lead: Lead, contact: bool) -> Quote:
    lines = _words(lead.message, contact)
    masked = not contact and (lead.message or "") and mask_contacts(lead.message or "") != (lead.message or "")
    return Quote(t("lead.card.message"), lines or [t("lead.card.no_message")],
                 t("cfa.email.message_masked") if masked else None)


def _status_part(email: Email, lead: Lead) -> None:
    """One-click signed links for the e-mail statuses; refusing needs a reason, so it opens the portal."""
    email.status_title = t("cfa.email.status_title")
    email.status_buttons = [Button(t(f"lead.status.{status}"), status_url(lead.idempotency_key, status))
                            for status in EMAIL_STATUSES]
    email.refuse = Button(t("cfa.email.refuse"), lead_url(lead.id))
    email.refuse_help = t("cfa.email.refuse_help")


def _cfa_name(session: Session, cfa_id: str) -> str:
    cfa = session.get(CatCfa, cfa_id)
    return cfa.name if cfa is not None else cfa_id


def _footer(session: Session, cfa_id: str, lead: Lead | None) -> list[str]:
    lines = [t("cfa.email.footer_why", cfa=_cfa_name(session, cfa_id))]
    if lead is not None:
        lines.append(t("cfa.email.footer_key", key=lead.idempotency_key))
    return lines


def _names(lead: Lead) -> dict[str, str]:
    return {"first_name": one_line(lead.first_name or "?"), "training": one_line(lead.training)}


# -- One builder per kind ----------------------------------------------------------------------

def lead_content(session: Session, lead: Lead, delivery: Delivery, step: int = 0) -> Email:
    """The new-lead e-mail; ``step`` 1 or 2: the same card as a reminder (2 and 5 working days)."""
    names = _names(lead)
    subject = t("lead.email.subject", **names)
    intro = t("lead.email.intro", consent_version=lead.consent_version, consented_at=long_date(lead.consented_at))
    if step:
        email = Email(subject=t("lead.email.reminder_subject", subject=subject),
                      title=t("cfa.email.reminder_title", **names),
                      paragraphs=[t(f"cfa.email.reminder_{step}", **names), intro])
    else:
        email = Email(subject=subject, title=t("cfa.email.lead_title"), paragraphs=[intro])
    email.preheader = t("cfa.email.lead_preheader", **names)
    email.main_button = Button(t("cfa.email.view"), lead_url(lead.id))
    email.card = card_rows(session, lead, contact=delivery.contact_in_email)
    email.quote = _message_quote(lead, delivery.contact_in_email)
    _status_part(email, lead)
    email.footer = _footer(session, lead.cfa_id, lead)
    return email


def nudge_content(session: Session, lead: Lead, delivery: Delivery) -> Email:
    """The young person answered "pas encore" to the day-7 question: named, with the card to call them."""
    names = _names(lead)
    email = Email(subject=t("cfa.email.nudge_subject", **names), title=t("cfa.email.nudge_title", **names),
                  paragraphs=[t("cfa.email.nudge_intro", **names)], preheader=t("cfa.email.nudge_intro", **names))
    email.main_button = Button(t("cfa.email.view"), lead_url(lead.id))
    email.card = card_rows(session, lead, contact=delivery.contact_in_email)
    _status_part(email, lead)
    email.footer = _footer(session, lead.cfa_id, lead)
    return email


def closed_content(session: Session, lead: Lead, kind: str) -> Email:
    """``withdrawn`` (no longer interested) or ``rerouted`` (chose another CFA): the lead is closed.

    No card and no contact: nobody needs to call any more. The other CFA is not named.
    """
    names = _names(lead)
    email = Email(subject=t("cfa.email.closed_subject", **names), title=t(f"cfa.email.{kind}_title", **names),
                  paragraphs=[t(f"cfa.email.{kind}_intro", **names)], preheader=t(f"cfa.email.{kind}_intro", **names))
    email.main_button = Button(t("cfa.email.view"), lead_url(lead.id))
    email.footer = _footer(session, lead.cfa_id, lead)
    return email


def reply_content(session: Session, lead: Lead, delivery: Delivery, item: OutboxMessage) -> Email:
    """The young person answered the CFA's message: who, for what, and the start of the reply.

    A short excerpt (:data:`REPLY_EXCERPT` characters, contacts masked when they stay out
    of e-mails) saves a trip to the portal for "oui, jeudi ça me va"; the whole exchange,
    and the only way to answer, is the portal (the young person never sees e-mail replies).
    """
    names = _names(lead)
    email = Email(subject=t("cfa.email.reply_subject", **names), title=t("cfa.email.reply_title", **names),
                  paragraphs=[t("cfa.email.reply_intro", **names)])
    message_id = (item.payload or {}).get("message_id")
    replies = select(LeadMessage).where(LeadMessage.lead_id == lead.id, LeadMessage.direction == "young")
    reply = (session.scalars(replies.where(LeadMessage.id == message_id)).first()
             if isinstance(message_id, int) else None) \
        or session.scalars(replies.order_by(LeadMessage.id.desc())).first()
    if reply is not None:
        words = " ".join((mask_contacts(reply.text) if not delivery.contact_in_email else reply.text).split())
        cut = len(words) > REPLY_EXCERPT
        email.quote = Quote(t("cfa.email.reply_quote", **names), [words[:REPLY_EXCERPT] + ("…" if cut else "")],
                            t("cfa.email.reply_cut") if cut else None)
        email.preheader = words[:90]
    email.main_button = Button(t("cfa.email.reply_button"), lead_url(lead.id))
    email.notes = [t("cfa.email.reply_how", **names)]
    email.footer = _footer(session, lead.cfa_id, lead)
    return email


def digest_content(session: Session, cfa_id: str, now: datetime) -> Email | None:
    """The weekly list of a CFA's open leads, those still waiting for a first answer first.

    None when nothing is open any more (the digest is then not sent).
    """
    from akto_data.leads.followup import open_leads  # followup queues these e-mails: no cycle at import

    leads = open_leads(session, cfa_id, now)
    if not leads:
        return None
    waiting = sum(1 for item in leads if item.waiting)
    rows = [DigestRow(name=one_line(item.lead.first_name or "?"), training=one_line(item.lead.training),
                      status=_status_label(item.lead.status),
                      age=t("cfa.email.digest_age_one" if item.age == 1 else "cfa.email.digest_age",
                            days=item.age),
                      waiting=item.waiting, mark=t("cfa.email.digest_waiting"), url=lead_url(item.lead.id))
            for item in leads[:DIGEST_MAX_ROWS]]
    more = len(leads) - len(rows)
    email = Email(subject=t("cfa.email.digest_subject", count=len(leads), waiting=waiting),
                  title=t("cfa.email.digest_title", cfa=_cfa_name(session, cfa_id)),
                  paragraphs=[t("cfa.email.digest_intro", count=len(leads), waiting=waiting)],
                  preheader=t("cfa.email.digest_intro", count=len(leads), waiting=waiting))
    email.digest = rows
    email.digest_more = t("cfa.email.digest_more", count=more) if more > 0 else None
    email.main_button = Button(t("cfa.email.digest_button"), portal_url())
    email.notes = [t("cfa.email.digest_how")]
    email.footer = _footer(session, cfa_id, None)
    return email


def settings_content(session: Session, cfa_id: str, payload: dict[str, Any]) -> Email:
    """"Les réglages de votre espace CFA ont changé": what changed, by which address, when.

    Built from the outbox row's payload (written at the change, see
    :func:`akto_data.cfa.settings.queue_settings_notice`), which holds no secret: a new
    webhook secret is only said to exist, a webhook address is shown without its query.
    """
    changes: list[tuple[str, str]] = []
    added, removed = payload.get("added") or [], payload.get("removed") or []
    if added:
        changes.append((t("cfa.email.settings_added"), ", ".join(map(str, added))))
    if removed:
        changes.append((t("cfa.email.settings_removed"), ", ".join(map(str, removed))))
    if payload.get("webhook_url_changed"):
        changes.append((t("cfa.email.settings_webhook"),
                        str(payload.get("webhook_url") or t("cfa.email.settings_webhook_none"))))
    if payload.get("secret_changed"):
        changes.append((t("cfa.email.settings_secret"), t("cfa.email.settings_secret_new")))
    when = str(payload.get("at") or "")
    try:
        moment = datetime.fromisoformat(when)
        shown_when = t("cfa.email.settings_when", date=long_date(moment), time=moment.strftime("%H:%M"))
    except ValueError:
        shown_when = when
    by = one_line(payload.get("by") or "?")
    email = Email(subject=t("cfa.email.settings_subject"), title=t("cfa.email.settings_title"),
                  paragraphs=[t("cfa.email.settings_intro", cfa=_cfa_name(session, cfa_id), by=by, at=shown_when)],
                  preheader=t("cfa.email.settings_intro", cfa=_cfa_name(session, cfa_id), by=by, at=shown_when))
    email.card = [(name, one_line(value)) for name, value in changes]
    email.main_button = Button(t("cfa.email.settings_button"), portal_url("/cfa/reglages"))
    email.notes = [t("cfa.email.settings_not_you")]
    email.footer = _footer(session, cfa_id, None)
    return email


def _status_label(status: str) -> str:
    try:
        return t(f"lead.status.{status}")
    except MissingText:
        return status


def content_for(session: Session, item: OutboxMessage, delivery: Delivery, now: datetime) -> Email | None:
    """What the outbox row ``item`` says now, or None when there is nothing to say any more.

    A reminder or nudge for a lead answered or closed since it was queued, anything about
    an anonymised lead, a digest with no open lead: not sent (the row is marked skipped).
    """
    lead = item.lead
    if item.kind == "digest":
        return digest_content(session, item.cfa_id or delivery.cfa_id, now)
    if item.kind == "settings":
        return settings_content(session, item.cfa_id or delivery.cfa_id, item.payload or {})
    if lead is None or lead.anonymised_at is not None:
        return None
    if item.kind == "lead":  # closed before it went out (handled in the portal, withdrawn): nothing to do
        return None if lead.status in CLOSED else lead_content(session, lead, delivery)
    if item.kind == "reminder":
        if lead.status in ANSWERED or lead.status in CLOSED or lead.first_answer_at is not None:
            return None
        step = (item.payload or {}).get("step", 1)
        return lead_content(session, lead, delivery, step=2 if step == 2 else 1)
    if item.kind == "nudge":  # the CFA answered (or the lead closed) since "pas encore": nothing to nudge
        if lead.status in CLOSED or lead.first_answer_at is not None:
            return None
        return nudge_content(session, lead, delivery)
    if item.kind in ("withdrawn", "rerouted"):
        return closed_content(session, lead, item.kind)
    if item.kind == "reply":
        return reply_content(session, lead, delivery, item)
    raise ValueError(f"unknown CFA e-mail kind: {item.kind}")


def message_id(item: OutboxMessage) -> str:
    """The same e-mail, sent again after a crash, carries the same ``Message-ID``.

    The lead e-mail keeps the lead's key (as before the portal); the others are named by
    their step (``dedup_key``: ``reminder:1:<lead id>``, ``digest:<cfa>:<week>``) or, for
    steps that repeat (a reply), by their outbox row.
    """
    if item.kind == "lead" and item.lead is not None:
        return f"<{item.lead.idempotency_key}@{MESSAGE_ID_DOMAIN}>"
    name = item.dedup_key or f"{item.kind}:{item.id}"
    if item.lead is not None and not item.dedup_key:
        name = f"{item.lead.idempotency_key}:{name}"
    return f"<{re.sub(r'[^A-Za-z0-9._-]', '.', name)}@{MESSAGE_ID_DOMAIN}>"


def build_message(email: Email, to: Sequence[str], sender: str, msg_id: str,
                  lead_key: str | None = None) -> EmailMessage:
    """The MIME message: text first, then the HTML alternative (clients show the last they can)."""
    text, page = render(email)
    message = EmailMessage()
    message["Subject"] = one_line(email.subject)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Message-ID"] = msg_id
    if lead_key:
        message["X-Lead-Key"] = lead_key
    message.set_content(text)
    message.add_alternative(page, subtype="html")
    return message


def recipients(item: OutboxMessage, delivery: Delivery) -> tuple[str, ...]:
    """Who gets ``item``: the CFA's addresses in force, except for a settings notice, which
    goes to the addresses BEFORE the change (kept in its payload): if someone else took over
    the account and replaced them, the real owners are the ones to warn."""
    if item.kind == "settings":
        listed = (item.payload or {}).get("to")
        return tuple(str(a) for a in listed) if isinstance(listed, list) else ()
    return delivery.emails


def cfa_email(session: Session, item: OutboxMessage, delivery: Delivery, sender: str,
              now: datetime | None = None) -> EmailMessage | None:
    """The e-mail for outbox row ``item``, to :func:`recipients` (None: nothing to send)."""
    content = content_for(session, item, delivery, now or utcnow())
    if content is None:
        return None
    return build_message(content, recipients(item, delivery), sender, message_id(item),
                         item.lead.idempotency_key if item.lead is not None else None)


# -- Preview -----------------------------------------------------------------------------------

def sample_lead(**values: Any) -> Lead:
    """A lead that is not stored, for previews (the card reads the territory from the catalogue)."""
    data: dict[str, Any] = {
        "id": 1042, "idempotency_key": "3f9c2a7e5b1d4c6f8a0e2b4d6f8a1c3e", "chat_id": "42", "cfa_id": "mq_umih",
        "rome": "G1602", "training": "CAP Cuisine", "first_name": "Léa", "age": 19, "territory": "martinique",
        "town": "Le Lamentin", "diploma_level": 3, "start_when": "rentree", "has_employer": False,
        "mobility": "islands", "contact_channel": "phone", "contact_value": "+596696123456",
        "reasons": ["places", "pay"], "score": 65, "status": "sent", "consent_version": "v1",
        "consented_at": datetime(2026, 11, 30, 9, 15),
        "message": "Bonjour,\nje cherche une entreprise pour la rentrée.\nJe suis disponible le matin.",
    }
    data.update(values)
    return Lead(**data)


def write_preview(directory: Path, session: Session, lead: Lead, delivery: Delivery, cfa_id: str,
                  now: datetime) -> list[Path]:
    """``lead.html``/``.txt`` and ``digest.html``/``.txt`` (when ``cfa_id`` has open leads) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    contents: dict[str, Email | None] = {"lead": lead_content(session, lead, delivery),
                                         "digest": digest_content(session, cfa_id, now)}
    for name, content in contents.items():
        if content is None:
            continue
        text, page = render(content)
        for suffix, body in (("txt", text), ("html", page)):
            path = directory / f"{name}.{suffix}"
            path.write_text(body, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    from akto_data.db import session_scope

    parser = argparse.ArgumentParser(description="Écrit des exemples des e-mails envoyés aux CFA.")
    parser.add_argument("--preview", metavar="DIR", required=True, type=Path)
    parser.add_argument("--cfa", default="mq_umih")
    args = parser.parse_args(argv)
    with session_scope() as session:
        delivery = Delivery(cfa_id=args.cfa, emails=("cfa@example.org",))
        for path in write_preview(args.preview, session, sample_lead(cfa_id=args.cfa), delivery, args.cfa,
                                  utcnow()):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

