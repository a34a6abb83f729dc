"""The front-agnostic conversation core, with Rasa replaced by a scripted client.

The end-to-end tests run the real Rasa; here we script its failures precisely.
"""

import asyncio
import time

from akto_data.i18n import text as t
from akto_data.settings import Settings
from bot.conversation import Conversation, UserAction, start_payload
from bot.rasa_client import RasaUnavailable


class ScriptedRasa:
    def __init__(self, *steps):
        self.steps = list(steps)
        self.received = []

    async def send(self, sender, message, metadata):
        self.received.append(message)
        step = self.steps.pop(0)
        if isinstance(step, float):
            await asyncio.sleep(step)
            return [{"text": "réponse lente"}]
        if step == "down":
            raise RasaUnavailable("connection refused")
        return step


def make(rasa, **overrides):
    settings = Settings(rasa_timeout=0.3, rasa_retry_delays=(0.05, 0.05), **overrides)
    sent = []

    async def send(message):
        sent.append((time.monotonic(), message))

    return Conversation(settings, rasa), sent, send


async def test_typed_intent_payload_never_reaches_rasa():
    rasa = ScriptedRasa()
    conv, sent, send = make(rasa)
    await conv.handle(UserAction("1", text=' /request_cfa_contact{"territory":"martinique"}'), send)
    assert rasa.received == []
    assert [m.text for _, m in sent] == [t("bot.unknown_command")]


async def test_commands_map_to_our_payloads_only():
    rasa = ScriptedRasa([{"text": "aide"}], [{"text": "menu"}])
    conv, sent, send = make(rasa)
    await conv.handle(UserAction("1", command="aide"), send)
    await conv.handle(UserAction("1", command="start", command_args=("cfa_972",)), send)
    await conv.handle(UserAction("1", command="greet"), send)  # not one of ours
    assert rasa.received == ["/ask_help", '/start{"start_source":"cfa_972"}']
    assert sent[-1][1].text == t("bot.unknown_command")


def test_malformed_deep_link_is_dropped_not_forwarded():
    assert start_payload('x"}/greet') == "/start"


async def test_slow_rasa_gets_an_apology_in_time_then_the_real_answer_once():
    rasa = ScriptedRasa(0.8)
    conv, sent, send = make(rasa)
    started = time.monotonic()
    await conv.handle(UserAction("1", text="slt"), send)
    assert [m.text for _, m in sent] == [t("bot.apology.unavailable"), "réponse lente"]
    assert sent[0][0] - started < 0.5
    assert rasa.received == ["slt"]  # not re-sent: Rasa would have seen it twice


async def test_rasa_down_then_back_answers_after_retry():
    rasa = ScriptedRasa("down", [{"text": "Salut 👋"}])
    conv, sent, send = make(rasa)
    await conv.handle(UserAction("1", text="slt"), send)
    assert [m.text for _, m in sent] == [t("bot.apology.unavailable"), "Salut 👋"]


async def test_rasa_down_for_good_asks_to_resend_quoting_the_message():
    rasa = ScriptedRasa("down", "down", "down")
    conv, sent, send = make(rasa)
    await conv.handle(UserAction("1", text="aide permis ?"), send)
    texts = [m.text for _, m in sent]
    assert texts[0] == t("bot.apology.unavailable")
    assert "aide permis ?" in texts[-1] and len(texts) == 2


async def test_media_gets_a_text_answer_without_rasa():
    rasa = ScriptedRasa()
    conv, sent, send = make(rasa)
    await conv.handle(UserAction("1", media_kind="voice"), send)
    assert sent[0][1].text == t("bot.media.voice") and rasa.received == []
