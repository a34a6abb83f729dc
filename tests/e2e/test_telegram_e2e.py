"""A young person on Telegram, through the emulator, with the whole stack running."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import httpx

from akto_data.chats import chat_start_source
from akto_data.i18n import text as t
from tests.e2e.conftest import bot_settings, free_port, start_bot, stop_bot
from tests.e2e.proxy import CuttableProxy

MENU_TITLES = ["Découvrir des métiers", "métiers qui recrutent", "Les aides", "Être contacté par un CFA",
               "Poser une question"]


async def test_slt_gets_greeting_and_menu_and_a_button_works_once(user):
    await user.say("slt")
    replies = await user.replies()
    assert "assistant « Ici c'est ma place »" in replies[0].text
    assert "Qu'est-ce qui t'intéresse ?" in replies[-1].text
    menu = replies[-1]
    assert [any(part in title for title, _ in menu.buttons) for part in MENU_TITLES] == [True] * 5
    assert all(len(data.encode()) <= 64 for _, data in menu.buttons)
    assert not any(data.startswith("/") for _, data in menu.buttons)  # opaque ids, not payloads

    await user.press(menu, "Les aides")
    aids = await user.replies()
    assert "Tu es déjà en apprentissage ?" in aids[-1].text and aids[-1].buttons
    assert "👉 <b>💶 Les aides</b>" in await user.history_text(menu.message_id)  # the choice is shown (HTML)

    await user.press(menu, "Poser une question")  # same keyboard, second press
    again = await user.replies()
    assert [m.text for m in again] == [t("bot.button_expired")]


async def test_deep_link_start_lands_in_the_cfa_flow_and_is_recorded(user):
    await user.say("/start cfa_972-umih")
    replies = await user.replies()
    text = "\n\n".join(m.text for m in replies)
    assert "assistant « Ici c'est ma place »" in text
    assert "qu'un CFA te recontacte" in text.split("Ici c'est ma place", 1)[1]
    assert chat_start_source(str(user.user_id)) == "cfa_972-umih"
    # The button opens the lead form.
    await user.press(replies[-1], "Être contacté par un CFA")
    assert "prénom" in (await user.replies())[-1].text


async def test_typed_intent_payload_is_refused_and_never_reaches_rasa(user, base_settings):
    await user.say('/request_cfa_contact{"territory":"martinique"}')
    await user.say("  /greet@1.0")
    replies = await user.replies(count=2)
    assert [m.text for m in replies] == [t("bot.unknown_command")] * 2
    tracker = httpx.get(f"{base_settings.rasa_url}/conversations/{user.user_id}/tracker",
                        params={"token": base_settings.rasa_auth_token}).json()
    intents = [e["parse_data"]["intent"]["name"] for e in tracker["events"] if e["event"] == "user"]
    assert intents == []
    assert not tracker["slots"].get("territory")


async def test_our_commands_trigger_their_intents(user):
    await user.say("/aide")
    replies = await user.replies()
    assert "Je peux t'aider à" in replies[0].text


async def test_media_and_edits_get_a_clear_text_answer(user):
    await user.send_raw(photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}])
    await user.send_raw(voice={"file_id": "v1", "file_unique_id": "u2", "duration": 3})
    replies = await user.replies(count=2)
    assert [m.text for m in replies] == [t("bot.media.photo"), t("bot.media.voice")]


async def test_messages_of_one_chat_are_answered_in_order(user):
    await user.say("bonjour")
    await user.say("merci")
    await user.say("au revoir")
    replies = await user.replies(count=3, timeout=30)
    texts = [m.text for m in replies]
    greeting = next(i for i, x in enumerate(texts) if "Ici c'est ma place" in x)
    thanks = next(i for i, x in enumerate(texts) if "plaisir" in x or "De rien" in x)
    bye = next(i for i, x in enumerate(texts) if "bientôt" in x or "Bonne continuation" in x)
    assert greeting < thanks < bye


async def test_a_spammer_is_answered_politely_once_and_the_rest_dropped(user):
    for _ in range(10):
        await user.say("merci")
    replies = await user.replies(count=7, timeout=40, settle=2.0)
    texts = [m.text for m in replies]
    assert texts.count(t("bot.flood")) == 1
    assert len(texts) == 7  # 6 answered (limit), 1 warning, 3 dropped


async def test_rasa_down_gets_an_apology_within_5s_and_the_message_is_answered_later(
    rasa_stack, base_settings, emulator_url
):
    rasa = urlparse(base_settings.rasa_url)
    proxy = CuttableProxy(free_port(), rasa.hostname, rasa.port)  # starts down
    settings = bot_settings(base_settings, emulator_url, "e2e-rasa-down-token",
                            rasa_url=f"http://127.0.0.1:{proxy.port}", rasa_retry_delays=(3.0, 3.0, 3.0))
    running = await start_bot(settings, emulator_url)
    person = running.user()
    try:
        sent_at = time.monotonic()
        await person.say("slt")
        first = await person.replies(count=1, settle=0.1, timeout=10)
        assert first[0].text == t("bot.apology.unavailable")
        assert time.monotonic() - sent_at < 5.0
        await proxy.up()
        later = await person.replies(timeout=20)
        assert "assistant « Ici c'est ma place »" in later[0].text
    finally:
        await proxy.down()
        await person.aclose()
        await stop_bot(running)


async def test_webhook_mode_rejects_requests_without_telegrams_secret(rasa_stack, base_settings, emulator_url):
    port = free_port()
    settings = bot_settings(base_settings, emulator_url, "e2e-webhook-token", webhook_url=f"http://127.0.0.1:{port}/telegram",
                            webhook_listen="127.0.0.1", webhook_port=port, webhook_secret="s3cret-token")
    running = await start_bot(settings, emulator_url, polling=False)
    person = running.user()
    options = running.front.webhook_options()
    await running.front.application.updater.start_webhook(**options)
    update = {"update_id": 1, "message": {"message_id": 1, "date": int(time.time()), "text": "slt",
              "chat": {"id": person.user_id, "type": "private"},
              "from": {"id": person.user_id, "is_bot": False, "first_name": "Léa"}}}
    try:
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{port}/telegram"
            assert (await http.post(url, json=update)).status_code == 403
            forged = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            assert forged.status_code == 403
            ok = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
            assert ok.status_code == 200
        replies = await person.replies()
        assert "assistant « Ici c'est ma place »" in replies[0].text
        assert len(replies) == 1  # the forged requests were not processed
    finally:
        await person.aclose()
        await stop_bot(running)


async def _inject(bot, update: dict) -> None:
    """Updates the emulator cannot produce (edits, groups) go straight to the application."""
    from telegram import Update

    app = bot.front.application
    await app.process_update(Update.de_json(update, app.bot))


async def test_edited_message_is_not_reprocessed_and_the_user_is_told(bot, user):
    now = int(time.time())
    await _inject(bot, {"update_id": 900001, "edited_message": {
        "message_id": 5, "date": now, "edit_date": now, "text": "c koi l'alternance",
        "chat": {"id": user.user_id, "type": "private"},
        "from": {"id": user.user_id, "is_bot": False, "first_name": "Léa"}}})
    replies = await user.replies()
    assert [m.text for m in replies] == [t("bot.edited")]


async def test_in_a_group_the_bot_only_points_to_a_private_chat(bot, user):
    group_id = -100000 - user.user_id
    now = int(time.time())
    sender = {"id": user.user_id, "is_bot": False, "first_name": "Léa"}
    await _inject(bot, {"update_id": 900002, "message": {
        "message_id": 6, "date": now, "text": "/start", "chat": {"id": group_id, "type": "group", "title": "Classe"},
        "from": sender, "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]}})
    await _inject(bot, {"update_id": 900003, "message": {
        "message_id": 7, "date": now, "text": "g 17 ans je cherche un patron",
        "chat": {"id": group_id, "type": "group", "title": "Classe"}, "from": sender}})
    group = type(user)(user.api, user.token, group_id)
    replies = await group.replies()
    await group.aclose()
    assert [m.text for m in replies] == [t("bot.group_only_private", link="https://t.me/TestNameBot")]
