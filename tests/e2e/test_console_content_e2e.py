"""Issue 11, content: a publish from the console reaches Telegram without a restart, and a
restore brings the old answer back — the console and the assistant on one database.

Here, in tests/e2e/, it runs before the browser tests of tests/web/, whose session-wide
synchronous Playwright would keep an event loop running that these async fixtures need.
"""

from __future__ import annotations

import re

import pytest

from tests.web.test_console_content import NEW_POEC, STAFF


# -- end to end: the console and the assistant on one database ------------------------------------------------------
@pytest.fixture
def e2e_console(base_settings):
    """The console served on the end-to-end database (the action server reads the same DATABASE_URL)."""
    from akto_data.db import session_scope
    from akto_data.staff.accounts import AccountError, create_account
    from tests.web.conftest import serve_console
    from web.routes import auth

    auth._attempts.clear()
    try:
        with session_scope() as session:
            create_account(session, email=STAFF[0], name=STAFF[1], role="staff", password=STAFF[2], actor="test")
    except AccountError:
        pass  # already there from an earlier test of this session
    with serve_console() as served:
        yield served


@pytest.mark.e2e
async def test_published_answer_reaches_telegram_without_restart_and_a_restore_brings_the_old_one_back(
        bot, e2e_console):
    from playwright.async_api import async_playwright

    from tests.web.conftest import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    user = bot.user()
    await user.say("c'est quoi la POEC ?")
    old = (await user.replies())[0].text
    assert "POEC" in old and NEW_POEC not in old

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                   args=["--no-sandbox", "--disable-gpu"])
        page = await (await browser.new_context(locale="fr-FR")).new_page()
        page.set_default_timeout(15_000)
        await page.goto(f"{e2e_console.url}/login")
        await page.fill("input[name=email]", STAFF[0])
        await page.fill("input[name=password]", STAFF[2])
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        await page.goto(f"{e2e_console.url}/contenu/faq/ask_poec")
        await page.fill("textarea[name=answer]", NEW_POEC)
        await page.click("text=Aperçu Telegram")
        await page.locator("#apercu .bubble").first.wait_for()
        assert NEW_POEC in await page.locator("#apercu .bubble").first.inner_text()
        async with page.expect_navigation():
            await page.click("button[name=publish]")
        published = await page.locator("#published").inner_text()
        number = int(re.search(r"version (\d+)", published).group(1))

        await user.say("c'est quoi la POEC ?")  # no restart: the action reads the catalogue per message
        assert NEW_POEC in (await user.replies())[0].text

        await page.goto(f"{e2e_console.url}/contenu/versions")
        async with page.expect_navigation():
            await page.click(f"text=Restaurer la version {number - 1}")
        await browser.close()

    await user.say("c'est quoi la POEC ?")
    assert (await user.replies())[0].text == old
    await user.aclose()
