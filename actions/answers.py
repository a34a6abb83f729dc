"""Answers read from the catalogue: FAQ topics and aids, always with their source."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.sourcing import source_lines
from actions.texts import latest_intent
from akto_data.catalogue.queries import Catalogue, Sourced
from akto_data.db import session_scope
from akto_data.i18n import money
from akto_data.i18n import text as t


class ActionAnswerFaq(Action):
    """FAQ topics (age limits, contracts, POEC, AKTO…): text and source from content/faq.yml."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            found = Catalogue(session).faq(latest_intent(tracker) or "")
        if found is None:
            dispatcher.utter_message(response="utter_default")
            return []
        answer, sourced = found
        dispatcher.utter_message(text=f"{answer}\n\n{source_lines(sourced)}")
        return []


def aid_text(catalogue: Catalogue, aid_id: str) -> str:
    """One aid: name, amounts in force today, how to apply, source."""
    current = catalogue.amounts_on(aid_id)
    if current is None:
        raise LookupError(f"aid {aid_id!r} is not in the catalogue")
    aid = current.aid
    lines = [t("aid.title", name=aid.name), aid.summary]
    for item in current.items:
        unit = item.get("unit", "once")
        lines.append(t(f"aid.item.{unit}", amount=money(item["amount"]), condition=item.get("condition", "")).rstrip())
    lines.append(t("aid.how", how_to_apply=aid.how_to_apply))
    lines.append("")
    lines.append(source_lines(Sourced(aid.source, aid.verified_on, aid.review_on)))
    return "\n".join(lines)


class ActionAnswerAid(Action):
    """Questions about one kind of aid ("aide permis ?"): every aid of that topic, directly."""

    def name(self) -> str:
        return "action_answer_aid"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            catalogue = Catalogue(session)
            found = catalogue.aids_for_topic(latest_intent(tracker) or "")
            if not found:
                dispatcher.utter_message(response="utter_ask_aids")
                return []
            for aid in found:
                dispatcher.utter_message(text=aid_text(catalogue, aid.id))
        return []
