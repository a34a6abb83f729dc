"""The orientation quiz: answer sets give sensible results; progress survives a break."""

from __future__ import annotations

import json

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.quiz import ActionQuiz, best_matches


def pick(quiz, wanted_tags):
    """For each question, the answer giving most points to ``wanted_tags``."""
    answers = {}
    for question in quiz["questions"]:
        scores = [sum(p for tag, p in a["tags"].items() if tag in wanted_tags) for a in question["answers"]]
        answers[question["id"]] = scores.index(max(scores))
    return answers


def names(matches):
    return [job.name for job, _ in matches]


def test_outdoor_nature_lover_in_martinique(cat):
    quiz = cat.document("quiz")
    matches = best_matches(cat, quiz, pick(quiz, {"nature", "exterieur"}), "martinique")
    assert len(matches) == 3 and "Ouvrier agricole / maraîcher" in names(matches)
    recruiting = {job.rome for job, _ in cat.recruiting("martinique")}
    assert all(job.rome in recruiting for job, _ in matches)


def test_caring_profile_in_mayotte(cat):
    quiz = cat.document("quiz")
    matches = best_matches(cat, quiz, pick(quiz, {"soigner", "aider"}), "mayotte")
    assert set(names(matches)) >= {"Aide-soignant", "Aide à domicile"}
    assert any("soin" in quiz["reasons"][tag] or "aider" in quiz["reasons"][tag] for _, r in matches for tag in r)


def test_cooking_profile_in_reunion(cat):
    quiz = cat.document("quiz")
    assert "Employé polyvalent de restauration" in names(best_matches(cat, quiz, pick(quiz, {"cuisine"}), "reunion"))


def tracker(intent, slots, entities=()):
    latest = {"intent": {"name": intent}, "entities": list(entities), "text": "x"}
    return Tracker("c", slots, latest, [], False, None, {}, "")


async def test_quiz_resumes_where_the_user_left(cat):
    progress = json.dumps({"q1": 0, "q2": 1, "q3": 0, "q4": 2})
    dispatcher = CollectingDispatcher()
    events = await ActionQuiz().run(dispatcher, tracker("start_orientation", {"quiz_progress": progress}), {})
    assert "reprend" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[1]["text"].startswith("Question 5/10")
    assert json.loads(events[0]["value"]) == json.loads(progress)


async def test_last_answer_without_territory_asks_it_then_gives_results(cat):
    quiz = cat.document("quiz")
    answers = pick(quiz, {"proteger"})
    last = quiz["questions"][-1]["id"]
    partial = {k: v for k, v in answers.items() if k != last}
    dispatcher = CollectingDispatcher()
    choice = {"entity": "quiz_choice", "value": f"{last}-{answers[last]}"}
    await ActionQuiz().run(dispatcher, tracker("quiz_answer", {"quiz_progress": json.dumps(partial)}, [choice]), {})
    assert "tu habites où" in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()
    events = await ActionQuiz().run(
        dispatcher, tracker("quiz_answer", {"quiz_progress": json.dumps(answers), "territory": "guyane"}), {})
    text = dispatcher.messages[0]["text"]
    assert "en Guyane" in text and "parce que tu" in text and len(dispatcher.messages[0]["buttons"]) == 3
    assert "Agent de sécurité" in text
    assert events[0]["value"] is None  # finished: the next quiz starts afresh
