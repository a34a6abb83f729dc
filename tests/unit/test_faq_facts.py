"""One contract fact, one short answer (issue 13): a question about the trial period, the
length of a contract, the days to revise before the exam or the age limits gets that fact in
the first sentence of what the assistant sends, with its source and verified date, instead of
the whole contract answer. The answers are read through the imported catalogue, as
``action_answer_faq`` reads them; the topics are intents with their own rule, so Rasa sends
each question to its own answer."""

from __future__ import annotations

import re

import pytest
import yaml

from akto_data.catalogue.answers import faq_text
from akto_data.settings import PROJECT_ROOT

#: topic -> what the first sentence must say (content-facts.md: L6222-1, L6222-18, L6222-35).
FIRST_SENTENCE = {
    "ask_trial_period": ("45 premiers jours", "librement"),
    "ask_contract_length": ("6 mois à 3 ans",),
    "ask_exam_leave": ("5 jours", "réviser", "mois"),
    "ask_apprenticeship_age": ("16 à 29 ans", "15 ans"),
}


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s|\n", text, maxsplit=1)[0]


@pytest.mark.parametrize("topic", sorted(FIRST_SENTENCE))
def test_a_one_fact_question_gets_the_fact_first_with_its_source(cat, topic: str) -> None:
    text = faq_text(cat, topic)
    assert text is not None, f"{topic}: no answer in content/faq.yml"
    opening = first_sentence(text)
    for words in FIRST_SENTENCE[topic]:
        assert words in opening, f"{topic}: {words!r} not in the first sentence {opening!r}"
    assert "Source : " in text and "vérifié le" in text
    answer_lines = text.split("\n\n")[0].split("\n")
    assert len(answer_lines) <= 3, f"{topic}: a short answer, not {len(answer_lines)} lines"


def test_the_contract_answer_no_longer_carries_the_facts_that_have_their_own(cat) -> None:
    text = faq_text(cat, "ask_contract_types")
    assert text is not None
    assert "45" not in text and "5 jours" not in text


def test_each_fact_topic_is_an_intent_with_its_own_rule_and_examples() -> None:
    rules = yaml.safe_load((PROJECT_ROOT / "stories" / "faq.yml").read_text(encoding="utf-8"))["rules"]
    answered = {rule["steps"][0]["intent"]: [s.get("action") for s in rule["steps"][1:]] for rule in rules
                if "intent" in rule["steps"][0]}
    nlu = yaml.safe_load((PROJECT_ROOT / "nlu" / "apprenticeship.yml").read_text(encoding="utf-8"))["nlu"]
    examples = {item["intent"]: item["examples"].count("\n- ") + 1 for item in nlu if "intent" in item}
    for topic in FIRST_SENTENCE:
        assert answered.get(topic) == ["action_answer_faq", "utter_ask_feedback"], topic
        assert examples.get(topic, 0) >= 30, topic
