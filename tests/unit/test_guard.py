from bot.guard import Admission, FloodLimiter, clean_deep_link, is_rasa_payload


def test_typed_payloads_are_recognised_even_with_leading_spaces():
    assert is_rasa_payload('/request_cfa_contact{"territory":"martinique"}')
    assert is_rasa_payload("   /greet@0.9")
    assert not is_rasa_payload("c koi l'alternance ? 1/2")


def test_deep_link_payload_must_have_telegram_shape():
    assert clean_deep_link("cfa_972-umih") == "cfa_972-umih"
    assert clean_deep_link('x{"a":1}') is None
    assert clean_deep_link("a" * 65) is None
    assert clean_deep_link(None) is None


def test_flood_limiter_warns_once_then_drops_then_recovers():
    now = [0.0]
    limiter = FloodLimiter(max_messages=3, window=10, clock=lambda: now[0])
    assert [limiter.admit("u") for _ in range(3)] == [Admission.ACCEPT] * 3
    assert limiter.admit("u") is Admission.WARN
    assert limiter.admit("u") is Admission.DROP
    assert limiter.admit("other") is Admission.ACCEPT  # users are independent
    now[0] = 11
    assert limiter.admit("u") is Admission.ACCEPT
