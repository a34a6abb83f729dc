"""Issue 12, part 4, through the real Rasa and action server: a young person picked a CFA
that AKTO staff pause before the request is sent. The next answer tells them, the form
lists the other CFAs only, the recap and the consent name the new one, and the lead
goes to it — never to the paused CFA."""

from __future__ import annotations

from sqlalchemy import select

from akto_data.cfa import performance
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.models import Lead
from tests.e2e.rest_chat import RestChat, last, lead_form_contact_to_recap, lead_form_to_cfa_choice


def test_a_cfa_paused_during_the_form_is_replaced_by_another_before_consent(rasa_stack, base_settings):
    chat = RestChat(base_settings.rasa_url, prefix="pause")
    r = lead_form_to_cfa_choice(chat, "électricien")
    offered = [title for title, _ in last(r).buttons]
    assert any("Chambre de métiers" in title for title in offered), chat.dump()
    assert any("académique" in title for title in offered), chat.dump()
    r = chat.press(last(r), "Chambre de métiers")
    with session_scope() as session:  # AKTO pauses that CFA while the young person is answering
        performance.pause(session, "mq_cma", "ne répond plus", "sarah@akto.example")
    try:
        r = chat.press(last(r), "téléphone")
        texts = [reply.text for reply in r]
        assert t("cfa.staff.chosen_cfa_paused") in texts, chat.dump()
        again = [title for title, _ in last(r).buttons]
        assert not any("Chambre de métiers" in title for title in again), chat.dump()
        r = chat.press(last(r), "académique")
        r = chat.say("0696 12 34 56")  # the channel (phone) was chosen before the pause
        r = chat.press(last(r), "le salaire")
        r = chat.press(last(r), "C'est tout")
        if any("Pas de message" in title for title, _ in last(r).buttons):
            r = chat.press(last(r), "Pas de message")
        recap = " ".join(reply.text for reply in r)
        assert "académique" in recap and "Chambre de métiers" not in recap, chat.dump()
        sent = chat.press(last(r), "Oui, j'envoie")
        assert any("C'est envoyé" in reply.text for reply in sent), chat.dump()
        with session_scope() as session:
            (lead,) = session.scalars(select(Lead).where(Lead.chat_id == chat.sender))
            assert lead.cfa_id == "mq_academique"
    finally:
        with session_scope() as session:
            performance.resume(session, "mq_cma", "sarah@akto.example")


def test_a_cfa_paused_just_before_the_consent_is_told_and_the_other_cfas_are_offered(rasa_stack, base_settings):
    """Issue 12 review, finding 1: the pause lands between the recap and "Oui, j'envoie".
    Before, the young person got "submission failed, try again", and every retry failed."""
    chat = RestChat(base_settings.rasa_url, prefix="pause-consent")
    r = lead_form_to_cfa_choice(chat, "électricien")
    r = lead_form_contact_to_recap(chat, chat.press(last(r), "Chambre de métiers"))
    recap = " ".join(reply.text for reply in r)
    assert "Chambre de métiers" in recap, chat.dump()
    with session_scope() as session:  # AKTO pauses the CFA while the young person reads the recap
        performance.pause(session, "mq_cma", "ne répond plus", "sarah@akto.example")
    try:
        r = chat.press(last(r), "Oui, j'envoie")
        texts = [reply.text for reply in r]
        assert t("cfa.staff.chosen_cfa_paused") in texts, chat.dump()
        assert t("lead.submit_failed") not in texts, chat.dump()
        again = [title for title, _ in last(r).buttons]
        assert any("académique" in title for title in again), chat.dump()
        assert not any("Chambre de métiers" in title for title in again), chat.dump()
        r = chat.press(last(r), "académique")
        recap = " ".join(reply.text for reply in r)
        assert "académique" in recap and "Chambre de métiers" not in recap, chat.dump()  # consent asked again
        sent = chat.press(last(r), "Oui, j'envoie")
        assert any("C'est envoyé" in reply.text for reply in sent), chat.dump()
        with session_scope() as session:
            (lead,) = session.scalars(select(Lead).where(Lead.chat_id == chat.sender))
            assert lead.cfa_id == "mq_academique"
    finally:
        with session_scope() as session:
            performance.resume(session, "mq_cma", "sarah@akto.example")
