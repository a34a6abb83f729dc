"""Issue 10, finding 7, through the real Rasa and action server: when storing the lead
fails, the young person is told so, and "Réessayer l'envoi" sends the same answers
once the cause is gone, without asking anything again."""

from __future__ import annotations

from sqlalchemy import create_engine, select

from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.models import Lead
from tests.e2e.rest_chat import RestChat, last, lead_form_contact_to_recap, lead_form_to_cfa_choice


def test_finding_7_failed_lead_submission_is_told_and_retried_without_asking_again(rasa_stack, base_settings):
    chat = RestChat(base_settings.rasa_url, prefix="retry")
    r = lead_form_to_cfa_choice(chat, "cuisinier")
    r = lead_form_contact_to_recap(chat, chat.press(last(r), "UMIH"))
    consent = last(r)
    assert "/confidentialite" in consent.text, chat.dump()

    engine = create_engine(base_settings.database_url)
    with engine.begin() as connection:  # the database refuses new leads for a while
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_leads BEFORE INSERT ON app_lead BEGIN SELECT RAISE(ABORT, 'refused'); END")
    try:
        failed = last(chat.press(consent, "Oui, j'envoie"))
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER refuse_leads")
        engine.dispose()
    assert failed.text == t("lead.submit_failed"), chat.dump()
    with session_scope() as session:
        assert list(session.scalars(select(Lead).where(Lead.chat_id == chat.sender))) == []

    sent = chat.press(failed, "Réessayer l'envoi")
    assert any("C'est envoyé" in reply.text for reply in sent), chat.dump()
    assert not any("?" in reply.text for reply in sent), chat.dump()  # no question asked again
    with session_scope() as session:
        (lead,) = session.scalars(select(Lead).where(Lead.chat_id == chat.sender))
        assert (lead.first_name, lead.town) == ("Léa", "Le Lamentin") and lead.contact_value.endswith("696123456")
