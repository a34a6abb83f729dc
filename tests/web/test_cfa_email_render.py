"""The CFA's e-mail as a phone and a desktop show it: the message actually received by a real
SMTP server (aiosmtpd), its HTML part loaded in Chromium (Playwright) with every request
outside the e-mail recorded and refused.

Screenshots for the README: set ``CFA_EMAIL_SCREENSHOTS`` to a directory (``docs/screenshots``)
and run this file; :func:`shoot` writes ``cfa_email.png`` (phone width) and
``cfa_email_digest.png`` there. Without it they go to the test's temporary directory.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from akto_data.cfa.models import CfaAccount
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.delivery import OutboxWorker, SmtpSettings
from akto_data.leads.emails import reason_labels
from akto_data.leads.lifecycle import apply_status
from akto_data.leads.links import EMAIL_STATUSES, valid_link
from akto_data.leads.models import Lead, OutboxMessage
from akto_data.leads.store import create_lead
from tests.unit.test_lead_delivery import lead_data

PORTAL = "https://portail.akto.example"
EMAIL_URL = "http://email.invalid/message.html"
PHONE, WIDE = {"width": 375, "height": 740}, {"width": 1280, "height": 900}
#: The worker's clock: Monday 7 December 2026, 09:00 in Martinique (the digest's morning).
NOW = datetime(2026, 12, 7, 13, tzinfo=UTC)
CARD = ("first_name", "age", "training", "territory", "diploma_level", "start_when", "has_employer", "mobility",
        "contact", "reasons", "score")


@pytest.fixture
def sent(catalogue, smtp_inbox, monkeypatch):
    """Sends what is queued through the worker to the real SMTP server; returns the e-mails received."""
    monkeypatch.setenv("LEAD_LINKS_SECRET", "a-long-enough-test-secret")
    monkeypatch.setenv("LEAD_LINKS_BASE_URL", "https://suivi.akto.example")
    monkeypatch.setenv("PORTAL_BASE_URL", PORTAL)
    inbox, port = smtp_inbox

    def send(now: datetime = NOW) -> list[EmailMessage]:
        OutboxWorker(SmtpSettings(port=port), clock=lambda: now).run_once()
        return [message for _, message in inbox.messages]

    return send


def lead(**values) -> Lead:
    """A lead with fixed dates (stable screenshots), reached the CFA on Tuesday 1 December."""
    made = create_lead(lead_data(**values), "v1")
    with session_scope() as session:
        session.execute(update(Lead).where(Lead.id == made.id).values(
            consented_at=datetime(2026, 12, 1, 13, 15, tzinfo=UTC), created_at=datetime(2026, 12, 1, 13, 15, tzinfo=UTC)))
        session.execute(update(OutboxMessage).where(OutboxMessage.lead_id == made.id).values(
            next_attempt_at=datetime(2026, 12, 1, 13, 16, tzinfo=UTC)))
    return made


def load(page, html: str, size: dict[str, int]) -> list[str]:
    """Show ``html`` as the mail client would; returns every other address the page asked for."""
    asked: list[str] = []

    def answer(route) -> None:
        if route.request.url == EMAIL_URL:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        else:
            asked.append(route.request.url)
            route.abort()

    page.unroute("**/*")
    page.route("**/*", answer)
    page.set_viewport_size(size)
    page.goto(EMAIL_URL)
    page.wait_for_load_state("networkidle")
    return asked


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def shoot(page, name: str, directory: Path) -> Path:
    """The README's screenshot ``name``.png: the whole e-mail at the current width."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def screenshots(tmp_path: Path) -> Path:
    return Path(os.environ.get("CFA_EMAIL_SCREENSHOTS") or tmp_path)


def test_lead_email_on_a_phone_and_a_desktop(sent, page, tmp_path):
    with session_scope() as session:
        session.add(CfaAccount(cfa_id="mq_umih", emails=["accueil@cfa.example"], contact_in_email=False))
    made = lead(contact_value="+596696123456", reasons=["places", "pay", "schedule"],
                message="Bonjour, je cherche une entreprise pour la rentrée.\n"
                        "Vous pouvez aussi m'écrire : lea.martin@gmail.example")
    (email,) = sent()
    html = email.get_body(("html",)).get_content()
    text = email.get_body(("plain",)).get_content()

    assert load(page, html, PHONE) == []  # no image, font, style sheet or tracker fetched
    assert no_horizontal_scroll(page)
    button = page.get_by_role("link", name="Voir la demande", exact=True)
    assert button.is_visible() and button.get_attribute("href") == f"{PORTAL}/cfa/demandes/{made.id}"
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 40  # a thumb's size
    headers = page.locator("th").all_inner_texts()
    assert [h.strip() for h in headers] == [t(f"lead.card.{name}") for name in CARD]
    reasons = page.locator("th", has_text="Motifs").locator("xpath=following-sibling::td").inner_text()
    assert reasons == ", ".join(reason_labels(["places", "pay", "schedule"])) and "schedule" not in reasons
    for status in EMAIL_STATUSES:
        link = page.get_by_role("link", name=t(f"lead.status.{status}"), exact=True)
        assert link.is_visible()
        address = urlsplit(link.get_attribute("href"))
        assert address.path == f"/lead/{made.idempotency_key}/{status}"
        assert valid_link(made.idempotency_key, status, parse_qs(address.query)["sig"][0])
    refuse = page.get_by_role("link", name="Refuser…")
    assert refuse.is_visible() and refuse.get_attribute("href") == f"{PORTAL}/cfa/demandes/{made.id}"
    shown = page.locator("body").inner_text()
    assert "Coordonnées visibles dans l'espace CFA" in shown and "Référence de la demande" in shown
    for contact in ("+596696123456", "0696 12 34 56", "696123456", "lea.martin", "gmail"):
        assert contact not in shown and contact not in html and contact not in text
    shoot(page, "cfa_email", screenshots(tmp_path))

    assert load(page, html, WIDE) == []
    assert no_horizontal_scroll(page)
    card = page.locator("table table").first.bounding_box()
    assert card["width"] <= 602 and abs(card["x"] * 2 + card["width"] - WIDE["width"]) < 4  # 600 px, centred


def test_weekly_digest_on_a_phone(sent, page, tmp_path):
    with session_scope() as session:
        session.add(CfaAccount(cfa_id="mq_umih", emails=["accueil@cfa.example"]))
    made = [lead(chat_id=str(n), first_name=name, rome=rome, training=training)
            for n, (name, rome, training) in enumerate([("Léa", "G1602", "CAP Cuisine"),
                                                         ("Noa", "G1603", "BP Arts de la cuisine"),
                                                         ("Kenzo", "G1803", "CAP Commercialisation et services")])]
    sent(datetime(2026, 12, 1, 13, 20, tzinfo=UTC))  # the lead e-mails, on Tuesday
    with session_scope() as session:
        apply_status(session, made[1].idempotency_key, "interview", now=NOW)
        session.add(OutboxMessage(lead_id=None, cfa_id="mq_umih", channel="email", kind="digest",
                                  dedup_key="digest:mq_umih:2026-W50", next_attempt_at=NOW))
    digest = sent()[-1]
    assert digest["Subject"] == "Vos demandes en cours : 3, dont 2 sans réponse"
    html = digest.get_body(("html",)).get_content()
    assert load(page, html, PHONE) == []
    assert no_horizontal_scroll(page)
    names = [page.get_by_role("link", name=name, exact=True) for name in ("Léa", "Kenzo", "Noa")]
    assert [n.get_attribute("href") for n in names] == [f"{PORTAL}/cfa/demandes/{m.id}" for m in
                                                        (made[0], made[2], made[1])]
    tops = [n.bounding_box()["y"] for n in names]
    assert tops == sorted(tops)  # waiting for a first answer first, then the answered one
    shown = page.locator("body").inner_text()
    assert shown.count("Sans réponse") == 2
    assert "arrivée il y a 3 jours ouvrés" in shown and "Entretien prévu" in shown
    assert page.get_by_role("link", name="Ouvrir l'espace CFA").get_attribute("href") == f"{PORTAL}/cfa/demandes"
    shoot(page, "cfa_email_digest", screenshots(tmp_path))
