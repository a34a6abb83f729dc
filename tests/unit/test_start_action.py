import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.start import ActionHandleStart


def tracker_with_source(source):
    entities = [{"entity": "start_source", "value": source}] if source else []
    return Tracker("1", {}, {"intent": {"name": "start"}, "entities": entities, "text": "/start"}, [], False, None, {}, "")


@pytest.mark.parametrize(
    ("source", "flow"),
    [
        ("cfa_972-umih", "utter_start_cfa_contact"),
        ("quiz", "utter_start_orientation"),
        ("aides_salon2026", "utter_ask_aids"),
        ("metiers", "utter_ask_recruiting_jobs"),
        ("salon-etudiant", "utter_main_menu"),
        (None, "utter_main_menu"),
    ],
)
async def test_start_greets_then_opens_the_flow_of_the_deep_link(source, flow):
    dispatcher = CollectingDispatcher()
    await ActionHandleStart().run(dispatcher, tracker_with_source(source), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_greet", flow]
