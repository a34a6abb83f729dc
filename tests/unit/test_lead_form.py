"""The lead form's checks, CFA matching, summary, consent and submission (issue 5)."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.lead_submit import ActionSubmitLead, consent_version
from actions.leads import (
    ActionAskLeadCfa,
    ActionAskLeadCfaTerritory,
    ActionAskLeadConsent,
    ActionAskLeadFirstName,
    ActionAskLeadReasons,
    ValidateLeadForm,
)
from actions.unit_of_work import unit_of_work
from akto_data.db import session_scope
from akto_data.leads.models import Lead

DOMAIN_SLOTS = ["lead_first_name", "age", "territory", "lead_town", "occupation", "diploma_level", "lead_start",
                "lead_employer", "lead_mobility", "lead_cfa", "lead_contact_channel", "lead_contact_value",
                "lead_reasons", "lead_message", "lead_consent"]
FILLED = {"lead_first_name": "Léa", "age": "19", "territory": "martinique", "lead_town": "Le Lamentin",
          "occupation": "G1602", "diploma_level": "3", "lead_start": "rentree", "lead_employer": "no",
          "lead_mobility": "none", "lead_cfa": "mq_umih", "lead_contact_channel": "phone",
          "lead_contact_value": "+596696123456", "lead_reasons": "done", "lead_reasons_picked": ["pay", "places"],
          "lead_message": "none"}


@pytest.fixture(autouse=True)
def unit_of_work_around_validators(request):
    """Validators are called directly here; in the action server, the form's run opens this."""
    if "catalogue" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("catalogue")
    with unit_of_work():
        yield


def tracker(slots=None, text="", entities=(), metadata=None, sender="chat-7"):
    latest = {"text": text, "intent": {"name": "inform", "confidence": 1.0}, "entities": list(entities)}
    events = [{"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}}]
    return Tracker(sender, dict(slots or {}), latest, events, False, None, {}, "")


def run(action, slots=None, **kwargs):
    import asyncio

    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker(slots, **kwargs), {}))
    return dispatcher.messages, events


form = ValidateLeadForm()


def test_wrong_phone_is_asked_again_with_an_example_of_the_territory(catalogue):
    dispatcher = CollectingDispatcher()
    result = form.validate_lead_contact_value("06961234", dispatcher, tracker(
        {"lead_contact_channel": "phone", "territory": "guadeloupe"}), {})
    assert result == {"lead_contact_value": None}
    assert dispatcher.messages[0]["response"] == "utter_lead_phone_invalid"
    assert dispatcher.messages[0]["example"] == "0690 00 12 34"  # libphonenumber's example for Guadeloupe
    ok = form.validate_lead_contact_value("+590 690 12 34 56", CollectingDispatcher(), tracker(
        {"lead_contact_channel": "phone"}), {})
    assert ok == {"lead_contact_value": "+590690123456"}


def test_mistyped_email_domain_offers_the_fix_as_a_button(catalogue):
    dispatcher = CollectingDispatcher()
    result = form.validate_lead_contact_value("lea@gmial.com", dispatcher, tracker({"lead_contact_channel": "email"}), {})
    assert result == {"lead_contact_value": None}
    assert "lea@gmail.com" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == '/inform{"lead_contact_value":"lea@gmail.com"}'


@pytest.mark.parametrize(("typed", "kept", "responses"), [
    ("19", "19", []),
    ("17", "17", ["utter_lead_minor_notice"]),
    ("15", "15", ["utter_lead_age_outside", "utter_lead_minor_notice"]),
    ("32", "32", ["utter_lead_age_outside"]),
    ("40", None, ["utter_lead_age_invalid"]),
    ("jsp", None, ["utter_lead_age_invalid"]),
])
def test_age_rules_are_explained_and_minors_told_a_parent_may_be_contacted(catalogue, typed, kept, responses):
    dispatcher = CollectingDispatcher()
    assert form.validate_age(typed, dispatcher, tracker(), {}) == {"age": kept}
    assert [m["response"] for m in dispatcher.messages] == responses


def test_town_must_be_one_of_the_territory_and_the_reask_gives_examples(catalogue):
    assert form.validate_lead_town("lamentin", CollectingDispatcher(), tracker({"territory": "martinique"}), {}) == {
        "lead_town": "Le Lamentin"}
    dispatcher = CollectingDispatcher()
    assert form.validate_lead_town("Paris", dispatcher, tracker({"territory": "martinique"}), {}) == {"lead_town": None}
    message = dispatcher.messages[0]
    assert message["response"] == "utter_lead_town_invalid" and message["territory_in"] == "en Martinique"
    assert message["example"] and "Paris" not in message["example"]
    dispatcher = CollectingDispatcher()
    form.validate_lead_town("Fort-de-Fronce-ville", dispatcher, tracker({"territory": "martinique"}), {})
    assert dispatcher.messages[0]["example"].startswith("Fort-de-France")  # the closest towns as examples


def test_occupation_typed_in_a_sentence_is_matched_and_unknown_ones_get_choices(catalogue):
    assert form.validate_occupation("jveu etre boulangère", CollectingDispatcher(), tracker(), {}) == {
        "occupation": "D1102"}
    dispatcher = CollectingDispatcher()
    assert form.validate_occupation("astronaute", dispatcher, tracker({"territory": "martinique"}), {}) == {
        "occupation": None}
    assert dispatcher.messages[0]["buttons"]  # occupations a CFA of Martinique trains for


def test_cfas_are_matched_on_the_server_and_offered_as_buttons(catalogue):
    messages, _ = run(ActionAskLeadCfa(), {**FILLED, "lead_cfa": None})
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert '/inform{"lead_cfa":"mq_umih"}' in payloads
    assert all("gp_" not in p and "re_" not in p for p in payloads)  # home territory only
    dispatcher = CollectingDispatcher()
    assert form.validate_lead_cfa("gp_urma", dispatcher, tracker({**FILLED, "lead_cfa": None}), {}) == {"lead_cfa": None}


def test_no_cfa_at_home_asks_before_offering_another_territory(catalogue):
    import asyncio

    slots = {**FILLED, "territory": "saint_barthelemy", "occupation": "D1102", "lead_cfa": None}
    required = asyncio.run(form.required_slots(DOMAIN_SLOTS, CollectingDispatcher(), tracker(slots), {}))
    assert required.index("lead_cfa_territory") == required.index("lead_cfa") - 1
    messages, _ = run(ActionAskLeadCfaTerritory(), slots)
    assert "Saint-Barthélemy" in messages[0]["text"] and "prêt(e) à partir" in messages[0]["text"]
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert "Oui, me former en Guadeloupe" in titles and "🙋 Un conseiller AKTO" in titles
    # Only once the young person chose Guadeloupe are its CFAs listed.
    slots["lead_cfa_territory"] = "guadeloupe"
    messages, _ = run(ActionAskLeadCfa(), slots)
    assert any("gp_" in b["payload"] for b in messages[0]["buttons"])


def test_first_name_of_the_telegram_profile_is_offered_and_telegram_contact_needs_a_username(catalogue):
    messages, _ = run(ActionAskLeadFirstName(), {}, metadata={"first_name": "Léa"})
    assert messages[0]["buttons"] == [{"title": "Léa", "payload": '/inform{"lead_first_name":"Léa"}'}]
    messages, _ = run(ActionAskLeadFirstName(), {}, metadata={"first_name": "🔥🔥"})
    assert messages[0]["buttons"] == []
    with_name = form.validate_lead_contact_channel("telegram", CollectingDispatcher(),
                                                   tracker(metadata={"username": "lea972"}), {})
    assert with_name == {"lead_contact_channel": "telegram", "lead_contact_value": "@lea972"}
    dispatcher = CollectingDispatcher()
    assert form.validate_lead_contact_channel("telegram", dispatcher, tracker(), {}) == {"lead_contact_channel": None}
    assert dispatcher.messages[0]["response"] == "utter_lead_telegram_no_username"


def test_reasons_are_several_then_done(catalogue):
    slots = {"lead_reasons_picked": []}
    result = form.validate_lead_reasons("pay", CollectingDispatcher(), tracker(slots), {})
    assert result == {"lead_reasons": None, "lead_reasons_picked": ["pay"]}
    messages, _ = run(ActionAskLeadReasons(), {"lead_reasons_picked": ["pay"]})
    assert "le salaire" in messages[0]["text"] and messages[0]["buttons"][-1]["title"] == "✅ C'est tout"
    done = form.validate_lead_reasons("done", CollectingDispatcher(), tracker({"lead_reasons_picked": ["pay"]}), {})
    assert done == {"lead_reasons": "done"}


def test_summary_names_the_cfa_and_consent_links_the_privacy_notice(catalogue):
    messages, _ = run(ActionAskLeadConsent(), FILLED)
    summary, consent = messages[0]["text"], messages[1]["text"]
    assert "Léa" in summary and "Le Lamentin, Martinique" in summary and "0696 12 34 56" in summary  # stored E.164, shown nationally
    # A CAP holder is offered the next level up at this CFA: the recap shows that training.
    assert "le salaire" in summary and "Bac pro Cuisine" in summary
    assert "UMIH" in consent.upper() and "/confidentialite" in consent
    assert [b["payload"] for b in messages[1]["buttons"]] == [
        '/inform{"lead_consent":"yes"}', '/inform{"lead_consent":"edit"}', "/stop"]


def test_changing_an_answer_from_the_summary_asks_it_again(catalogue):
    import asyncio

    edit = form.validate_lead_consent("edit", CollectingDispatcher(), tracker(FILLED), {})
    assert edit == {"lead_consent": None, "lead_editing": True}
    slots = {**FILLED, **edit}
    required = asyncio.run(form.required_slots(DOMAIN_SLOTS, CollectingDispatcher(), tracker(slots), {}))
    assert required[-2:] == ["lead_change", "lead_consent"]
    change = form.validate_lead_change("territory", CollectingDispatcher(), tracker(slots), {})
    assert change["territory"] is None and change["lead_town"] is None and change["lead_cfa"] is None
    assert change["lead_editing"] is False and "lead_first_name" not in change


def leads():
    with session_scope() as session:
        return list(session.scalars(select(Lead)))


def test_nothing_is_stored_without_a_yes_and_the_consent_version_is_stored(catalogue):
    messages, _ = run(ActionSubmitLead(), {**FILLED, "lead_consent": "no"})
    assert messages[0]["response"] == "utter_lead_cancelled" and leads() == []
    messages, events = run(ActionSubmitLead(), {**FILLED, "lead_consent": "yes"})
    assert "C'est envoyé" in messages[0]["text"]
    (lead,) = leads()
    shown = next(b["title"] for b in run(ActionAskLeadCfa(), {**FILLED, "lead_cfa": None})[0][0]["buttons"]
                 if "mq_umih" in b["payload"])
    # The stored training is the one the CFA's button showed.
    assert (lead.chat_id, lead.cfa_id, lead.rome) == ("chat-7", "mq_umih", "G1602")
    assert lead.training == "Bac pro Cuisine" and shown.endswith("– Bac pro Cuisine")
    assert lead.consent_version == consent_version() and lead.reasons == ["pay", "places"] and not lead.minor
    assert lead.contact_value == "+596696123456" and lead.message is None
    assert ("lead_consent", None) in [(e["name"], e["value"]) for e in events]  # ready for another request
    # Same person, same CFA, same training: told it is already sent, still one lead.
    messages, _ = run(ActionSubmitLead(), {**FILLED, "lead_consent": "yes"})
    assert "déjà envoyé" in messages[0]["text"] and len(leads()) == 1


def test_a_minor_is_recorded(catalogue):
    run(ActionSubmitLead(), {**FILLED, "age": "16", "lead_consent": "yes"})
    assert leads()[0].minor is True


def test_an_entity_read_in_another_answer_does_not_undo_an_earlier_answer(catalogue):
    # "0696 12 34 56" typed for the phone: the NLU may read "12" as an age or a territory code.
    events = [{"event": "slot", "name": "age", "value": "19"},
              {"event": "slot", "name": "territory", "value": "martinique"},
              {"event": "user", "text": "0696 12 34 56", "parse_data": {}, "metadata": {}}]
    slots = {**FILLED, "age": "12", "territory": "972x", "requested_slot": "lead_contact_value"}
    state = Tracker("c", slots, {"entities": []}, events, False, None, {}, "")
    dispatcher = CollectingDispatcher()
    assert form.validate_age("12", dispatcher, state, {}) == {"age": "19"}
    assert form.validate_territory("972x", dispatcher, state, {}) == {"territory": "martinique"}
    assert dispatcher.messages == []  # nothing re-asked
