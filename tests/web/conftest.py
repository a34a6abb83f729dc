"""The staff console for browser tests: the real app under uvicorn on 127.0.0.1, a
fresh SQLite database with the catalogue, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ADMIN = ("admin@akto.example", "Adèle Admin", "un-mot-de-passe-solide")


def pytest_collection_modifyitems(items):
    for item in items:
        if "/web/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Console:
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)


@contextmanager
def serve_console() -> Iterator[Console]:
    """The real console app under uvicorn, in a thread, on a free port of 127.0.0.1,
    on the database the environment names (each test sets DATABASE_URL first)."""
    import uvicorn

    from akto_data.settings import load_settings
    from web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(load_settings()), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "console did not start"
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def console(catalogue, tmp_path, monkeypatch) -> Iterator[Console]:
    """The console app served by uvicorn in a thread, with one admin account."""

    from akto_data.db import session_scope
    from akto_data.staff.accounts import create_account
    from web.routes import auth

    monkeypatch.setenv("ASSISTANT_VAR_DIR", str(tmp_path / "var"))
    auth._attempts.clear()
    with session_scope() as session:
        create_account(session, email=ADMIN[0], name=ADMIN[1], role="admin", password=ADMIN[2], actor="test")
    with serve_console() as served:
        yield served


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def login(page, console: Console, email: str = ADMIN[0], password: str = ADMIN[2]) -> None:
    page.goto(f"{console.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
