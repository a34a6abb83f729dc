"""``python -m web.screenshots [DIR]``: screenshots of the console's main pages for the README.

Builds a throw-away database (catalogue, an admin, an advisor, 2,000 synthetic
conversations for the analytics, a few unanswered messages, one takeover request),
serves the real console on a free port and photographs each page with Debian's
Chromium (Playwright). Writes PNG files into ``DIR`` (default ``docs/screenshots``).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

PAGES = (
    ("accueil", "/"),
    ("contenu-faq", "/contenu/faq/ask_poec"),
    ("versions", "/contenu/versions"),
    ("non-compris", "/inbox"),
    ("modeles", "/models"),
    ("statistiques", "/analytics"),
    ("conversations", "/conseiller"),
    ("comptes", "/admin/accounts"),
    ("journal", "/admin/audit"),
)
ADMIN = ("admin@akto.example", "Adèle Admin", "un-mot-de-passe-solide")
#: The CFA portal (issue 12), seen by the CFA whose leads :func:`_seed_portal` makes.
PORTAL_CFA = ("mq_umih", "leads@mq-umih.example")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed() -> None:
    from sqlalchemy import insert

    from akto_data.analytics.aggregate import run_until_caught_up
    from akto_data.analytics.synthetic import make_specs, store
    from akto_data.catalogue.importer import import_catalogue
    from akto_data.db import create_schema, get_engine, session_scope
    from akto_data.models import UnansweredMessage
    from akto_data.personal_data import RASA_EVENTS
    from akto_data.staff.accounts import create_account
    from akto_data.takeover.core import ASKED, request_takeover

    create_schema()
    import_catalogue()
    with get_engine().begin() as connection:
        RASA_EVENTS.create(connection, checkfirst=True)
        store(connection, make_specs(2000, date.today() - timedelta(days=27), 28))
    run_until_caught_up(now=datetime.now(UTC) + timedelta(minutes=5))
    with session_scope() as session:
        create_account(session, email=ADMIN[0], name=ADMIN[1], role="admin", password=ADMIN[2], actor="capture")
        create_account(session, email="charles@akto.example", name="Charles Conseiller", role="advisor",
                       password="mot-de-passe-charles", territories=["martinique"], actor=ADMIN[0])
        session.execute(insert(UnansweredMessage), [
            {"text": text, "reason": reason, "guessed_topic": topic, "confidence": confidence, "territory": place}
            for text, reason, topic, confidence, place in (
                ("c koi la poec", "fallback", "ask_poec", 0.21, "martinique"),
                ("cest koi la POEC svp", "fallback", "ask_poec", 0.18, "guadeloupe"),
                ("ya des aides pour manger a la cantine du cfa", "fallback", "ask_aids", 0.14, "reunion"),
                ("aide pour la cantine du CFA ?", "negative_feedback", "ask_aids", 0.32, "martinique"),
                ("il fait beau aujourd'hui", "fallback", "greet", 0.09, None))])
        request_takeover(session, "capture-chat-1", "martinique", ASKED, datetime.now(UTC))


def _seed_portal() -> tuple[str, int]:
    """A dozen leads for one CFA, in every state of the list; returns a login token and the lead to show."""
    import secrets

    from sqlalchemy import select

    from akto_data.cfa.login import token_hash
    from akto_data.cfa.models import CfaLoginLink
    from akto_data.db import session_scope
    from akto_data.leads.delivery import mark_sent
    from akto_data.leads.lifecycle import apply_status
    from akto_data.leads.models import LeadStatusEvent
    from akto_data.leads.store import create_lead

    now = datetime.now(UTC)
    people = (("Léa", 19, "rentree", "places", None, 0), ("Kenzo", 17, "now", "employer", "contacted", 1),
              ("Maëva", 22, "rentree", "pay", "interview", 2), ("Jordan", 18, "this_year", "content", None, 3),
              ("Inès", 20, "now", "schedule", "enrolled", 6), ("Noah", 16, "rentree", "places", "refused", 8),
              ("Chloé", 24, "unknown", "pay", "not_reachable", 9), ("Dylan", 19, "now", "employer", None, 12))
    shown = 0
    with session_scope() as session:
        for number, (name, age, start, reason, status, days) in enumerate(people):
            lead = create_lead({
                "chat_id": str(900_000 + number), "cfa_id": PORTAL_CFA[0], "rome": "G1602",
                "training": "CAP Cuisine" if number % 3 else "BP Arts de la cuisine", "first_name": name, "age": age,
                "territory": "martinique", "town": "Le Lamentin" if number % 2 else "Fort-de-France",
                "diploma_level": 3, "start_when": start, "has_employer": reason == "employer", "mobility": "none",
                "contact_channel": "phone", "contact_value": f"+59669612345{number}", "reasons": [reason, "pay"],
                "message": ("Bonjour, j'ai fait un stage en restauration à Schoelcher et je voudrais continuer "
                            "en alternance. Je suis disponible tous les jours." if number == 0 else None)},
                "2026-03", 3, session)
            lead.created_at = now - timedelta(days=days, hours=number, minutes=30)
            for event in session.scalars(select(LeadStatusEvent).where(LeadStatusEvent.lead_id == lead.id)):
                event.at = lead.created_at  # "new": when the lead was made, not when the seed ran
            session.flush()
            mark_sent(session, lead.id, lead.created_at + timedelta(minutes=1))
            if status:
                apply_status(session, lead.idempotency_key, "read", by="cfa", now=lead.created_at)
                apply_status(session, lead.idempotency_key, status, by="cfa", now=now - timedelta(days=days / 2),
                             reason="full" if status == "refused" else None)
            if number == 0:
                shown = lead.id
        token = secrets.token_urlsafe(32)
        session.add(CfaLoginLink(token_hash=token_hash(token), cfa_id=PORTAL_CFA[0], email=PORTAL_CFA[1],
                                 expires_at=now + timedelta(hours=1)))
    return token, shown


def _portal(browser: object, base: str, token: str, lead_id: int, out: Path) -> None:
    """The CFA's pages: login, its leads, one lead (desktop), and the lead on a phone."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    shots = [("portail-connexion", "/cfa/connexion"), ("portail-demandes", "/cfa/demandes"),
             ("portail-demande", f"/cfa/demandes/{lead_id}")]
    for name, path in shots:
        if name == "portail-demandes":
            page.goto(f"{base}/cfa/lien/{token}")
            with page.expect_navigation():
                page.get_by_role("button", name="Se connecter").click()
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"{name}.png"), full_page=name != "portail-connexion")
        print(f"{name}: {out / (name + '.png')}")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR", is_mobile=True,
                                device_scale_factor=2, storage_state=context.storage_state())
    tab = phone.new_page()
    tab.goto(f"{base}/cfa/demandes")
    tab.wait_for_load_state("networkidle")
    tab.screenshot(path=str(out / "portail-demandes-mobile.png"), full_page=False)
    print(f"portail-demandes-mobile: {out / 'portail-demandes-mobile.png'}")
    phone.close()
    context.close()


def _seed_cfa_settings() -> str:
    """Issue 12 (H2): a pending training proposal of the portal's CFA, a paused CFA; returns a login token."""
    import secrets

    from akto_data.cfa import performance, proposals
    from akto_data.cfa.login import token_hash
    from akto_data.cfa.models import CfaLoginLink
    from akto_data.db import session_scope

    with session_scope() as session:
        rows = [{"rome": tr.rome, "diploma": tr.diploma, "level": str(tr.level)}
                for tr in proposals.current_trainings(session, PORTAL_CFA[0]) if tr.rome != "G1703"]
        rows.append({"rome": "G1603", "diploma": "BP Arts du service et commercialisation en restauration",
                     "level": "4"})
        proposals.propose(session, PORTAL_CFA[0], f"cfa:{PORTAL_CFA[0]} {PORTAL_CFA[1]}",
                          proposals.read_trainings(session, rows), "Nouvelle section BP service à la rentrée 2027")
        performance.pause(session, "gp_urma", "Adresse e-mail en erreur depuis octobre", ADMIN[0])
        token = secrets.token_urlsafe(32)
        session.add(CfaLoginLink(token_hash=token_hash(token), cfa_id=PORTAL_CFA[0], email=PORTAL_CFA[1],
                                 expires_at=datetime.now(UTC) + timedelta(hours=1)))
    return token


def _cfa_settings(browser: object, staff_page: object, base: str, token: str, out: Path) -> None:
    """Issue 12 (H2): the staff pages about CFAs, and the CFA's settings page."""
    from playwright.sync_api import Browser, Page

    assert isinstance(browser, Browser) and isinstance(staff_page, Page)
    for name, path in (("cfa-reponses", "/cfas"), ("cfa-propositions", "/cfas/propositions")):
        staff_page.goto(base + path)
        staff_page.wait_for_load_state("networkidle")
        staff_page.screenshot(path=str(out / f"{name}.png"), full_page=False)
        print(f"{name}: {out / (name + '.png')}")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/cfa/lien/{token}?next=/cfa/reglages")
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "portail-reglages.png"), full_page=True)
    print(f"portail-reglages: {out / 'portail-reglages.png'}")
    context.close()


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(DATABASE_URL=f"sqlite:///{tmp}/capture.db", ASSISTANT_VAR_DIR=f"{tmp}/var")
        import uvicorn
        from playwright.sync_api import sync_playwright

        from akto_data.db import dispose_engines
        from akto_data.settings import load_settings
        from web.app import create_app

        dispose_engines()
        _seed()
        portal_token, portal_lead = _seed_portal()
        settings_token = _seed_cfa_settings()
        port = _port()
        server = uvicorn.Server(uvicorn.Config(create_app(load_settings()), host="127.0.0.1", port=port,
                                               log_config=None, access_log=False))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
            page.goto(f"{base}/login")
            page.fill("input[name=email]", ADMIN[0])
            page.fill("input[name=password]", ADMIN[2])
            with page.expect_navigation():
                page.click("button[type=submit]")
            for name, path in PAGES:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                if name == "contenu-faq" and page.locator("text=Aperçu Telegram").count():
                    page.click("text=Aperçu Telegram")
                    page.wait_for_timeout(500)
                page.screenshot(path=str(out / f"{name}.png"), full_page=False)
                print(f"{name}: {out / (name + '.png')}")
            _portal(browser, base, portal_token, portal_lead, out)
            _cfa_settings(browser, page, base, settings_token, out)
            browser.close()
        server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
