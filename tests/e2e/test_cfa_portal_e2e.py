"""Issue 12, section 1, end to end: a CFA logs in to its portal with the link of a real
e-mail, changes a lead's status, and the young person who asked reads it in Telegram.

Real parts: the aiosmtpd server receiving the login e-mail, the console under uvicorn in
Debian's Chromium (Playwright), the ``telegram-test-api`` emulator, and our bot (the only
process holding the token) sending the notice. Rasa is not needed (the young person
only reads), so this file starts no Rasa stack and stays quick.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import expect

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.delivery import mark_sent
from akto_data.leads.store import create_lead
from akto_data.models import utcnow
from tests.e2e.conftest import RunningBot, bot_settings, start_bot, stop_bot
from tests.unit.test_lead_delivery import lead_data
from tests.web.conftest import Console, serve_console

CFA = ("mq_umih", "leads@mq-umih.example", "CFA de l'UMIH Martinique")


@pytest_asyncio.fixture(scope="module")
async def notice_bot(base_settings, emulator_url) -> AsyncIterator[RunningBot]:
    """Our bot, sending the due notices (no polling: the young person only reads here).

    Same token as the session's shared bot: if that one runs too, whichever claims the
    notice sends it to the same emulated chat.
    """
    running = await start_bot(bot_settings(base_settings, emulator_url, "e2e-main-token", lead_notice_interval=0.3),
                              emulator_url, polling=False)
    yield running
    await stop_bot(running)


@pytest.fixture(scope="module")
def console(base_settings) -> Iterator[Console]:
    os.environ.setdefault("CONSOLE_SECRET", secrets.token_urlsafe(32))
    with serve_console() as served:
        yield served


async def test_cfa_logs_in_from_the_email_sets_a_status_and_the_young_person_reads_it_in_telegram(
        notice_bot, console, chromium, smtp_inbox, monkeypatch):
    inbox, smtp_port = smtp_inbox
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("PORTAL_BASE_URL", console.url)
    user = notice_bot.user()
    with session_scope() as session:  # the lead the young person made in Telegram, delivered to the CFA
        lead = create_lead(lead_data(chat_id=str(user.user_id), cfa_id=CFA[0], first_name="Léa"), "v1", 3, session)
        mark_sent(session, lead.id, utcnow())
        lead_id = lead.id

    context = await chromium.new_context(locale="fr-FR")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto(f"{console.url}/cfa/demandes")
    await page.fill("input[name=email]", CFA[1])
    async with page.expect_navigation():
        await page.get_by_role("button", name="Recevoir un lien de connexion").click()
    await expect(page.get_by_role("heading", name="Consultez votre messagerie")).to_be_visible()
    _to, mail = inbox.messages[-1]
    link = re.search(r"http://\S+/cfa/lien/[A-Za-z0-9_-]+", mail.get_body(("plain",)).get_content())
    assert link is not None

    await page.goto(link.group(0))
    async with page.expect_navigation():
        await page.get_by_role("button", name="Se connecter").click()
    row = page.locator(f"tr[data-lead='{lead_id}']")
    await expect(row).to_contain_text("À traiter")
    async with page.expect_navigation():
        await row.get_by_role("link", name="Léa").click()
    await expect(page.locator("#current-status")).to_have_text("Lu")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Entretien prévu").click()
    await expect(page.get_by_role("status")).to_contain_text("Statut enregistré : Entretien prévu")

    # The bot tells the young person: "read" first if it went out before the click, then the interview.
    expected = t("lead.notice.interview", cfa=CFA[2], training="CAP Cuisine")
    said: list[str] = []
    while expected not in said:
        said += [message.text for message in await user.replies(timeout=15)]
    assert said[-1] == expected and said.count(expected) == 1
    assert set(said) <= {expected, t("lead.notice.read", cfa=CFA[2], training="CAP Cuisine")}
    await user.aclose()
    await context.close()
