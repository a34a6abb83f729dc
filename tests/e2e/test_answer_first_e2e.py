"""Issue 13, "the answer comes first", through Rasa as the bot calls it (REST channel, button payloads).

The pay figure comes in the first reply, with what was assumed said, and the details
that would change it offered as buttons; a question is never asked before it. The
aid answers say "not yet" to someone too young, with what applies instead; a question
about what a CFA pays for is an aid question and never opens the CFA contact form.
"""

from __future__ import annotations

import pytest

from tests.e2e.rest_chat import Reply, RestChat

QUESTIONS = ("quel âge", "quelle année de contrat", "tu habites où", "ton prénom")


def no_question(replies: list[Reply]) -> bool:
    return not any(q in r.text.lower() for r in replies for q in QUESTIONS)


def test_the_issues_message_gets_the_figure_first_with_mayotte_beside(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    replies = chat.say("combien gagne un apprenti de 20 ans en 1re année ?")
    pay = replies[0]
    assert no_question(replies), chat.dump()
    assert pay.text.startswith("À 20 ans, en 1re année, un apprenti gagne au minimum 43 % du SMIC, soit "
                               "783,90\u00a0€ brut par mois au SMIC de l'Hexagone et des DROM hors Mayotte"), chat.dump()
    assert "À Mayotte, où le SMIC est plus bas : 608,47\u00a0€ brut par mois." in pay.text
    assert "J'ai compté" not in pay.text  # the year was given: nothing assumed about it
    assert "D6222-26" in pay.text
    titles = [t for t, _ in pay.buttons]
    assert "Mayotte" in titles and "2e année" not in titles, chat.dump()
    # The territory button refines to one exact figure, nothing left to offer.
    refined = chat.press(pay, "Mayotte")[0]
    assert "43 % du SMIC, soit 608,47\u00a0€ brut par mois à Mayotte" in refined.text and not refined.buttons


def test_with_age_and_territory_known_one_exact_figure(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    chat.say("j'ai 17 ans et j'habite en guadeloupe")
    replies = chat.say("cb on gagne en apprentissage en 2e année")
    pay = replies[0]
    assert no_question(replies), chat.dump()
    assert pay.text.startswith("À 17 ans, en 2e année, un apprenti gagne au minimum 39 % du SMIC, soit "
                               "710,98\u00a0€ brut par mois en Guadeloupe"), chat.dump()  # 1 823,03 × 39 %
    assert "Mayotte" not in pay.text and not pay.buttons


def test_at_26_and_over_the_contract_year_is_never_asked_nor_offered(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    chat.say("j'ai 27 ans")
    replies = chat.say("combien gagne un apprenti ?")
    pay = replies[0]
    assert no_question(replies), chat.dump()
    assert pay.text.startswith("À 27 ans, quelle que soit l'année de contrat, un apprenti gagne au minimum 100 % du "
                               "SMIC, soit 1\u202f823,03\u00a0€ brut par mois"), chat.dump()
    assert "À Mayotte, où le SMIC est plus bas : 1\u202f415,05\u00a0€" in pay.text
    titles = [t for t, _ in pay.buttons]
    assert not any("année" in t for t in titles) and "Martinique" in titles, chat.dump()
    assert "J'ai compté" not in pay.text


def test_nothing_known_gives_the_table_then_an_age_band_button_gives_the_figure(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    replies = chat.say("un apprenti il est payé combien ?")
    table = replies[0]
    assert no_question(replies), chat.dump()
    assert "• moins de 18 ans : 27 % / 39 % / 55 %" in table.text and "• 26 ans et plus : 100 % chaque année" in table.text
    assert "de 492,22\u00a0€ à 1\u202f823,03\u00a0€" in table.text and "à Mayotte" in table.text
    figure = chat.press(table, "21 à 25 ans")[0]
    assert figure.text.startswith("De 21 à 25 ans, en 1re année, un apprenti gagne au minimum 53 % du SMIC"), chat.dump()
    assert "J'ai compté la 1re année de contrat. En 2e année c'est 61 % du SMIC, en 3e année 78 %." in figure.text
    # The band is not an age: the lead form still asks the real one.
    lead = chat.say("je veux être contacté par un CFA")
    assert any("prénom" in r.text for r in lead), chat.dump()


def test_a_17_year_old_asking_for_the_licence_aid_hears_not_yet_and_what_applies(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    replies = chat.say("j'ai 17 ans, je peux avoir l'aide pour le permis ?")
    texts = [r.text for r in replies]  # Rasa sends each paragraph as its own message
    assert texts[0].startswith("⏳ Pas encore : « Aide de l'État au permis de conduire (permis B) », c'est à partir "
                               "de 18 ans, et tu as 17 ans"), chat.dump()
    assert texts[1] == "Ce qui peut déjà t'aider à 17 ans :\n• Accompagnement social des apprentis d'outre-mer (AKTO)"
    assert any("📋 Conditions : À partir de 18 ans." in t for t in texts), chat.dump()


def test_a_commune_given_for_the_territory_question_says_the_territory_and_neither_is_asked_again(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    replies = chat.say("je veux être contacté par un CFA")
    replies = chat.press(replies[-1], "Léa")
    replies = chat.say("19")
    assert "tu habites où" in replies[-1].text.lower(), chat.dump()
    replies = chat.say("j'habite à Schœlcher")
    texts = [r.text for r in replies]
    assert "Schœlcher, c'est en Martinique : je note les deux 👍" in texts, chat.dump()
    assert not any("quelle commune" in x.lower() for x in texts), chat.dump()
    assert "Quel métier ou quelle formation" in texts[-1], chat.dump()


def test_a_commune_of_two_territories_deduces_nothing(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    replies = chat.say("je veux être contacté par un CFA")
    replies = chat.press(replies[-1], "Léa")
    replies = chat.say("19")
    replies = chat.say("lamentin")  # Lamentin (Guadeloupe) and Le Lamentin (Martinique)
    assert "Tu habites où" in replies[-1].text or "Choisis ton territoire" in replies[-1].text, chat.dump()


CFA_PAYS_FOR = ["est-ce que le CFA paie les repas ?", "le CFA rembourse l'hébergement ?", "le cfa paye le transport ?",
                "le cfa paie mes repas", "qui paie mon matériel au cfa",
                "le cfa prend en charge la cantine ?", "est-ce que le cfa fournit la tenue"]


@pytest.mark.parametrize("message", CFA_PAYS_FOR)
def test_what_a_cfa_pays_for_never_opens_the_contact_form(rasa_stack, message):
    chat = RestChat(rasa_stack.settings.rasa_url)
    texts = [r.text for r in chat.say(message)]
    assert not any("ton prénom" in x or "je prépare ta demande" in x for x in texts), chat.dump()


def test_the_recruiting_question_answered_with_a_commune_lists_that_territory(rasa_stack):
    chat = RestChat(rasa_stack.settings.rasa_url)
    replies = chat.say("quels métiers recrutent ?")
    assert "tu habites où" in replies[-1].text.lower(), chat.dump()
    texts = [r.text for r in chat.say("j'habite à Schœlcher")]
    assert "Schœlcher, c'est en Martinique : je note les deux 👍" in texts, chat.dump()
    assert any("qui recrutent en Martinique" in x for x in texts), chat.dump()
    # The commune is kept: the lead form asks neither the territory nor the commune.
    lead = chat.say("je veux être contacté par un CFA")
    lead = chat.press(lead[-1], "Léa")
    lead = chat.say("19")
    assert not any("tu habites où" in r.text.lower() or "quelle commune" in r.text.lower() for r in lead), chat.dump()
