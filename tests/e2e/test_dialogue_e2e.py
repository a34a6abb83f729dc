"""Conversations through Telegram that need the action server and remembered slots."""

from __future__ import annotations

from akto_data.review import unanswered


async def test_pay_question_asks_what_is_missing_with_buttons_and_answers_with_source(user):
    await user.say("g 19 ans jsui payé cb en apprentissage")
    asked = await user.replies()
    year_question = asked[-1]
    assert "année de contrat" in year_question.text
    await user.press(year_question, "1re année")
    where = (await user.replies())[-1]
    assert "Tu habites où" in where.text
    await user.press(where, "Martinique")
    answer = await user.replies(count=2)
    text = answer[0].text
    assert "43 %" in text and "783,90" in text and "en Martinique" in text
    assert "D6222-26" in text and "vérifié le" in text
    assert "utile" in answer[-1].text or "aidé" in answer[-1].text  # feedback question

    # The territory is remembered: recruiting occupations are not asked for it again.
    await user.say("et ki metier ki recrute ?")
    jobs = await user.replies(count=2)
    assert "En Martinique" in jobs[0].text and "BMO" in jobs[0].text


async def test_gibberish_gets_did_you_mean_then_the_options_and_is_logged_for_review(user):
    before = len(unanswered())
    await user.say("hmmm blblbl zzz")
    first = await user.replies()
    await user.say("qsdkjh ppppp")
    second = await user.replies()
    texts = [m.text for m in first + second]
    assert any("Voir le menu" in title for m in first + second for title, _ in m.buttons)
    assert any("pas compris" in t or "Tu voulais dire" in t for t in texts)
    assert len(unanswered()) >= before + 2
