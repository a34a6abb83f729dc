"""Short eligibility chat for aids: status, territory, plans to move, main need, age.

Asked with buttons, one question at a time, skipping what the conversation already
knows (age, territory) and what cannot change the result (issue 13: the age is asked
last, and only if an aid still possible has an age condition the answer decides). Ends
with the aids that fit (amounts in force today, how to apply, who to ask, source), the
aids the young person is too young for ("not yet, from 18"), and what was not asked.
Progress lives in the ``aid_progress`` slot.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import aid_text
from actions.pay import parse_age
from actions.texts import intent_payload, latest_intent
from akto_data.catalogue.cache import cached_catalogue
from akto_data.catalogue.eligibility import Profile, eligible, too_young, worth_asking
from akto_data.catalogue.queries import Catalogue
from akto_data.catalogue.schema import HOME_TERRITORIES
from akto_data.db import session_scope
from akto_data.i18n import text as t

#: (step, choices). Age choices are the ages representing each band of the rules.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("status", ("apprentice", "future_apprentice", "jobseeker")),
    ("territory", HOME_TERRITORIES),
    ("destination", ("none", "hexagone", "other_overseas")),
    ("need", ("licence", "housing", "transport", "money", "none")),
    ("age", ("16", "19", "23", "27", "30")),
)
AGE_LABELS = {"16": "15-17 ans", "19": "18-20 ans", "23": "21-25 ans", "27": "26-29 ans", "30": "30 ans et +"}


def label(catalogue: Catalogue, step: str, choice: str) -> str:
    if step == "age":
        return AGE_LABELS[choice]
    if step == "territory":
        place = catalogue.territory(choice)
        return place.name if place else choice
    return t(f"aidfinder.{step}.{choice}")


def payload(step: str, choice: str) -> str:
    return intent_payload("aid_answer", aid_step=f"{step}:{choice}")


class ActionAidFinder(Action):
    def name(self) -> str:
        return "action_aid_finder"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            return self.answer(dispatcher, tracker, cached_catalogue(session))

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, catalogue: Catalogue) -> list[dict[str, Any]]:
        intent = latest_intent(tracker)
        try:
            answers: dict[str, str] = {} if intent == "ask_aids" else json.loads(tracker.get_slot("aid_progress") or "{}")
        except ValueError:
            answers = {}
        if intent == "ask_aids":
            dispatcher.utter_message(text=t("aidfinder.intro"))
        step_value = next(tracker.get_latest_entity_values("aid_step"), None)
        if step_value and ":" in step_value:
            step, _, choice = step_value.partition(":")
            if any(step == name and choice in choices for name, choices in STEPS):
                answers[step] = choice
        known_age = parse_age(tracker.get_slot("age"))
        if known_age is not None:
            answers.setdefault("age", str(known_age))
        if tracker.get_slot("territory") and catalogue.territory(tracker.get_slot("territory")):
            answers.setdefault("territory", tracker.get_slot("territory"))
        aids = catalogue.aids()
        skipped = []
        for step, choices in STEPS:
            if step in answers:
                continue
            if not worth_asking(step, choices, aids, answers):
                skipped.append(step)
                continue
            buttons = [{"title": label(catalogue, step, c), "payload": payload(step, c)} for c in choices]
            dispatcher.utter_message(text=t(f"aidfinder.ask.{step}"), buttons=buttons)
            return [SlotSet("aid_progress", json.dumps(answers))]
        destination, need = answers.get("destination", "none"), answers.get("need", "none")
        profile = Profile(
            age=int(answers["age"]) if "age" in answers else None, territory=answers.get("territory"),
            status=answers["status"], destination=None if destination == "none" else destination,
            need=None if need == "none" else need,
        )
        fits = eligible(aids, profile)
        not_yet = [t("aidfinder.not_yet", name=aid.name, min_age=low, age=profile.age)
                   for aid, low in too_young(aids, profile)]
        notes = [*not_yet, *([t("aidfinder.skipped", what=", ".join(t(f"aidfinder.skipped.{s}") for s in skipped))]
                             if skipped else [])]
        if not fits:
            dispatcher.utter_message(text="\n\n".join([t("aidfinder.none"), *notes]))
            return [SlotSet("aid_progress", None)]
        dispatcher.utter_message(text=t("aidfinder.results"))
        who = []
        for fit in fits:
            text = aid_text(catalogue, fit.aid_id)
            if fit.once_contract_signed:
                text = text.replace("\n", f" {t('aidfinder.once_signed')}\n", 1)
            dispatcher.utter_message(text=text)
            aid = catalogue.aid(fit.aid_id)
            if aid is not None:
                who.append(t(f"aidfinder.who.{aid.who_to_ask}"))
        if notes:
            dispatcher.utter_message(text="\n\n".join(notes))
        dispatcher.utter_message(text=t("aidfinder.ask_who", who=", ".join(dict.fromkeys(who))))
        return [SlotSet("aid_progress", None)]
