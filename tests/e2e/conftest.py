"""The whole stack for end-to-end tests, started once per session.

Real parts everywhere a user meets them: the ``telegram-test-api`` emulator (Node),
Rasa 3.6 in its own environment with the trained model, the rasa-sdk action server,
and our bot built by :class:`bot.telegram_front.TelegramFront` polling the emulator.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from akto_data.catalogue.importer import import_catalogue
from akto_data.db import create_schema, dispose_engines
from akto_data.settings import PROJECT_ROOT, Settings, load_settings
from bot.telegram_front import TelegramFront
from stack.model import ensure_model
from stack.services import Stack
from tests.e2e.emulator import EmulatedUser, EmulatorBridge, new_user_id
from tests.web.conftest import CHROMIUM

EMULATOR_DIR = PROJECT_ROOT / "tests" / "emulator"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def base_settings(e2e_dir) -> Settings:
    os.environ["DATABASE_URL"] = f"sqlite:///{e2e_dir / 'assistant.db'}"
    os.environ["RASA_URL"] = f"http://127.0.0.1:{free_port()}"
    os.environ["ACTION_SERVER_URL"] = f"http://127.0.0.1:{free_port()}/webhook"
    # Shared secrets of Rasa's API and the action server, known to the tests that call them.
    os.environ.setdefault("RASA_AUTH_TOKEN", secrets.token_urlsafe(24))
    os.environ.setdefault("ACTION_SERVER_TOKEN", secrets.token_urlsafe(24))
    dispose_engines()
    create_schema()
    import_catalogue()
    return load_settings()


@pytest.fixture(scope="session")
def emulator_url() -> str:
    if not (EMULATOR_DIR / "node_modules" / "telegram-test-api").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=EMULATOR_DIR, check=True)
    port = free_port()
    process = subprocess.Popen(["node", "server.js", str(port)], cwd=EMULATOR_DIR, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert "EMULATOR_READY" in line, line
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def rasa_stack(base_settings, e2e_dir):
    model = ensure_model()
    with Stack(base_settings, log_dir=e2e_dir / "log") as stack:
        stack.start(stack.action_server())
        stack.start(stack.rasa_server(model))
        stack.wait_healthy(timeout=300)
        yield stack


class RunningBot:
    def __init__(self, front: TelegramFront, emulator_url: str) -> None:
        self.front = front
        self.emulator_url = emulator_url

    def user(self) -> EmulatedUser:
        return EmulatedUser(self.emulator_url, self.front.settings.telegram_token, new_user_id())


async def start_bot(settings: Settings, emulator_url: str, *, polling: bool = True) -> RunningBot:
    """Start the product's Telegram front in this event loop, as ``run_polling`` would."""
    front = TelegramFront(settings)
    app = front.build(request=EmulatorBridge(), updates_request=EmulatorBridge())
    await app.initialize()
    await front._post_init(app)
    await app.start()
    if polling:
        await app.updater.start_polling(poll_interval=0.05, timeout=0)
    return RunningBot(front, emulator_url)


async def stop_bot(bot: RunningBot) -> None:
    app = bot.front.application
    if app.updater.running:
        await app.updater.stop()
    await app.stop()
    await app.shutdown()
    await bot.front._post_shutdown(app)


def bot_settings(base: Settings, emulator_url: str, token: str, **overrides) -> Settings:
    return replace(
        base, telegram_token=token, telegram_api_base_url=f"{emulator_url}/bot",
        chat_min_interval=0.05, **overrides,
    )


@pytest_asyncio.fixture(scope="session")
async def bot(rasa_stack, base_settings, emulator_url) -> AsyncIterator[RunningBot]:
    settings = bot_settings(base_settings, emulator_url, "e2e-main-token", flood_max_messages=6, flood_window=20.0)
    running = await start_bot(settings, emulator_url)
    yield running
    await stop_bot(running)


@pytest_asyncio.fixture
async def user(bot) -> AsyncIterator[EmulatedUser]:
    person = bot.user()
    yield person
    await person.aclose()


@pytest_asyncio.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium under async Playwright, for e2e tests that also drive the Telegram
    emulator in the same event loop (the sync fixtures of tests/web cannot share it)."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        await browser.close()
