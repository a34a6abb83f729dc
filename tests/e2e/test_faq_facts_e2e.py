"""One contract fact, its own answer, through Telegram, Rasa and the action server (issue 13):
the first sentence the young person reads is the fact asked, then its source and date; the
general contract answer is not sent instead."""

from __future__ import annotations

import re

import pytest

#: message -> words the first sentence of the first reply must hold.
QUESTIONS = {
    "la période d'essai d'un apprenti c'est combien de jours ?": ("45 premiers jours", "librement"),
    "un contrat d'apprentissage ça dure combien d'années au max ?": ("6 mois à 3 ans",),
    "combien de jours j'ai pour réviser avant mon cap ?": ("5 jours", "réviser"),
    "c'est quoi l'âge minimum pour être apprenti ?": ("16 à 29 ans", "15 ans"),
}


@pytest.mark.parametrize("message", list(QUESTIONS))
async def test_a_contract_fact_question_gets_that_fact_first(user, message: str) -> None:
    await user.say(message)
    replies = await user.replies()
    answer = replies[0].text
    first = re.split(r"(?<=[.!?])\s|\n", answer, maxsplit=1)[0]
    for words in QUESTIONS[message]:
        assert words in first, f"{message!r}: {words!r} not in {first!r}"
    assert "Source : " in answer and "vérifié le" in answer
    assert "contrat de professionnalisation : de 16 à 25 ans" not in answer  # not the general contract answer
