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

    async def send(self, sender, message, metadata, message_id=None):
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


class RasaLikeServer:
    """A real HTTP server on 127.0.0.1 answering Rasa's REST webhook from a script."""

    def __init__(self, *answers):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answers = list(answers)
        self.received = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.received.append(body["message"])
                payload = json.dumps(outer.answers.pop(0)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


async def test_finding_7_empty_rasa_answer_gets_an_apology_and_a_retry_button():
    from bot.rasa_client import RasaClient

    server = RasaLikeServer([], [{"text": "Salut 👋"}])  # [] = a custom action failed inside Rasa
    client = RasaClient(server.url)
    try:
        conv, sent, send = make(client)
        await conv.handle(UserAction("1", text="je veux un cfa"), send)
        (apology,) = [m for _, m in sent]
        assert apology.text == t("bot.apology.empty", text="je veux un cfa")  # before: nothing at all
        assert [(b.title, b.payload) for b in apology.buttons] == [(t("bot.apology.retry"), "je veux un cfa")]
        assert server.received == ["je veux un cfa"]  # not re-sent behind the user's back
        # The button sends the same message again when the user chooses to.
        await conv.handle(UserAction("1", button_payload=apology.buttons[0].payload), send)
        assert sent[-1][1].text == "Salut 👋" and server.received == ["je veux un cfa"] * 2
    finally:
        await client.aclose()
        server.close()
