"""The "Ici c'est ma place" orientation quiz, in the chat, with buttons.

Questions and scoring come from the catalogue (content/quiz.yml): each answer adds
points to interest tags; occupations are ranked by the points of their own tags,
among those that recruit in the user's territory. Progress is kept in the
``quiz_progress`` slot, so a young person who leaves can come back and go on.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.texts import intent_payload, latest_intent
from akto_data.catalogue.answers import quiz_question
from akto_data.catalogue.cache import cached_catalogue
from akto_data.catalogue.queries import Catalogue
from akto_data.catalogue.schema import HOME_TERRITORIES
from akto_data.db import session_scope
from akto_data.i18n import text as t


def tag_scores(quiz: dict[str, Any], answers: dict[str, int]) -> dict[str, int]:
    scores: dict[str, int] = {}
    for question in quiz["questions"]:
        index = answers.get(question["id"])
        if index is not None and 0 <= index < len(question["answers"]):
            for tag, points in question["answers"][index]["tags"].items():
                scores[tag] = scores.get(tag, 0) + points
    return scores


def best_matches(catalogue: Catalogue, quiz: dict[str, Any], answers: dict[str, int], territory_id: str,
                 count: int = 3) -> list[tuple[Any, list[str]]]:
    """The ``count`` recruiting occupations that fit best, each with the tags that explain it."""
    scores = tag_scores(quiz, answers)
    ranked = []
    for job, _claim in catalogue.recruiting(territory_id):
        interests = list(job.interests)
        score = sum(scores.get(tag, 0) for tag in interests) / max(len(interests), 1)
        reasons = sorted((tag for tag in interests if scores.get(tag)), key=lambda tag: -scores[tag])[:2]
        ranked.append((score, job.name, job, reasons))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return [(job, reasons) for _score, _name, job, reasons in ranked[:count]]


def load_progress(tracker: Tracker) -> dict[str, int]:
    try:
        return dict(json.loads(tracker.get_slot("quiz_progress") or "{}"))
    except (TypeError, ValueError):
        return {}


class ActionQuiz(Action):
    def name(self) -> str:
        return "action_quiz"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            return self.answer(dispatcher, tracker, cached_catalogue(session))

    def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, catalogue: Catalogue) -> list[dict[str, Any]]:
        quiz = catalogue.document("quiz")
        questions = quiz["questions"]
        answers = load_progress(tracker)
        intent = latest_intent(tracker)
        choice = next(tracker.get_latest_entity_values("quiz_choice"), None)
        if intent == "quiz_answer" and choice and "-" in choice:
            qid, _, index = choice.rpartition("-")
            if qid in {q["id"] for q in questions} and index.isdigit():
                answers[qid] = int(index)
        elif intent == "start_orientation":
            if answers and len(answers) < len(questions):
                dispatcher.utter_message(text=t("quiz.resume"))
            else:
                answers = {}
                dispatcher.utter_message(text=t("quiz.start", count=len(questions)))

        territory_id = tracker.get_slot("territory")
        place = catalogue.territory(territory_id) if territory_id else None
        remaining = [q for q in questions if q["id"] not in answers]
        if remaining:
            text, buttons = quiz_question(quiz, remaining[0])
            dispatcher.utter_message(text=text, buttons=buttons)
            return [SlotSet("quiz_progress", json.dumps(answers))]
        if place is None or place.destination_only:
            dispatcher.utter_message(text=t("quiz.where"), buttons=[
                {"title": home.name, "payload": intent_payload("quiz_answer", territory=home.id)}
                for tid in HOME_TERRITORIES if (home := catalogue.territory(tid)) is not None])
            return [SlotSet("quiz_progress", json.dumps(answers))]
        matches = best_matches(catalogue, quiz, answers, place.id)
        lines = [t("quiz.results", territory_in=place.in_the)]
        for rank, (job, reasons) in enumerate(matches, start=1):
            because = t("quiz.reasons_join").join(quiz["reasons"][tag] for tag in reasons) or quiz["reasons"]["equipe"]
            lines.append(t("quiz.result_item", rank=rank, name=job.name, reasons=because))
        lines.append(t("quiz.results_end"))
        buttons = [{"title": job.name, "payload": intent_payload("ask_occupation", occupation=job.rome)} for job, _ in matches]
        dispatcher.utter_message(text="\n\n".join(lines), buttons=buttons)
        return [SlotSet("quiz_progress", None)]
