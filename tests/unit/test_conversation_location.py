"""A shared location in the conversation core, with Rasa replaced by a scripted client."""

from __future__ import annotations

from akto_data.i18n import text as t
from akto_data.settings import Settings
from bot.conversation import ASK_TERRITORY, Conversation, UserAction
from bot.rasa_client import RasaUnavailable

QUESTION = {"text": "Tu habites où ? 🌴", "buttons": [{"title": "Martinique", "payload": '/inform{"territory":"martinique"}'},
                                                    {"title": "Mayotte", "payload": '/inform{"territory":"mayotte"}'}]}


class DomainRasa:
    """Answers the domain's responses (or is down), and records every message sent to it."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.received: list[str] = []
        self.metadata: list[dict] = []

    async def send(self, sender, message, metadata, message_id=None):
        self.received.append(message)
        self.metadata.append(metadata)
        return [{"text": "C'est noté 👍"}]

    async def response(self, name):
        if not self.up:
            raise RasaUnavailable("connection refused")
        assert name == "utter_ask_territory"
        return dict(QUESTION)


def make(rasa):
    sent = []

    async def send(message):
        sent.append(message)

    return Conversation(Settings(), rasa), sent, send


async def test_a_location_in_mayotte_suggests_it_and_never_reaches_rasa(catalogue):
    rasa = DomainRasa()
    conv, sent, send = make(rasa)
    await conv.handle(UserAction("1", location=(-12.7806, 45.2278)), send)
    assert [m.text for m in sent] == [t("bot.location.suggest", territory_in="à Mayotte")]
    assert [(b.title, b.payload) for b in sent[0].buttons] == [("Oui", '/inform{"territory":"mayotte"}'),
                                                              ("Non", ASK_TERRITORY)]
    assert rasa.received == []


async def test_oui_is_the_territory_buttons_payload_and_non_the_dialogues_question(catalogue):
    rasa = DomainRasa()
    conv, sent, send = make(rasa)
    await conv.handle(UserAction("1", button_payload='/inform{"territory":"mayotte"}', button_title="Oui"), send)
    assert rasa.received == ['/inform{"territory":"mayotte"}']
    await conv.handle(UserAction("1", button_payload=ASK_TERRITORY, button_title="Non"), send)
    assert rasa.received == ['/inform{"territory":"mayotte"}']  # "Non" is answered by the bot itself
    assert sent[-1].text == QUESTION["text"] and [b.title for b in sent[-1].buttons] == ["Martinique", "Mayotte"]


async def test_outside_every_territory_with_rasa_down_the_territory_is_asked_in_words(catalogue):
    conv, sent, send = make(DomainRasa(up=False))
    await conv.handle(UserAction("1", location=(30.0, -40.0)), send)
    assert [m.text for m in sent] == [f"{t('bot.location.unplaced')}\n\n{t('bot.location.ask_typed')}"]


def test_an_action_never_shows_its_coordinates():
    assert "14.6" not in repr(UserAction("1", location=(14.6037, -61.0731)))
