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
