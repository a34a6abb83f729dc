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
            browser.close()
        server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
