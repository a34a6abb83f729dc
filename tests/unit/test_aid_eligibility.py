"""Aid eligibility on ten profiles, and the chat that asks for them."""

from __future__ import annotations

import json

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.aid_finder import ActionAidFinder
from akto_data.catalogue.eligibility import Profile, eligible


def ids(cat, profile):
    return {fit.aid_id for fit in eligible(cat.aids(), profile)}


@pytest.mark.parametrize(("profile", "included", "excluded"), [
    # 19, apprentice in Martinique, leaving for mainland France, needs housing
    (Profile(19, "martinique", "apprentice", "hexagone", "housing"),
     {"akto_mobility", "ladom_passport", "cadres_avenir", "mobili_jeune", "cfa_ancillary_costs", "akto_social_support"},
     {"state_driving_licence", "employer_hiring_aid"}),
    # 17, apprentice staying in Guadeloupe, wants the licence: too young for the licence aid
    (Profile(17, "guadeloupe", "apprentice", None, "licence"), set(), {"state_driving_licence", "akto_mobility"}),
    # 18, same: now old enough
    (Profile(18, "guadeloupe", "apprentice", None, "licence"), {"state_driving_licence"}, {"akto_mobility"}),
    # 22, apprentice in Réunion going to another territory
    (Profile(22, "reunion", "apprentice", "other_overseas", None), {"akto_mobility", "ladom_passport"},
     {"cadres_avenir"}),
    # Cadres d'avenir only for Guadeloupe, Martinique, Saint-Martin
    (Profile(20, "guyane", "apprentice", "hexagone", None), {"akto_mobility"}, {"cadres_avenir"}),
    (Profile(20, "saint_martin", "apprentice", "hexagone", None), {"cadres_avenir"}, set()),
    # not yet apprentice, 20, Mayotte, leaving: LADOM now, AKTO once the contract is signed
    (Profile(20, "mayotte", "future_apprentice", "hexagone", None), {"ladom_passport", "akto_mobility"}, set()),
    # 31 needing housing: Mobili-Jeune is for under 30
    (Profile(31, "martinique", "apprentice", None, "housing"), {"cfa_ancillary_costs"}, {"mobili_jeune"}),
    # in difficulty: social support
    (Profile(24, "guyane", "apprentice", None, "money"), {"akto_social_support"}, {"state_driving_licence"}),
    # jobseeker staying home, nothing special: no apprentice aid
    (Profile(25, "reunion", "jobseeker", None, None), set(),
     {"akto_mobility", "state_driving_licence", "akto_social_support", "mobili_jeune"}),
])
def test_eligibility_profiles(cat, profile, included, excluded):
    found = ids(cat, profile)
    assert included <= found, found
    assert not (excluded & found), found


def test_future_apprentice_is_told_when_aid_starts(cat):
    fits = {f.aid_id: f for f in eligible(cat.aids(), Profile(20, "mayotte", "future_apprentice", "hexagone", None))}
    assert fits["akto_mobility"].once_contract_signed and not fits["ladom_passport"].once_contract_signed


def tracker(intent, slots, step=None):
    entities = [{"entity": "aid_step", "value": step}] if step else []
    return Tracker("c", slots, {"intent": {"name": intent}, "entities": entities, "text": "x"}, [], False, None, {}, "")


async def test_chat_skips_what_is_known_and_ends_with_aids_and_who_to_ask(cat):
    dispatcher = CollectingDispatcher()
    events = await ActionAidFinder().run(dispatcher, tracker("ask_aids", {"age": "19", "territory": "martinique"}), {})
    assert dispatcher.messages[1]["text"] == "Tu es déjà en apprentissage ?"
    progress = events[0]["value"]
    for step in ("status:apprentice", "destination:none"):
        dispatcher = CollectingDispatcher()
        events = await ActionAidFinder().run(
            dispatcher, tracker("aid_answer", {"aid_progress": progress, "age": "19", "territory": "martinique"}, step), {})
        progress = events[0]["value"]
    assert "besoin" in dispatcher.messages[0]["text"]  # age and territory were not asked
    dispatcher = CollectingDispatcher()
    await ActionAidFinder().run(dispatcher, tracker("aid_answer", {"aid_progress": progress}, "need:licence"), {})
    texts = [m["text"] for m in dispatcher.messages]
    assert any("500\u00a0€" in x and "Source" in x for x in texts)
    assert texts[-1].startswith("👉 À qui demander") and "ton CFA" in texts[-1]
    assert json.loads(progress)["status"] == "apprentice"


# -- issue 13: ask only what changes the result, "not yet" with what applies instead --------

async def walk(slots, answers):
    """Runs the chat from ``ask_aids`` pressing ``answers`` (step -> choice) when asked; returns the asked steps."""
    from actions.aid_finder import STEPS
    dispatcher = CollectingDispatcher()
    events = await ActionAidFinder().run(dispatcher, tracker("ask_aids", slots), {})
    asked = []
    questions = {"Tu es déjà en apprentissage ?": "status", "Tu as quel âge ?": "age", "Tu habites où ?": "territory",
                 "Tu penses partir pour ta formation ?": "destination", "De quoi tu aurais le plus besoin ?": "need"}
    for _ in STEPS:
        step = questions.get(dispatcher.messages[-1]["text"])
        if step is None:
            break
        asked.append(step)
        progress = events[0]["value"]
        dispatcher = CollectingDispatcher()
        events = await ActionAidFinder().run(
            dispatcher, tracker("aid_answer", {**slots, "aid_progress": progress}, f"{step}:{answers[step]}"), {})
    return asked, [m["text"] for m in dispatcher.messages]


async def test_chat_does_not_ask_the_age_when_no_remaining_aid_depends_on_it(cat):
    asked, texts = await walk({}, {"status": "apprentice", "territory": "martinique", "destination": "none",
                                   "need": "money"})
    assert asked == ["status", "territory", "destination", "need"]
    assert any("Accompagnement social" in x for x in texts)
    assert any("Je ne t'ai pas demandé ton âge" in x for x in texts)


async def test_chat_asks_the_age_last_when_it_decides_and_a_17_year_old_hears_not_yet(cat):
    asked, texts = await walk({"territory": "guadeloupe"}, {"status": "apprentice", "destination": "none",
                                                            "need": "licence", "age": "16"})
    assert asked == ["status", "destination", "need", "age"]  # territory known: not asked
    assert any("Pas encore pour toi : « Aide de l'État au permis de conduire (permis B) », c'est à partir de 18 ans"
               in x for x in texts), texts


def test_ladom_needs_18_for_a_jobseeker_and_16_in_alternance(cat):
    assert "ladom_passport" not in ids(cat, Profile(17, "martinique", "jobseeker", "hexagone", None))
    assert "ladom_passport" in ids(cat, Profile(17, "martinique", "future_apprentice", "hexagone", None))
    assert "ladom_passport" in ids(cat, Profile(18, "martinique", "jobseeker", "hexagone", None))


async def test_driving_licence_question_at_17_says_not_yet_and_what_applies_instead(cat):
    from actions.answers import ActionAnswerAid
    dispatcher = CollectingDispatcher()
    await ActionAnswerAid().run(dispatcher, tracker("ask_driving_licence_aid", {"age": "17", "territory": "martinique"}),
                                {})
    first, card = dispatcher.messages[0]["text"], dispatcher.messages[1]["text"]
    assert first.startswith("⏳ Pas encore : « Aide de l'État au permis de conduire (permis B) », c'est à partir de "
                            "18 ans, et tu as 17 ans"), first
    assert "Ce qui peut déjà t'aider à 17 ans :\n• Accompagnement social des apprentis d'outre-mer (AKTO)" in first
    assert "📋 Conditions : À partir de 18 ans. Tu dois être apprenti, avec ton contrat en cours." in card
    dispatcher = CollectingDispatcher()
    await ActionAnswerAid().run(dispatcher, tracker("ask_driving_licence_aid", {"age": "18"}), {})
    assert len(dispatcher.messages) == 1 and "Pas encore" not in dispatcher.messages[0]["text"]


def test_every_aid_with_an_age_limit_shows_it(cat):
    from akto_data.catalogue.answers import aid_text
    assert "Moins de 30 ans." in aid_text(cat, "mobili_jeune")
    assert "Il faut avoir 18 ans, ou 16 ans si tu es en alternance" in aid_text(cat, "ladom_passport")
