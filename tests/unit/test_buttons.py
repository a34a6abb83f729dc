import pytest

from akto_data.buttons import consume_button, register_buttons


@pytest.mark.parametrize("db", ["sqlite_db", "postgres_db"])
def test_a_keyboard_answers_once_and_only_in_its_chat(db, request):
    request.getfixturevalue(db)
    ids = register_buttons("42", [("Aides", "/ask_aids"), ("Menu", "/start")])
    assert all(len(i.encode()) <= 64 for i in ids)  # Telegram's callback_data limit
    assert consume_button("43", ids[0]) is None  # another chat cannot use it
    pressed = consume_button("42", ids[0])
    assert pressed is not None and pressed.payload == "/ask_aids"
    assert consume_button("42", ids[1]) is None  # same keyboard: already answered
    assert consume_button("42", "unknown") is None


def test_expired_buttons_are_refused_and_purged(sqlite_db):
    from datetime import timedelta

    from sqlalchemy import update

    from akto_data.buttons import BUTTON_TTL, purge_expired_buttons
    from akto_data.db import session_scope
    from akto_data.models import ButtonPayload, utcnow

    old = register_buttons("42", [("Aides", "/ask_aids")])
    with session_scope() as session:
        session.execute(update(ButtonPayload).values(created_at=utcnow() - BUTTON_TTL - timedelta(days=1)))
    assert consume_button("42", old[0]) is None
    fresh = register_buttons("42", [("Menu", "/start")])
    assert purge_expired_buttons() == 1
    assert consume_button("42", fresh[0]) is not None
