"""/mes_donnees shows what we hold; /supprimer erases it everywhere, after a confirmation."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine, text

from akto_data.i18n import text as t
from akto_data.leads.store import create_lead


def rows_about(database_url: str, chat_id: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {column} = :id"), {"id": chat_id}).scalar()
                for table, column in (("app_chat_profile", "chat_id"), ("app_button_payload", "chat_id"),
                                      ("app_lead", "chat_id"), ("events", "sender_id"))
            }
    finally:
        engine.dispose()


async def test_show_then_erase_everything_after_confirmation(user, base_settings):
    chat = str(user.user_id)
    await user.say("g 19 ans jsui payé cb en apprentissage")
    await user.press((await user.replies(count=2))[0], "Martinique")  # the pay figure's territory button
    await user.replies()
    create_lead({"chat_id": chat, "cfa_id": "mq_umih", "rome": "G1602", "training": "CAP Cuisine",
                 "first_name": "Léa", "age": 19, "territory": "martinique", "contact_channel": "phone",
                 "contact_value": "0696 12 34 56"}, "v1")

    await user.say("/mes_donnees")
    held = (await user.replies())[-1].text
    for slot, value in (("territory", "martinique"), ("age", "19")):
        assert t("privacy.item", label=t(f"privacy.field.slot.{slot}"), value=value) in held
    assert "mq_umih — CAP Cuisine" in held
    assert all(count > 0 for count in rows_about(base_settings.database_url, chat).values())

    await user.say("/supprimer")
    question = (await user.replies())[-1]
    assert question.text == t("privacy.confirm")
    await user.press(question, "Non, garder")
    assert (await user.replies())[-1].text == t("privacy.kept")
    assert rows_about(base_settings.database_url, chat)["app_lead"] == 1

    await user.say("/supprimer")
    await user.press((await user.replies())[-1], "Oui, tout effacer")
    assert (await user.replies())[-1].text == t("privacy.erased")
    assert rows_about(base_settings.database_url, chat) == {
        "app_chat_profile": 0, "app_button_payload": 0, "app_lead": 0, "events": 0}
    tracker = httpx.get(f"{base_settings.rasa_url}/conversations/{chat}/tracker",
                        params={"token": base_settings.rasa_auth_token}).json()
    assert not tracker["slots"].get("territory") and not tracker["slots"].get("age")

    await user.say("/mes_donnees")
    assert (await user.replies())[-1].text == t("privacy.nothing")
