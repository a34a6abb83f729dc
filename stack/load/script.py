"""The scripted conversations ``make load`` plays, each step with the answer it expects.

Walked by hand on the real dialogue (model, action server, imported catalogue) before
being written down. Every step names a marker: a substring of one reply's text, or
the payload of one of its buttons. A reply without it is an error, never a fast
answer: a script that drifted from the dialogue (a retrained model, a changed text)
shows up as errors at once instead of as flattering figures of a conversation that
went elsewhere. Messages are sent as the bot sends them: typed text as typed, a button
press as the button's payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    name: str  # script.step, for the slowest-steps table
    message: str
    #: substrings of one reply's text, or payloads of one of its buttons: any one will do
    #: (a response with several variations needs one marker each)
    expect: tuple[str, ...]

    def answered(self, replies: Sequence[dict[str, Any]]) -> bool:
        """Whether the replies hold one of the expected markers."""
        for reply in replies:
            text = reply.get("text") or ""
            payloads = {button.get("payload") for button in reply.get("buttons") or []}
            if any(marker in text or marker in payloads for marker in self.expect):
                return True
        return False


@dataclass(frozen=True)
class Script:
    name: str
    steps: tuple[Step, ...]


def _script(name: str, *steps: tuple[str, str, str | tuple[str, ...]]) -> Script:
    return Script(name, tuple(Step(f"{name}.{label}", message, (expect,) if isinstance(expect, str) else expect)
                              for label, message, expect in steps))


COOK = '{"occupation":"G1602"}'
THANKS = ("Avec plaisir", "De rien")  # utter_thank's two variations

#: Someone looking around: greeting, a FAQ question, an aid, the recruiting list and one
#: of its buttons, pay (answer first, issue 13) and its refine button, the quiz begun.
EXPLORE = _script(
    "explore",
    ("greeting", "slt", "/start_orientation"),
    ("faq", "c koi l'alternance", "L'apprentissage, c'est apprendre un métier"),
    ("aid", "aide permis ?", "Aide de l'État au permis"),
    ("recruiting", "ki metier ki recrute en martinique", f"/ask_occupation{COOK}"),
    ("occupation-button", f"/ask_occupation{COOK}", f"/request_cfa_contact{COOK}"),
    ("pay", "combien gagne un apprenti de 20 ans", "783,90"),
    ("pay-refine-button", '/ask_apprentice_pay{"contract_year":"2"}', "929,75"),
    ("quiz", "je sais pas quoi faire comme métier", '/quiz_answer{"quiz_choice":"q1-0"}'),
    ("quiz-1", '/quiz_answer{"quiz_choice":"q1-0"}', '/quiz_answer{"quiz_choice":"q2-0"}'),
    ("quiz-2", '/quiz_answer{"quiz_choice":"q2-0"}', '/quiz_answer{"quiz_choice":"q3-0"}'),
    ("quiz-3", '/quiz_answer{"quiz_choice":"q3-0"}', "Question 4/10"),
    ("thanks", "merci", THANKS),
)

#: Someone who wants a CFA to call back: the lead form up to its recap and consent
#: question, never answered (no lead is sent, no e-mail queued).
CONTACT = _script(
    "contact",
    ("greeting", "bonjour", "/request_cfa_contact"),
    ("pay", "combien gagne un apprenti de 20 ans en martinique", "783,90"),
    ("lead", "je veux être contacté par un CFA", '/inform{"lead_first_name":"Léa"}'),
    ("first-name", '/inform{"lead_first_name":"Léa"}', "quelle commune"),
    ("town", "lamentin", "Quel métier ou quelle formation"),
    ("occupation", "cuisinier", '/inform{"diploma_level":"3"}'),
    ("diploma", '/inform{"diploma_level":"3"}', '/inform{"lead_start":"rentree"}'),
    ("start", '/inform{"lead_start":"rentree"}', '/inform{"lead_employer":"no"}'),
    ("employer", '/inform{"lead_employer":"no"}', '/inform{"lead_mobility":"none"}'),
    ("mobility", '/inform{"lead_mobility":"none"}', '/inform{"lead_cfa":"mq_umih"}'),
    ("cfa", '/inform{"lead_cfa":"mq_umih"}', '/inform{"lead_contact_channel":"telegram"}'),
    ("contact", '/inform{"lead_contact_channel":"telegram"}', '/inform{"lead_reason":"pay"}'),
    ("reason", '/inform{"lead_reason":"pay"}', '/inform{"lead_reason":"done"}'),
    ("reasons-done", '/inform{"lead_reason":"done"}', '/inform{"lead_message":"none"}'),
    ("no-message", '/inform{"lead_message":"none"}', '/inform{"lead_consent":"yes"}'),
)

SCRIPTS: tuple[Script, ...] = (EXPLORE, CONTACT)

#: Questions that open no form and can follow each other for ever: a long conversation
#: is this cycle repeated (10 messages a turn), after a greeting.
CYCLE = _script(
    "long",
    ("faq", "c koi l'alternance", "L'apprentissage, c'est apprendre un métier"),
    ("feedback", "/feedback_positive", "Merci pour ton avis"),
    ("aid", "aide permis ?", "Aide de l'État au permis"),
    ("recruiting", "ki metier ki recrute en martinique", f"/ask_occupation{COOK}"),
    ("occupation-button", f"/ask_occupation{COOK}", f"/request_cfa_contact{COOK}"),
    # The year said each time: the first turn's refinement (2e année) stays in the
    # conversation, so a question without it would get the 2e année's figure next turn.
    ("pay", "combien gagne un apprenti de 20 ans en 1re année", "783,90"),
    ("pay-refine", "et en 2e année ?", "929,75"),
    ("thanks", "merci", THANKS),
    ("trial-period", "c'est combien de temps la période d'essai", "45 premiers jours"),
    ("greeting", "slt", "/start_orientation"),
)


def long_conversation(messages: int) -> Script:
    """A conversation of ``messages`` messages: the cycle repeated as often as needed."""
    steps = [CYCLE.steps[i % len(CYCLE.steps)] for i in range(messages)]
    return Script(f"long-{messages}", tuple(steps))


def mean_length(scripts: Sequence[Script] = SCRIPTS) -> float:
    return sum(len(s.steps) for s in scripts) / len(scripts)
