"""Small things a young person notices on Telegram (issue 13, section 3), through the emulator.

The command menu, "typing…" while the assistant waits for Rasa (retries included), a shared
location turned into a territory suggestion, and the recruiting list's text. The emulator
(tests/emulator/server.js) records setMyCommands, deleteMyCommands and sendChatAction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
from telegram.ext import CommandHandler

from akto_data.i18n import text as t
from tests.e2e.conftest import bot_settings, free_port, start_bot, stop_bot
from tests.e2e.emulator import BotMessage, EmulatedUser, EmulatorBridge

FORT_DE_FRANCE = (14.6037, -61.0731)
SAINT_DENIS_REUNION = (-20.8823, 55.4504)
PARIS = (48.8566, 2.3522)
MID_ATLANTIC = (30.0, -40.0)
TERRITORY_QUESTION = "Tu habites où ?"


def recruiting_list(replies: list[BotMessage]) -> BotMessage:
    """The message listing the occupations that recruit (a feedback question may follow it)."""
    found = [m for m in replies if "Les métiers qui recrutent" in m.text]
    assert len(found) == 1, [m.text for m in replies]
    return found[0]


def location(lat: float, lon: float) -> dict:
    return {"location": {"latitude": lat, "longitude": lon}}


async def bot_messages(person: EmulatedUser) -> list[dict]:
    """Every message the bot sent to ``person`` (text and time in ms), from the emulator's history."""
    response = await person.http.post(f"{person.api}/getUpdatesHistory", json={"token": person.token})
    return [{"text": item["message"].get("text", ""), "time": item["time"]} for item in response.json()["result"]
            if str(item["message"].get("chat_id")) == str(person.user_id)]


async def typing_times(person: EmulatedUser) -> list[int]:
    return [call["time"] for call in await person.bot_calls("sendChatAction")
            if str(call["params"].get("chat_id")) == str(person.user_id) and call["params"].get("action") == "typing"]


# -- 1. the command menu ----------------------------------------------------------------------------

async def test_telegram_shows_our_commands_in_french_in_private_chats(bot, user):
    # One call per bot start with this token (other tests start a second bot on it): all the same menu.
    menus = await user.bot_calls("setMyCommands")
    assert menus and all(menu["params"] == menus[0]["params"] for menu in menus)
    assert menus[0]["params"]["scope"] == {"type": "all_private_chats"}
    assert menus[0]["params"]["commands"] == [
        {"command": "start", "description": "Commencer ou recommencer"},
        {"command": "aide", "description": "Ce que je peux faire pour toi"},
        {"command": "annuler", "description": "Arrêter ce qui est en cours"},
        {"command": "confidentialite", "description": "Ce que je fais de tes données"},
        {"command": "mes_donnees", "description": "Voir les données que je garde sur toi"},
        {"command": "supprimer", "description": "Effacer tes données"},
    ]
    # The default scope (groups; a list left by BotFather) is cleared: no menu where commands only point away.
    cleared = await user.bot_calls("deleteMyCommands")
    assert len(cleared) == len(menus) and all("scope" not in call["params"] for call in cleared)
    # Every command of the menu is answered (none falls to "unknown command").
    handled = set().union(*(h.commands for group in bot.front.application.handlers.values() for h in group
                            if isinstance(h, CommandHandler)))
    assert {m["command"] for m in menus[0]["params"]["commands"]} <= handled


class RefusingMenuBridge(EmulatorBridge):
    """Telegram refusing the command menu (e.g. a description Telegram finds invalid)."""

    async def do_request(self, url, method, request_data=None, **kwargs):  # type: ignore[override]
        if url.endswith(("/setMyCommands", "/deleteMyCommands")):
            return 400, b'{"ok": false, "error_code": 400, "description": "Bad Request: refused by the test"}'
        return await super().do_request(url, method, request_data, **kwargs)


async def test_a_refused_command_menu_is_logged_and_the_bot_still_answers(rasa_stack, base_settings, emulator_url,
                                                                          caplog):
    from bot.telegram_front import TelegramFront

    settings = bot_settings(base_settings, emulator_url, "e2e-menu-refused-token")
    front = TelegramFront(settings)
    app = front.build(request=RefusingMenuBridge(), updates_request=EmulatorBridge())
    with caplog.at_level(logging.WARNING, logger="bot.telegram_front"):
        await app.initialize()
        await front._post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0.05, timeout=0)
    person = EmulatedUser(emulator_url, settings.telegram_token, 77001)
    try:
        assert any("command menu not set" in r.getMessage() for r in caplog.records)
        await person.say("/aide")
        replies = await person.replies()
        assert "Je peux t'aider à" in replies[0].text
    finally:
        await person.aclose()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await front._post_shutdown(app)


# -- 2. "typing…" while waiting for Rasa ---------------------------------------------------------------

@asynccontextmanager
async def slow_rasa(delay: float) -> AsyncIterator[str]:
    """A Rasa REST webhook that answers "ok" after ``delay`` seconds."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        await asyncio.sleep(delay)
        body = json.dumps([{"recipient_id": "x", "text": "Réponse lente"}]).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        with suppress(Exception):
            await server.wait_closed()


async def test_typing_stays_on_while_a_slow_rasa_answers_and_stops_with_the_answer(base_settings, emulator_url):
    async with slow_rasa(9.5) as rasa_url:
        settings = bot_settings(base_settings, emulator_url, "e2e-typing-slow-token", rasa_url=rasa_url,
                                rasa_timeout=4.0)
        running = await start_bot(settings, emulator_url)
        person = running.user()
        try:
            await person.say("c koi l'alternance")
            replies = await person.replies(count=2, timeout=20, settle=0.5)
            assert [m.text for m in replies] == [t("bot.apology.unavailable"), "Réponse lente"]
            await asyncio.sleep(5.0)  # long enough for one more indicator, had the ticker survived
            sent = await bot_messages(person)
            typing = await typing_times(person)
            first, answer = sent[0]["time"], sent[-1]["time"]
            # One at once, then every 4 s: 0, 4, 8 s (the apology at 4 s clears it on the phone).
            assert len(typing) >= 3, typing
            assert typing[-1] < answer and typing[-1] > first  # re-sent after the apology, before the answer
            assert all(b - a < 5000 for a, b in zip(typing, [*typing[1:], answer]))  # never off for 5 s
        finally:
            await person.aclose()
            await stop_bot(running)


async def test_typing_stays_on_through_the_retries_of_a_refusing_rasa(base_settings, emulator_url):
    refusing = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = bot_settings(base_settings, emulator_url, "e2e-typing-refused-token", rasa_url=refusing,
                            rasa_retry_delays=(3.0, 3.0, 3.0))
    running = await start_bot(settings, emulator_url)
    person = running.user()
    try:
        await person.say("slt")
        replies = await person.replies(count=2, timeout=20, settle=0.5)
        assert [m.text for m in replies] == [t("bot.apology.unavailable"), t("bot.apology.resend", text="slt")]
        await asyncio.sleep(5.0)
        sent = await bot_messages(person)
        typing = await typing_times(person)
        last = sent[-1]["time"]
        assert len(typing) >= 3, typing  # 0, 4, 8 s while retrying at 3, 6, 9 s
        assert typing[-1] < last
        assert all(b - a < 5000 for a, b in zip(typing, [*typing[1:], last]))
    finally:
        await person.aclose()
        await stop_bot(running)


# -- 3. a shared location suggests the territory -----------------------------------------------------

def tracker(base_settings, user_id: int) -> dict:
    return httpx.get(f"{base_settings.rasa_url}/conversations/{user_id}/tracker",
                     params={"token": base_settings.rasa_auth_token}).json()


def database_text(base_settings) -> str:
    """Every value of every table of the test database, as one text."""
    path = base_settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("select name from sqlite_master where type='table'")]
        return "\n".join(repr(row) for table in tables for row in db.execute(f'select * from "{table}"'))


async def test_a_location_in_fort_de_france_suggests_martinique_and_oui_sets_it(user, base_settings, caplog):
    with caplog.at_level(logging.INFO):
        await user.send_raw(**location(*FORT_DE_FRANCE))
        suggestion = (await user.replies())[-1]
    assert suggestion.text == t("bot.location.suggest", territory_in="en Martinique")
    assert [title for title, _ in suggestion.buttons] == ["Oui", "Non"]

    await user.press(suggestion, "Oui")
    noted = await user.replies()
    assert "C'est noté" in noted[0].text
    assert tracker(base_settings, user.user_id)["slots"]["territory"] == "martinique"

    # The next answer that depends on the territory uses Martinique without asking it again.
    await user.say("quels sont les métiers qui recrutent ?")
    replies = await user.replies()
    assert not any(TERRITORY_QUESTION in m.text for m in replies)
    listed = recruiting_list(replies)
    assert "Les métiers qui recrutent en Martinique" in listed.text and listed.buttons

    # The coordinates went nowhere: not to Rasa, not to the database, not to the logs. A number
    # starting 14.60 / 61.07 (not the tail of a longer number: timestamps like 1796052461.07 are fine).
    coordinate = re.compile(r"(?<![\d.])-?(?:14\.60|61\.07)")
    stores = {"tracker": json.dumps(tracker(base_settings, user.user_id)), "database": database_text(base_settings),
              "logs": "\n".join(record.getMessage() for record in caplog.records)}
    for where, text in stores.items():
        assert not coordinate.search(text), (where, coordinate.search(text))


async def test_non_asks_the_assistants_own_territory_question(user, base_settings):
    await user.send_raw(**location(*SAINT_DENIS_REUNION))
    suggestion = (await user.replies())[-1]
    assert suggestion.text == t("bot.location.suggest", territory_in="à La Réunion")
    await user.press(suggestion, "Non")
    question = (await user.replies())[-1]
    assert question.text.startswith(TERRITORY_QUESTION)
    assert [title for title, _ in question.buttons] == ["Martinique", "Guadeloupe", "Guyane", "La Réunion", "Mayotte",
                                                        "Saint-Martin", "Saint-Barthélemy"]
    await user.press(question, "Guyane")
    assert "C'est noté" in (await user.replies())[0].text
    assert tracker(base_settings, user.user_id)["slots"]["territory"] == "guyane"


async def test_a_location_in_paris_says_hexagone_and_asks_the_territory(user, base_settings):
    await user.send_raw(**location(*PARIS))
    replies = await user.replies()
    text = "\n\n".join(m.text for m in replies)
    assert t("bot.location.mainland") in text and TERRITORY_QUESTION in text
    assert "Tu es dans l'Hexagone" not in text  # mainland France is never offered as where one lives
    assert len(replies[-1].buttons) == 7
    assert not tracker(base_settings, user.user_id)["slots"].get("territory")


async def test_a_location_in_the_ocean_is_not_placed_and_the_territory_is_asked(user, base_settings):
    await user.send_raw(**location(*MID_ATLANTIC))
    replies = await user.replies()
    text = "\n\n".join(m.text for m in replies)
    assert t("bot.location.unplaced") in text and TERRITORY_QUESTION in text
    assert len(replies[-1].buttons) == 7
    assert not tracker(base_settings, user.user_id)["slots"].get("territory")


async def test_a_moving_live_location_is_not_answered_again(bot, user):
    from tests.e2e.test_telegram_e2e import _inject

    now = int(time.time())
    await _inject(bot, {"update_id": 900101, "edited_message": {
        "message_id": 9, "date": now, "edit_date": now, "location": {"latitude": 14.61, "longitude": -61.07,
                                                                     "live_period": 900},
        "chat": {"id": user.user_id, "type": "private"},
        "from": {"id": user.user_id, "is_bot": False, "first_name": "Léa"}}})
    await user.say("merci")
    replies = await user.replies(settle=1.0)
    assert t("bot.edited") not in [m.text for m in replies]


# -- 4. the recruiting list's text ---------------------------------------------------------------------

async def test_the_recruiting_list_has_its_source_right_under_the_sentence(user):
    await user.say("quels métiers recrutent à la réunion ?")
    listed = recruiting_list(await user.replies())
    assert "Les métiers qui recrutent à La Réunion" in listed.text
    answer = listed.text[listed.text.index("Les métiers qui recrutent"):]
    assert "📈 Choisis-en un pour le découvrir :\nSource : " in answer and "\n\n" not in answer
    assert listed.buttons
