"""Start, submission and cancellation of a request to be contacted by a CFA.

The lead is stored only after an explicit yes to the consent question, with the
version of the consent text. Storing also queues the e-mail to the CFA (outbox):
the chat never waits on SMTP.

A submission that fails for any other reason than a duplicate or the daily cap
(database down, a value it refuses...) is told to the young person, in French, with
a "Réessayer l'envoi" button. Their answers are kept: the form is re-armed on the
consent question (``requested_slot`` = ``lead_consent``, the loop active again, then
Rasa listens), so the button, which carries the same payload as "Oui, j'envoie",
completes the form and runs this action again without asking anything twice.
Typing "annuler" still leaves; any other message gets the recap and consent again.

A CFA that AKTO paused between the form's last answer and the consent
(:class:`~akto_data.leads.store.CfaPaused`) is no failure to retry (every retry would
be refused the same way): the young person is told as when the pause is noticed
earlier in the form (:meth:`actions.leads.ValidateLeadForm._chosen_cfa_paused`, the
same text and the same slots cleared), and the form is run again at once, so it lists
the other CFAs, then asks the consent again naming the one chosen.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.leads import ValidateLeadForm
from actions.texts import intent_payload
from actions.unit_of_work import unit_of_work
from akto_data.catalogue.queries import Catalogue
from akto_data.db import session_scope
from akto_data.i18n import text as t
from akto_data.leads.form import label, lead_request
from akto_data.leads.store import CfaPaused, DuplicateLead, TooManyLeads, create_lead

#: Answers of one request, cleared when it ends; what else the young person told us
#: (name, age, territory, town, occupation, diploma, contact...) is kept and offered again.
PER_REQUEST = ("lead_cfa", "lead_cfa_territory", "lead_reasons", "lead_reasons_picked", "lead_message",
               "lead_consent", "lead_change", "lead_editing")
#: Payload of the retry button: the same as the consent button's "Oui, j'envoie".
RETRY_PAYLOAD = intent_payload("inform", lead_consent="yes")

log = logging.getLogger(__name__)

#: Answers the form reuses from earlier in the conversation, in the order of the recap.
KNOWN = ("lead_first_name", "age", "territory", "lead_town", "occupation", "diploma_level")


def consent_version() -> str:
    """Version of the consent text, kept beside the text in the French catalogue."""
    return t("lead.consent.version")


def clear_request() -> list[dict[str, Any]]:
    return [SlotSet(name, None) for name in PER_REQUEST]


class ActionLeadIntro(Action):
    """Opens the form and says which answers are already known (they can be changed in the recap)."""

    def name(self) -> str:
        return "action_lead_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        known = []
        with session_scope() as session:
            catalogue = Catalogue(session)
            for slot in KNOWN:
                value = tracker.get_slot(slot)
                if not value:
                    continue
                if slot == "territory":
                    place = catalogue.territory(value)
                    value = place.name if place else None
                elif slot == "occupation":
                    job = catalogue.occupation(value)
                    value = job.name if job else None
                elif slot == "age":
                    value = t("lead.known_age", age=value)
                elif slot == "diploma_level":
                    value = label("diploma", value)
                if value:
                    known.append(str(value))
        dispatcher.utter_message(text=t("lead.intro"))
        if known:
            dispatcher.utter_message(text=t("lead.intro_known", known=", ".join(known)))
        return clear_request()


class ActionSubmitLead(Action):
    def name(self) -> str:
        return "action_submit_lead"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.get_slot("lead_consent") != "yes":
            dispatcher.utter_message(response="utter_lead_cancelled")
            return clear_request()
        name = tracker.get_slot("lead_cfa")
        try:
            with session_scope() as session:
                data, match = lead_request(Catalogue(session), tracker.slots, tracker.sender_id)
                name = match.name if match else data["cfa_id"]
                create_lead(data, consent_version(), match.level if match else None, session=session)
        except DuplicateLead:
            dispatcher.utter_message(text=t("lead.duplicate", cfa=name))
        except TooManyLeads:
            dispatcher.utter_message(text=t("lead.too_many"))
        except CfaPaused as exc:
            return chosen_cfa_paused(dispatcher, tracker, exc)
        except Exception as exc:  # any failure must reach the young person, not only the log
            return submission_failed(dispatcher, exc)
        else:
            dispatcher.utter_message(text=t("lead.sent", cfa=name))
        return clear_request()


def submission_failed(dispatcher: CollectingDispatcher, exc: BaseException) -> list[dict[str, Any]]:
    """Tell the young person, keep every answer, and wait on the consent question for a retry.

    Only the exception's type is logged: a database error's text quotes the values
    of the row (name, phone, e-mail).
    """
    causes: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(causes) < 4:
        causes.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    log.error("lead submission failed: %s", " <- ".join(causes))
    dispatcher.utter_message(text=t("lead.submit_failed"),
                             buttons=[{"title": t("lead.submit_retry"), "payload": RETRY_PAYLOAD}])
    return [SlotSet("lead_consent", None), ActiveLoop("lead_form"), SlotSet("requested_slot", "lead_consent"),
            FollowupAction("action_listen")]


def chosen_cfa_paused(dispatcher: CollectingDispatcher, tracker: Tracker, exc: CfaPaused) -> list[dict[str, Any]]:
    """The chosen CFA was paused just before the consent: say so, choose again, consent again.

    The form's own check (the same text, ``lead_cfa`` and ``lead_consent`` cleared) does
    it; then the form runs again (active, nothing to validate since no message came) and
    asks the first empty question: the CFAs, the paused one no longer among them. A CFA
    resumed in the meantime leaves the check with nothing to do: then the consent is
    simply asked again, like after any failed submission.
    """
    with unit_of_work():
        events = ValidateLeadForm._chosen_cfa_paused(dispatcher, tracker, [])
    if not events:
        return submission_failed(dispatcher, exc)
    return [*events, ActiveLoop("lead_form"), SlotSet("requested_slot", None), FollowupAction("lead_form")]


class ActionLeadCancel(Action):
    def name(self) -> str:
        return "action_lead_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_lead_cancelled")
        return [*clear_request(), SlotSet("requested_slot", None)]
