"""Occupations: the list that recruits in the user's territory, and an occupation card."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.sourcing import source_lines
from actions.texts import intent_payload
from akto_data.catalogue.queries import Catalogue, Sourced
from akto_data.db import session_scope
from akto_data.i18n import text as t

#: Buttons shown at most in the list (Telegram keyboards stay readable on a phone).
MAX_LISTED = 8


def occupation_card(catalogue: Catalogue, rome: str, territory_id: str | None
                    ) -> tuple[str, list[dict[str, str]]] | None:
    """Text and buttons of the card of ``rome``, localised to ``territory_id`` if known."""
    job = catalogue.occupation(rome)
    if job is None:
        return None
    lines = [t("occupation.title", name=job.name), t("occupation.what", text=job.what_you_do),
             t("occupation.where", text=job.where), t("occupation.qualities", items=", ".join(job.qualities)),
             t("occupation.diplomas", items=", ".join(
                 t("occupation.diploma_level", name=d["name"], level=d["level"]) for d in job.diplomas))]
    place = catalogue.territory(territory_id) if territory_id else None
    if place is not None:
        claim = catalogue.recruitment(rome, place.id)
        if claim is not None and claim.recruits:
            lines.append(t("occupation.recruits_here", territory_in=place.in_the, source=claim.source, year=claim.year))
        else:
            lines.append(t("occupation.no_recruit_claim", territory_in=place.in_the))
        cfas = catalogue.cfas_teaching(rome, place.id)
        if cfas:
            items = "; ".join(t("occupation.cfa_item", cfa=c.name, town=c.town, diploma=tr.diploma) for c, tr in cfas)
            lines.append(t("occupation.cfas_here", territory_in=place.in_the, items=items))
        else:
            lines.append(t("occupation.no_cfa_here", territory_in=place.in_the))
    buttons = [{"title": t("occupation.contact_button"), "payload": intent_payload("request_cfa_contact", occupation=rome)}]
    if place is not None:
        buttons.append({"title": t("occupation.other_jobs_button"), "payload": intent_payload("ask_recruiting_jobs")})
    return "\n\n".join(lines), buttons


class ActionRecruitingJobs(Action):
    """Occupations that recruit in the territory, as buttons leading to their card."""

    def name(self) -> str:
        return "action_recruiting_jobs"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with session_scope() as session:
            catalogue = Catalogue(session)
            place = catalogue.territory(tracker.get_slot("territory") or "")
            if place is None or place.destination_only:
                dispatcher.utter_message(response="utter_recruiting_hexagone")
                return []
            listed = catalogue.recruiting(place.id)
            verified_on, review_on = catalogue.recruitment_checked()
        if not listed:
            dispatcher.utter_message(text=t("recruiting.none", territory_in=place.in_the))
            return []
        shown = listed[:MAX_LISTED]
        sources = " ; ".join(dict.fromkeys(f"{claim.source} ({claim.year})" for _, claim in shown))
        buttons = [{"title": job.name, "payload": intent_payload("ask_occupation", occupation=job.rome)} for job, _ in shown]
        dispatcher.utter_message(
            text=t("recruiting.list", territory_in=place.in_the) + "\n\n"
            + source_lines(Sourced(sources, verified_on, review_on)),
            buttons=buttons,
        )
        return []


class ActionOccupationCard(Action):
    def name(self) -> str:
        return "action_occupation_card"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        rome = next(tracker.get_latest_entity_values("occupation"), None)
        with session_scope() as session:
            card = occupation_card(Catalogue(session), rome, tracker.get_slot("territory")) if rome else None
        if card is None:
            dispatcher.utter_message(response="utter_ask_occupation")
            return []
        text, buttons = card
        dispatcher.utter_message(text=text, buttons=buttons)
        return [SlotSet("occupation", rome)]
