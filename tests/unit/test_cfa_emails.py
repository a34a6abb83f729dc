"""What a CFA receives by e-mail, taken from a real SMTP server (aiosmtpd): the new lead
(card with labels, portal button, status buttons, text part), every address of its settings,
the option to keep the young person's contact out of e-mails, the reminders, the follow-up
notes, the weekly digest; and the webhook signed with both secrets during a rotation."""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import timedelta
from email.message import EmailMessage

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from akto_data.catalogue.tables import CatCfaDelivery
from akto_data.cfa.models import CfaAccount
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.emails import card_rows, reason_labels
from akto_data.leads.lifecycle import apply_status
from akto_data.leads.links import EMAIL_STATUSES, status_url, verify_webhook
from akto_data.leads.models import Lead, LeadMessage, OutboxMessage
from akto_data.leads.status_page import serve_in_background
from akto_data.leads.store import create_lead
from akto_data.models import utcnow
from tests.unit.test_lead_delivery import Inbox, free_port, lead_data
from tests.unit.test_lead_lifecycle import TYPED_PHONE, Receiver

PORTAL = "https://portail.akto.example"
CARD_LABELS = ("first_name", "age", "training", "territory", "diploma_level", "start_when", "has_employer",
               "mobility", "contact", "reasons", "score")
PHONE_SHOWN, PHONE_STORED = "0696 12 34 56", "+596696123456"


@pytest.fixture(autouse=True)
def settings(monkeypatch):
    monkeypatch.setenv("LEAD_LINKS_SECRET", "a-long-enough-test-secret")
    monkeypatch.setenv("PORTAL_BASE_URL", PORTAL)


@pytest.fixture
def smtp(smtp_inbox):
    inbox, port = smtp_inbox
    return inbox, OutboxWorker(SmtpSettings(port=port))


def account(cfa_id: str = "mq_umih", **values) -> None:
    with session_scope() as session:
        session.merge(CfaAccount(cfa_id=cfa_id, **values))


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, HTML) of the e-mail, with the line ends of a file."""
    return tuple(message.get_body((kind,)).get_content().replace("\r\n", "\n")  # type: ignore[return-value]
                 for kind in ("plain", "html"))


def hrefs(page: str) -> dict[str, str]:
    """Each link's text and address, as a reader sees them (HTML entities decoded)."""
    return {html.unescape(re.sub(r"<[^>]+>", "", text)).strip(): html.unescape(url)
            for url, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', page, re.S)}


def test_a_new_lead_reaches_every_address_as_one_designed_email_with_its_text_version(catalogue, smtp):
    inbox, worker = smtp
    account(emails=["accueil@cfa.example", "direction@cfa.example"])
    lead = create_lead(lead_data(contact_value=PHONE_STORED, message="Bonjour,\nje suis motivée."), "v1")
    assert worker.run_once() == 1 and worker.run_once() == 0
    ((rcpt, email),) = inbox.messages  # one message, every address
    assert sorted(rcpt) == ["accueil@cfa.example", "direction@cfa.example"]
    assert email["Message-ID"] == f"<{lead.idempotency_key}@ici-cest-ma-place>"
    assert email["Subject"] == "Nouveau contact « Ici c'est ma place » : Léa, CAP Cuisine"
    text, page = parts(email)
    links = hrefs(page)
    lead_page = f"{PORTAL}/cfa/demandes/{lead.id}"
    assert links["Voir la demande"] == lead_page and f"Voir la demande : {lead_page}" in text
    for status in EMAIL_STATUSES:  # one-click signed links, in both parts
        assert links[t(f"lead.status.{status}")] == status_url(lead.idempotency_key, status)
        assert f"• {t(f'lead.status.{status}')} : {status_url(lead.idempotency_key, status)}" in text
    assert links["Refuser…"] == lead_page  # refusing needs a reason: the portal
    for name in CARD_LABELS:
        assert f">{t(f'lead.card.{name}')}</th><td>" in page and f"\n{t(f'lead.card.{name}')} : " in text
    reasons = ", ".join(reason_labels(["places", "pay"]))
    assert f"{t('lead.card.reasons')}</th><td>{reasons}</td>" in page and f"Motifs : {reasons}" in text
    assert PHONE_SHOWN in page and PHONE_SHOWN in text and "à la rentrée" in text
    assert "> Bonjour,\n> je suis motivée." in text and "Bonjour,<br>je suis motivée." in page
    assert f"Référence de la demande : {lead.idempotency_key}" in text and "Vous recevez cet e-mail" in page
    # Inline styles only, nothing fetched from elsewhere.
    assert not re.search(r"<(link|img|script|style|iframe)\b|url\(|@import", page, re.I)
    assert 'style="' in page and "max-width:600px" in page


@pytest.fixture
def local_webhooks(monkeypatch):
    """The test receivers listen on 127.0.0.1: allowed for portal-saved webhooks by the operator switch only."""
    monkeypatch.setenv("CFA_WEBHOOK_ALLOW_PRIVATE", "1")


def test_contact_details_stay_out_of_the_email_when_the_cfa_asks_but_reach_its_webhook(catalogue, smtp, receiver,
                                                                                       local_webhooks):
    inbox, worker = smtp
    account(emails=["accueil@cfa.example"], contact_in_email=False, webhook_url=f"{receiver.url}/hook",
            webhook_secret="current-secret-of-the-cfa")
    with session_scope() as session:  # the lead form queues a webhook call when the CFA has one
        session.get(CatCfaDelivery, "mq_umih").webhook_url = "https://ancienne-adresse.example/hook"
    lead = create_lead(lead_data(contact_channel="email", contact_value="lea.martin@gmail.example",
                                 message="Rappelez-moi au 0696 11 22 33 ou lea.m@mail.example"), "v1")
    assert worker.run_once() == 2
    text, page = parts(inbox.messages[0][1])
    for part in (text, html.unescape(page)):
        # The phone as typed ("0696 11 22 33"), not bare "0696": a random link signature once held it.
        assert "lea.martin" not in part and "lea.m@" not in part and "0696 11" not in part
        assert "Coordonnées visibles dans l'espace CFA" in part
        assert "Rappelez-moi au [téléphone] ou [e-mail]" in part  # the message, contacts masked
    # The webhook goes to the CFA's own system (signed): the contact is there (our decision).
    (path, _, body), = receiver.requests
    data = json.loads(body)
    assert path == "/hook" and data["contact_value"] == "lea.martin@gmail.example"
    assert data["portal_url"] == f"{PORTAL}/cfa/demandes/{lead.id}"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_reasons_are_always_labels_never_codes(catalogue):
    lead = create_lead(lead_data(reasons=["pay", "bogus_code", "pay"]), "v1")
    with session_scope() as session:
        rows = dict(card_rows(session, session.get(Lead, lead.id)))
    assert rows["Motifs"] == f"{t('lead.value.reason.pay')}, {t('lead.value.reason.other')}"
    assert "bogus" not in rows["Motifs"] and "pay" not in rows["Motifs"].split(", ")


def test_webhook_is_signed_with_both_secrets_during_the_overlap_then_the_new_one_only(catalogue, receiver,
                                                                                     local_webhooks):
    old, new = "old-secret-shared-with-the-cfa", "new-secret-shared-with-the-cfa"
    now = utcnow() + timedelta(minutes=1)  # the worker's clock, after the leads are queued
    account(emails=["accueil@cfa.example"], webhook_url=f"{receiver.url}/hook", webhook_secret=new,
            previous_webhook_secret=old, previous_secret_until=now + timedelta(days=1))
    with session_scope() as session:
        session.get(CatCfaDelivery, "mq_umih").webhook_url = "https://ancienne-adresse.example/hook"
    create_lead(lead_data(), "v1")
    OutboxWorker(SmtpSettings(port=free_port(), timeout=1), clock=lambda: now).run_once()
    _, headers, body = receiver.requests[0]
    stamp, current, previous = headers["X-Signature-Timestamp"], headers["X-Signature"], headers["X-Signature-Previous"]
    assert verify_webhook(body, stamp, current, new)  # X-Signature: the current secret, as before
    assert not verify_webhook(body, stamp, current, old)
    assert verify_webhook(body, stamp, current, old, previous_signature=previous)  # a receiver not yet switched
    assert verify_webhook(body, stamp, current, new, previous_signature=previous)
    assert not verify_webhook(body, stamp, current, "a-third-secret-of-some-length", previous_signature=previous)
    create_lead(lead_data(rome="G1603"), "v1")  # after the overlap: one signature
    OutboxWorker(SmtpSettings(port=free_port(), timeout=1), clock=lambda: now + timedelta(days=2)).run_once()
    _, headers, body = receiver.requests[1]
    assert "X-Signature-Previous" not in headers
    assert verify_webhook(body, headers["X-Signature-Timestamp"], headers["X-Signature"], new)


class PickyInbox(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("ancienne"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_one_refused_address_does_not_stop_the_others_and_is_not_logged(catalogue, caplog):
    inbox, port = PickyInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    account(emails=["ancienne@cfa.example", "accueil@cfa.example"])
    create_lead(lead_data(), "v1")
    try:
        with caplog.at_level(logging.WARNING):
            assert OutboxWorker(SmtpSettings(port=port)).run_once() == 1
    finally:
        controller.stop()
    assert [rcpt for rcpt, _ in inbox.messages] == [["accueil@cfa.example"]]
    with session_scope() as session:
        assert session.scalars(select(OutboxMessage.state)).all() == ["sent"]
    assert "1 of 2 addresses refused (SMTP 550)" in caplog.text and "ancienne" not in caplog.text


def sent_lead(**extra) -> Lead:
    lead = create_lead(lead_data(**extra), "v1")
    with session_scope() as session:
        row = session.get(Lead, lead.id)
        row.status = "sent"
        row.outbox[0].state, row.outbox[0].sent_at = "sent", utcnow() - timedelta(days=10)
    return lead


def queue(kind: str, lead: Lead | None = None, cfa_id: str | None = None, **values) -> None:
    with session_scope() as session:
        session.add(OutboxMessage(lead_id=lead.id if lead else None, cfa_id=cfa_id, channel="email", kind=kind,
                                  next_attempt_at=utcnow() - timedelta(seconds=1), **values))


def received(inbox) -> dict[str, EmailMessage]:
    return {message["Subject"]: message for _, message in inbox.messages}


def test_reminders_and_follow_up_notes_name_the_young_person_and_say_what_happened(catalogue, smtp):
    inbox, worker = smtp
    account(emails=["accueil@cfa.example"], contact_in_email=False)
    lea = sent_lead()
    noa = sent_lead(chat_id="7", first_name="Noa", rome="G1603", training="BP Arts de la cuisine")
    queue("reminder", lea, dedup_key=f"reminder:1:{lea.id}", payload={"step": 1})
    queue("reminder", lea, dedup_key=f"reminder:2:{lea.id}", payload={"step": 2})
    queue("nudge", lea)
    queue("withdrawn", noa)
    with session_scope() as session:
        session.add(LeadMessage(lead_id=noa.id, direction="young", state="received",
                                text="Oui jeudi ça me va, appelez le 0696 99 88 77"))
    queue("reply", noa)
    assert worker.run_once() == 5
    mails = received(inbox)
    by_id = {message["Message-ID"]: message for _, message in inbox.messages}
    first, second = by_id[f"<reminder.1.{lea.id}@ici-cest-ma-place>"], by_id[f"<reminder.2.{lea.id}@ici-cest-ma-place>"]
    assert first["Subject"] == second["Subject"] == "Rappel : Nouveau contact « Ici c'est ma place » : Léa, CAP Cuisine"
    text, page = parts(first)
    assert "il y a 2 jours ouvrés" in text and "Léa attend votre réponse" in page
    assert all(f">{t(f'lead.card.{name}')}</th><td>" in page for name in CARD_LABELS)  # the card, to call now
    assert "depuis 5 jours ouvrés" in parts(second)[0]
    nudge = mails["Léa attend toujours votre appel (CAP Cuisine)"]
    text, page = parts(nudge)
    assert "pas encore" in text and hrefs(page)["Voir la demande"] == f"{PORTAL}/cfa/demandes/{lea.id}"
    assert hrefs(page)[t("lead.status.contacted")] == status_url(lea.idempotency_key, "contacted")
    withdrawn = parts(mails["Demande fermée : Noa, BP Arts de la cuisine"])[0]
    assert "ne plus être intéressé·e" in withdrawn and "BP Arts de la cuisine" in withdrawn
    text, page = parts(mails["Nouvelle réponse de Noa (BP Arts de la cuisine)"])
    assert "> Oui jeudi ça me va, appelez le [téléphone]" in text and not TYPED_PHONE.search(page)  # contact option
    assert hrefs(page)["Lire et répondre"] == f"{PORTAL}/cfa/demandes/{noa.id}"
    for _, message in inbox.messages:  # none shows the young person's phone (contact_in_email False)
        assert not TYPED_PHONE.search(message.as_string()) and "+596" not in message.as_string()


def test_a_reminder_for_a_lead_answered_meanwhile_or_a_lead_closed_before_its_email_is_not_sent(catalogue, smtp):
    inbox, worker = smtp
    lea = sent_lead()
    queue("reminder", lea, dedup_key=f"reminder:1:{lea.id}", payload={"step": 1})
    withdrawn = create_lead(lead_data(chat_id="5", rome="G1603"), "v1")  # its e-mail still waiting
    with session_scope() as session:
        apply_status(session, lea.idempotency_key, "interview")
        apply_status(session, withdrawn.idempotency_key, "withdrawn", by="user")
    assert worker.run_once() == 0 and inbox.messages == []
    with session_scope() as session:
        states = session.execute(select(OutboxMessage.lead_id, OutboxMessage.kind, OutboxMessage.state)
                                 .where(OutboxMessage.channel == "email", OutboxMessage.state != "sent")).all()
    assert sorted(states) == [(lea.id, "reminder", "skipped"), (withdrawn.id, "lead", "skipped")]


def test_rerouted_lead_tells_the_first_cfa_without_naming_the_other(catalogue, smtp):
    inbox, worker = smtp
    lea = sent_lead()
    queue("rerouted", lea, payload={"new_cfa_id": "mq_cma"})
    assert worker.run_once() == 1
    text, page = parts(inbox.messages[0][1])
    assert "a choisi d'envoyer sa demande « CAP Cuisine » à un autre établissement" in text
    assert "CMA" not in text.upper().replace("CAP CUISINE", "") and not TYPED_PHONE.search(text)  # no card: nobody calls


def test_weekly_digest_lists_open_leads_waiting_first_and_a_paused_cfa_still_gets_it(catalogue, smtp):
    inbox, worker = smtp
    waiting = sent_lead()
    answered = sent_lead(chat_id="8", first_name="Noa", rome="G1603")
    closed = sent_lead(chat_id="9", first_name="Zoé", rome="G1803")
    account(emails=["accueil@cfa.example"], paused_at=utcnow(), paused_by="staff@akto.example")  # no new leads
    with session_scope() as session:
        apply_status(session, answered.idempotency_key, "contacted")
        apply_status(session, closed.idempotency_key, "enrolled")
    queue("digest", cfa_id="mq_umih", dedup_key="digest:mq_umih:2026-W49")
    assert worker.run_once() == 1
    ((rcpt, email),) = inbox.messages
    assert rcpt == ["accueil@cfa.example"] and email["Subject"] == "Vos demandes en cours : 2, dont 1 sans réponse"
    assert email["Message-ID"] == "<digest.mq_umih.2026-W49@ici-cest-ma-place>" and email["X-Lead-Key"] is None
    text, page = parts(email)
    assert text.index("Léa") < text.index("Noa") and "Zoé" not in text  # waiting first, closed left out
    assert re.search(r"- Léa – CAP Cuisine \[Sans réponse\] · .+ · arrivée il y a \d+ jours? ouvrés?\n", text)
    assert hrefs(page)["Léa"] == f"{PORTAL}/cfa/demandes/{waiting.id}"
    assert hrefs(page)["Ouvrir l'espace CFA"] == f"{PORTAL}/cfa/demandes"
    assert not TYPED_PHONE.search(email.as_string())  # no contact in a digest


def test_the_status_page_knows_the_new_statuses(catalogue, monkeypatch):
    server = serve_in_background("127.0.0.1", 0)
    try:
        monkeypatch.setenv("LEAD_LINKS_BASE_URL", f"http://127.0.0.1:{server.server_port}")
        lea = sent_lead()
        link = status_url(lea.idempotency_key, "interview")
        assert "Entretien prévu" in httpx.get(link).text
        done = httpx.post(link)
        assert done.status_code == 200 and "Entretien prévu" in done.text
    finally:
        server.shutdown()
    with session_scope() as session:
        assert session.get(Lead, lea.id).status == "interview"


def test_preview_writes_the_lead_and_digest_emails(catalogue, tmp_path):
    from akto_data.leads.emails import main

    sent_lead()
    out = tmp_path / "preview"
    assert main(["--preview", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["digest.html", "digest.txt", "lead.html", "lead.txt"]
    assert "Voir la demande" in (out / "lead.html").read_text()



# -- Review fixes ----------------------------------------------------------------------------------------------
def our_logs(caplog) -> str:
    """What our code logged (aiosmtpd and httpx log their own peers' addresses at INFO in tests)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("akto_data"))



@pytest.mark.parametrize("where", ["http://127.0.0.1:{port}/hook", "https://localhost:{port}/hook",
                                   "https://[::1]:{port}/hook"])
def test_a_webhook_typed_in_the_portal_towards_our_own_machine_is_never_called(catalogue, smtp, receiver, caplog,
                                                                               where):
    """The worker runs inside our network: a CFA's webhook at 127.0.0.1 (the bot, Rasa…) gets no request."""
    inbox, worker = smtp
    port = receiver.server.server_port
    account(emails=["accueil@cfa.example"], webhook_url=where.format(port=port), webhook_secret="s" * 40)
    lead = create_lead(lead_data(), "v1")
    with caplog.at_level(logging.INFO):
        assert worker.run_once() == 1  # the e-mail still goes
        assert worker.run_once() == 0  # the refused call is not retried
    assert receiver.requests == [] and len(inbox.messages) == 1
    with session_scope() as session:
        hook = session.scalars(select(OutboxMessage).where(OutboxMessage.lead_id == lead.id,
                                                           OutboxMessage.channel == "webhook")).one()
        assert hook.state == "failed" and hook.attempts == 1
        assert "webhook refusé" in (hook.last_error or "")
        assert ("interne" in hook.last_error) or ("https:// obligatoire" in hook.last_error)
    ours = our_logs(caplog)
    assert "webhook refusé" in ours and str(port) not in ours and "localhost" not in ours and "127.0.0.1" not in ours


def test_the_delivery_files_webhook_is_still_trusted_as_before(catalogue, smtp, receiver):
    """The operator's delivery file (not the portal) may keep a local receiver: no switch needed."""
    inbox, worker = smtp
    with session_scope() as session:
        row = session.get(CatCfaDelivery, "mq_umih")
        row.webhook_url, row.webhook_secret = f"{receiver.url}/hook", "s" * 40
    create_lead(lead_data(), "v1")
    assert worker.run_once() == 2 and len(receiver.requests) == 1


def test_the_previous_addresses_are_told_when_the_settings_change_without_any_secret(catalogue, smtp):
    from akto_data.cfa.settings import rotate_secret, save_settings

    inbox, worker = smtp
    account(emails=["accueil@cfa.example", "direction@cfa.example"])
    public = lambda host, port, **_: [(2, 1, 6, "", ("93.184.215.14", port))]  # noqa: E731 (no DNS in tests)
    with session_scope() as session:
        saved = save_settings(session, "mq_umih", "cfa:mq_umih accueil@cfa.example",
                              emails=["pirate@autre.example"], contact_in_email=True,
                              webhook_url="https://crm.autre.example/hook?token=abc123", resolve=public)
        secret = saved.new_secret
    assert secret and worker.run_once() == 1
    ((rcpt, email),) = inbox.messages
    assert sorted(rcpt) == ["accueil@cfa.example", "direction@cfa.example"]  # the old addresses, not the new one
    assert email["Subject"] == "Les réglages de votre espace CFA ont changé"
    text, page = parts(email)
    for part in (text, html.unescape(page)):
        assert "pirate@autre.example" in part and "direction@cfa.example" in part  # added, removed
        assert "https://crm.autre.example/hook" in part and "token" not in part and "abc123" not in part
        assert "par accueil@cfa.example" in part and "(heure UTC)" in part
        assert "Si ce n'est pas vous, contactez AKTO" in part
        assert secret not in part and "renouvelé" in part
    assert "Ici c'est ma place" in page and "max-width:600px" in page  # the layout of every CFA e-mail
    # A rotation warns the addresses in force; a save that changes nothing warns nobody.
    with session_scope() as session:
        new = rotate_secret(session, "mq_umih", "cfa:mq_umih pirate@autre.example")
        save_settings(session, "mq_umih", "cfa:mq_umih pirate@autre.example", emails=["pirate@autre.example"],
                      contact_in_email=True, webhook_url="https://crm.autre.example/hook?token=abc123",
                      resolve=public)
    assert worker.run_once() == 1 and worker.run_once() == 0
    rcpt, email = inbox.messages[-1]
    assert rcpt == ["pirate@autre.example"] and new not in email.as_string() and secret not in email.as_string()
    with session_scope() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "settings")).all()
        assert [row.lead_id for row in rows] == [None, None] and all(row.cfa_id == "mq_umih" for row in rows)
        assert secret not in json.dumps([row.payload for row in rows])


def test_a_webhook_only_cfa_gets_its_notes_skipped_not_retried_and_its_leads_kept(catalogue, smtp, caplog,
                                                                                 local_webhooks, receiver):
    inbox, worker = smtp
    account(emails=[], webhook_url=f"{receiver.url}/hook", webhook_secret="s" * 40)
    with session_scope() as session:  # not in the delivery file either: no address at all
        session.delete(session.get(CatCfaDelivery, "mq_umih"))
    lea = create_lead(lead_data(), "v1")
    queue("nudge", lea)
    queue("digest", cfa_id="mq_umih", dedup_key="digest:mq_umih:2026-W49")
    queue("settings", cfa_id="mq_umih", payload={"to": [], "by": "x", "at": "2026-11-30T10:00"})
    with caplog.at_level(logging.INFO):
        worker.run_once()
    assert inbox.messages == [] and len(receiver.requests) == 1
    with session_scope() as session:
        rows = {row.kind: row for row in session.scalars(select(OutboxMessage).where(
            OutboxMessage.channel == "email"))}
        assert {kind: (row.state, row.attempts) for kind, row in rows.items()} == {
            "lead": ("pending", 1), "nudge": ("skipped", 1), "digest": ("skipped", 1), "settings": ("skipped", 1)}
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("akto_data")]
    assert warned and all("email lead" in line for line in warned)  # only the lead, which waits for an address
    assert "no e-mail address, skipped" in our_logs(caplog) and "@" not in our_logs(caplog)


def test_no_nudge_email_once_the_cfa_has_answered_the_young_person(catalogue, smtp):
    inbox, worker = smtp
    lea = sent_lead()
    queue("nudge", lea)
    with session_scope() as session:
        apply_status(session, lea.idempotency_key, "contacted")  # the CFA called in the meantime
    assert worker.run_once() == 0 and inbox.messages == []
    with session_scope() as session:
        assert session.scalars(select(OutboxMessage.state).where(OutboxMessage.kind == "nudge")).one() == "skipped"
