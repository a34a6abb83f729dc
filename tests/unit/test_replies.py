from bot.replies import TELEGRAM_TEXT_LIMIT, OutgoingMessage, from_rasa, split_text


def test_long_text_is_split_under_the_limit_at_paragraphs_without_losing_words():
    paragraph = "L'alternance, c'est apprendre un métier en entreprise et au CFA. " * 30
    text = "\n\n".join([paragraph] * 5)
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(len(p) <= TELEGRAM_TEXT_LIMIT for p in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_a_word_longer_than_the_limit_is_still_cut():
    assert [len(p) for p in split_text("x" * 9000)] == [4096, 4096, 808]


def test_html_is_escaped():
    assert OutgoingMessage("<b>Tom & Léa</b>").html() == "&lt;b&gt;Tom &amp; Léa&lt;/b&gt;"


def test_rasa_answer_becomes_messages_with_buttons_on_the_last_piece():
    responses = [
        {"recipient_id": "1", "text": "Salut"},
        {"recipient_id": "1", "text": "Menu", "buttons": [{"title": "Aides", "payload": "/ask_aids"}]},
        {"recipient_id": "1", "image": "https://example.org/a.png"},
        {"recipient_id": "1", "custom": {"kind": "analytics"}},
    ]
    messages = from_rasa(responses)
    assert [m.text for m in messages][:2] == ["Salut", "Menu"]
    assert messages[1].buttons[0].payload == "/ask_aids"
    assert "https://example.org/a.png" in messages[2].text
    assert len(messages) == 3  # a custom payload without text is not shown
