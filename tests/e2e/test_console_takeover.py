"""An AKTO advisor takes a conversation over from the staff console (issue 11, section 5).

Real parts everywhere a person meets them: the young person talks in the Telegram
emulator to our bot, Rasa and the action server; the advisor uses the console in
Debian's Chromium (Playwright), served by uvicorn on the same database as the stack.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.models import utcnow
from akto_data.staff.accounts import create_account
from akto_data.takeover.core import open_request
from akto_data.takeover.models import TakeoverMessage, TakeoverRequest
from tests.web.conftest import Console, serve_console

PASSWORD = "un-mot-de-passe-solide"
MARTINIQUE = ("maelle.conseil@akto.example", "Maëlle Conseil", ["martinique"])
GUADELOUPE = ("gael.conseil@akto.example", "Gaël Conseil", ["guadeloupe"])
#: The young person asks for a human and says where they live (the territory slot).
ASK = "je suis en martinique et je veux parler à un conseiller"


@pytest.fixture(scope="module")
def console(rasa_stack, base_settings) -> Iterator[Console]:
    """The console under uvicorn on the e2e stack's database, with two advisors."""
    from web.routes import auth

    os.environ.setdefault("CONSOLE_SECRET", secrets.token_urlsafe(32))
    auth._attempts.clear()
    with session_scope() as session:
        for email, name, territories in (MARTINIQUE, GUADELOUPE):
            create_account(session, email=email, name=name, role="advisor", password=PASSWORD,
                           territories=territories, actor="test")
    with serve_console() as served:
        yield served


async def advisor_page(chromium: Browser, console: Console, who: tuple[str, str, list[str]]) -> Page:
    """A logged-in advisor on the queue page."""
    context = await chromium.new_context(locale="fr-FR")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto(f"{console.url}/login")
    await page.fill("input[name=email]", who[0])
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    await page.goto(f"{console.url}/conseiller")
    return page


def request_of(chat: str) -> int:
    with session_scope() as session:
        found = open_request(session, chat)
        assert found is not None, "the request did not reach the queue"
        return found.id


def rows_of(chat: str) -> tuple[int, int]:
    with session_scope() as session:
        return (session.scalar(select(func.count()).select_from(TakeoverRequest)
                               .where(TakeoverRequest.chat_id == chat)) or 0,
                session.scalar(select(func.count()).select_from(TakeoverMessage)
                               .where(TakeoverMessage.chat_id == chat)) or 0)


async def take_over(page: Page, console: Console, request_id: int) -> None:
    row = page.locator(f"tr[data-request='{request_id}']")
    await expect(row).to_be_visible()
    async with page.expect_navigation():
        await row.get_by_role("button", name="Prendre la conversation").click()
    assert page.url.endswith(f"/conseiller/{request_id}")


async def assert_silent(user, seconds: float = 3.0) -> None:
    """The assistant says nothing (it is paused for this chat)."""
    with pytest.raises(AssertionError):
        await user.replies(timeout=seconds)


async def test_takeover_end_to_end_from_telegram_to_the_browser_and_back(user, console, chromium):
    chat = str(user.user_id)
    page = await advisor_page(chromium, console, MARTINIQUE)
    await expect(page.get_by_role("heading", name="Conversations à reprendre")).to_be_visible()

    # Nobody on duty: the young person is told when someone will answer; the request waits.
    await user.say(ASK)
    told = (await user.replies())[-1].text
    assert "Aucun conseiller AKTO n'est disponible" in told and "du lundi au vendredi, de 8 h à 17 h" in told
    request_id = request_of(chat)
    # It appears in the advisor's queue without a reload (htmx polling).
    await take_over(page, console, request_id)

    assert (await user.replies())[-1].text == t("takeover.started", name="Maëlle")
    transcript = page.locator("ol.transcript")
    await expect(transcript).to_contain_text(ASK)  # the conversation so far, from Rasa's events
    await expect(transcript).to_contain_text("Aucun conseiller AKTO n'est disponible")

    await page.fill("textarea[name=text]", "Bonjour, je suis Maëlle d'AKTO : quel métier t'intéresse ?")
    await page.click("#reply-box button[type=submit]")
    assert (await user.replies())[-1].text == "Bonjour, je suis Maëlle d'AKTO : quel métier t'intéresse ?"
    await expect(page.locator("textarea[name=text]")).to_have_value("")
    # Escaped like every answer: Telegram's HTML mode shows "<3 & co" as typed.
    await page.fill("textarea[name=text]", "<3 & co")
    await page.click("#reply-box button[type=submit]")
    assert (await user.replies())[-1].text == "&lt;3 &amp; co"

    await user.say("la cuisine, je cherche un CAP en alternance")
    await expect(transcript).to_contain_text("la cuisine, je cherche un CAP en alternance")
    await assert_silent(user)  # Rasa did not get it

    async with page.expect_navigation():
        await page.get_by_role("button", name="Rendre la main à l'assistant").click()
    assert (await user.replies())[-1].text == t("takeover.ended.advisor")
    await expect(page.locator(".takeover-status")).to_contain_text("terminée")

    await user.say("c'est quoi l'alternance ?")
    answer = (await user.replies())[-1].text
    assert "apprentissage" in answer.lower() and not answer.startswith("Le conseiller")
    await page.context.close()


async def test_annuler_gives_the_chat_back_and_an_advisor_on_duty_is_announced(user, console, chromium):
    chat = str(user.user_id)
    page = await advisor_page(chromium, console, MARTINIQUE)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Prendre la permanence").click()
    await expect(page.get_by_text("Tu es de permanence.")).to_be_visible()

    await user.say(ASK)
    assert (await user.replies())[-1].text == t("takeover.requested.on_duty")
    await take_over(page, console, request_of(chat))
    assert (await user.replies())[-1].text == t("takeover.started", name="Maëlle")

    await user.say("/annuler")
    assert (await user.replies())[-1].text == t("takeover.ended.young")
    await expect(page.locator(".takeover-status")).to_contain_text("le jeune a tapé /annuler")
    await user.say("c'est quoi l'alternance ?")
    assert "apprentissage" in (await user.replies())[-1].text.lower()

    await page.goto(f"{console.url}/conseiller")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Terminer ma permanence").click()
    await page.context.close()


async def test_thirty_minutes_of_silence_give_the_chat_back(bot, user, console, chromium):
    chat = str(user.user_id)
    page = await advisor_page(chromium, console, MARTINIQUE)
    await user.say(ASK)
    await user.replies()
    await take_over(page, console, request_of(chat))
    await user.replies()

    relay = bot.front.takeovers
    relay.clock = lambda: utcnow() + timedelta(minutes=29)
    await assert_silent(user, 2.5)
    relay.clock = lambda: utcnow() + timedelta(minutes=31)
    try:
        assert (await user.replies())[-1].text == t("takeover.ended.silence", minutes=30)
    finally:
        relay.clock = utcnow
    await expect(page.locator(".takeover-status")).to_contain_text("sans nouvelles")
    await user.say("c'est quoi l'alternance ?")
    assert "apprentissage" in (await user.replies())[-1].text.lower()
    await page.context.close()


async def test_an_advisor_of_another_territory_does_not_see_it(user, console, chromium):
    chat = str(user.user_id)
    await user.say(ASK)
    await user.replies()
    request_id = request_of(chat)
    page = await advisor_page(chromium, console, GUADELOUPE)
    await expect(page.locator("#queue")).to_be_visible()
    await page.wait_for_timeout(3500)  # one poll of the queue
    await expect(page.locator(f"tr[data-request='{request_id}']")).to_have_count(0)
    await page.goto(f"{console.url}/conseiller/{request_id}")
    await expect(page.get_by_role("alert")).to_contain_text("pas de ton territoire")
    await expect(page.get_by_role("button", name="Prendre la conversation")).to_have_count(0)
    await page.context.close()


async def test_supprimer_erases_the_takeover_messages(user, console, chromium):
    chat = str(user.user_id)
    page = await advisor_page(chromium, console, MARTINIQUE)
    await user.say(ASK)
    await user.replies()
    request_id = request_of(chat)
    await take_over(page, console, request_id)
    await user.replies()
    await user.say("mon numéro c'est le 0696 12 34 56")
    await expect(page.locator("ol.transcript")).to_contain_text("0696 12 34 56")
    assert rows_of(chat) == (1, 2)

    await user.say("/mes_donnees")
    assert t("privacy.field.takeover") in (await user.replies())[-1].text
    await user.say("/supprimer")
    await user.press((await user.replies())[-1], "Oui, tout effacer")
    assert (await user.replies())[-1].text == t("privacy.erased")
    assert rows_of(chat) == (0, 0)
    await expect(page.get_by_role("alert")).to_contain_text("n'existe plus")
    await page.context.close()
