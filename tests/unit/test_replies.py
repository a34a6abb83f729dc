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


def test_rasa_paragraphs_are_joined_into_one_message_closed_by_buttons():
    responses = [
        {"recipient_id": "1", "text": "Salut"},
        {"recipient_id": "1", "text": "Menu", "buttons": [{"title": "Aides", "payload": "/ask_aids"}]},
        {"recipient_id": "1", "text": "Paragraphe 1"},
        {"recipient_id": "1", "text": "Source : X"},
        {"recipient_id": "1", "image": "https://example.org/a.png"},
        {"recipient_id": "1", "custom": {"kind": "analytics"}},
    ]
    messages = from_rasa(responses)
    assert messages[0].text == "Salut\n\nMenu" and messages[0].buttons[0].payload == "/ask_aids"
    assert messages[1].text.startswith("Paragraphe 1\n\nSource : X") and "https://example.org/a.png" in messages[1].text
    assert len(messages) == 2  # a custom payload without text adds nothing
