"""Issue 11, part 3: inbox grouping and the retraining gate (no Rasa, no browser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from akto_data.training.inbox import InboxMessage, group_messages
from akto_data.training.registry import refusals
from stack.nlu_eval import scores

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def message(i: int, text: str, topic: str | None = None, confidence: float | None = None) -> InboxMessage:
    return InboxMessage(i, text, "fallback", topic, confidence, None, NOW - timedelta(minutes=i))


def test_spelling_variants_of_one_question_share_a_group_and_other_questions_do_not():
    groups = group_messages([
        message(1, "c koi la poec", "ask_akto", 0.2), message(2, "permis bateau c combien"),
        message(3, "C'est koi la POEC ?", "ask_akto", 0.4), message(4, "cest quoi la poec", "greet", 0.1),
        message(5, "permis bateau cest combien"), message(6, "tu aimes la pizza"),
    ])
    assert [g.ids for g in groups] == [[1, 3, 4], [2, 5], [6]]
    assert groups[0].guessed_topic == "ask_akto" and abs(groups[0].confidence - 0.3) < 1e-9


def test_a_model_losing_more_than_one_point_is_refused_with_its_figures():
    running = {"heldout.yml": {"macro_f1": 0.978, "oos": 1.0}, "heldout_fresh.yml": {"macro_f1": 0.970, "oos": 1.0}}
    assert refusals({"heldout.yml": {"macro_f1": 0.969, "oos": 1.0},
                     "heldout_fresh.yml": {"macro_f1": 0.975, "oos": 0.991}}, running) == []  # 0.9 point: kept
    problems = refusals({"heldout.yml": {"macro_f1": 0.960, "oos": 0.96},
                         "heldout_fresh.yml": {"macro_f1": 0.970, "oos": 1.0}}, running)
    assert problems == [
        "macro-F1 sur heldout.yml : 0,960 au lieu de 0,978 (−1,8 points, plus de 1 point de baisse)",
        "hors-sujet détectés sur heldout.yml : 0,960 au lieu de 1,000 (−4,0 points, plus de 1 point de baisse)",
    ]


def test_scores_without_scikit_learn_match_the_definitions():
    result = scores(["a", "a", "b", "out_of_scope"], ["a", "b", "b", "nlu_fallback"])
    assert result["per_topic"]["a"][:3] == (1.0, 0.5, 2 / 3)
    assert result["oos_catch"] == 1.0 and result["accuracy"] == 0.5


async def test_fallback_and_thumbs_down_log_the_conversations_territory(sqlite_db):
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.fallback import ActionFallback, ActionStoreFeedback
    from akto_data.review import unanswered

    def user(text: str, intent: str) -> dict:
        return {"event": "user", "text": text, "parse_data": {
            "text": text, "intent": {"name": intent, "confidence": 0.3},
            "intent_ranking": [{"name": intent, "confidence": 0.3}], "entities": []}}

    missed = [user("c koi la poec", "nlu_fallback")]
    await ActionFallback().run(CollectingDispatcher(), Tracker("c1", {"territory": "mayotte"}, missed[-1]["parse_data"],
                                                                 missed, False, None, {}, ""), {})
    thumbs = [user("aide permis ?", "ask_driving_licence_aid"), user("/feedback_negative", "feedback_negative")]
    await ActionStoreFeedback().run(CollectingDispatcher(), Tracker("c2", {}, thumbs[-1]["parse_data"], thumbs,
                                                                    False, None, {}, ""), {})
    assert sorted((r.text, r.territory) for r in unanswered()) == [("aide permis ?", None), ("c koi la poec", "mayotte")]
