"""Being contacted by a CFA: the questions of lead_form, checked one by one.

Each ``validate_<slot>`` reads what the young person typed or tapped, keeps a clean
value or re-asks with an example (rules in :mod:`akto_data.leads.contact`). Questions
whose choices come from the catalogue (CFAs, territories) or from the conversation
(first name, contact, reasons, summary) are asked by ``action_ask_<slot>`` actions.
Submission, cancellation and the start of the form are in :mod:`actions.lead_submit`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.texts import intent_payload, latest_metadata, value_before_latest_message
from actions.unit_of_work import UnitOfWorkMixin, current, unit_of_work
from akto_data.catalogue.queries import Catalogue
from akto_data.cfa.settings import is_paused
from akto_data.i18n import text as t
from akto_data.leads.contact import (
    EMAIL_MAX_LENGTH,
    check_email,
    check_phone,
    example_phone,
    match_town,
    parse_age_or_birth_date,
    town_anywhere,
    town_names,
)
from akto_data.leads.form import REASONS, as_int, lead_summary
from akto_data.leads.matching import CfaMatch, matching_cfas, territories_with_match

#: Words that point to a reason when it is typed instead of tapped.
REASON_WORDS = {"place": "places", "salaire": "pay", "paye": "pay", "pay": "pay", "argent": "pay",
                "employeur": "employer", "entreprise": "employer", "patron": "employer", "contenu": "content",
                "programme": "content", "cours": "content", "horaire": "schedule", "planning": "schedule",
                "emploi du temps": "schedule", "rythme": "schedule"}
DIPLOMA_WORDS = ((r"\b(master|ing[ée]nieur|bac\s*\+\s*[45])\b", 7), (r"\b(licence|but|bac\s*\+\s*3)\b", 6),
                 (r"\b(bts|dut|bac\s*\+\s*2)\b", 5), (r"\b(bac|bp)\b", 4), (r"\b(cap|bep)\b", 3),
                 (r"\b(brevet|dnb|rien|aucun|pas de dipl)", 2))
FIRST_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+){0,3}$")
CHANGE_RESETS = {  # what else must be asked again when one answer changes
    "territory": ("territory", "lead_town", "lead_cfa", "lead_cfa_territory"),
    "occupation": ("occupation", "lead_cfa", "lead_cfa_territory"),
    "diploma_level": ("diploma_level", "lead_cfa", "lead_cfa_territory"),
    "lead_cfa": ("lead_cfa", "lead_cfa_territory"),
    "lead_contact_channel": ("lead_contact_channel", "lead_contact_value"),
    "lead_reasons": ("lead_reasons", "lead_message"),
}


def search_territory(tracker: Tracker) -> str | None:
    """Where to look for CFAs: the territory chosen after asking, else home."""
    return tracker.get_slot("lead_cfa_territory") or tracker.get_slot("territory")


def matches_for(catalogue: Catalogue, tracker: Tracker, territory_id: str | None = None) -> list[CfaMatch]:
    rome, place = tracker.get_slot("occupation"), territory_id or search_territory(tracker)
    if not rome or not place:
        return []
    return matching_cfas(catalogue, rome, place, as_int(tracker.get_slot("diploma_level")))


def telegram_username(tracker: Tracker) -> str | None:
    name = latest_metadata(tracker).get("username")
    return f"@{name}" if name else None


class ValidateLeadForm(UnitOfWorkMixin, FormValidationAction):
    """Checks each answer. Slots shared with other topics (age, territory, occupation,
    diploma) are also filled by entities found in any message: a phone number read as
    an age while the form asks for the phone must not undo an answer given earlier."""

    def name(self) -> str:
        return "validate_lead_form"

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: dict[str, Any]) -> list[dict[str, Any]]:
        """Check only what the young person answered.

        rasa-sdk validates every slot set since the last message, and ``action_lead_intro``
        clears the previous request's answers (``SlotSet(..., None)``) just before the form
        starts: each cleared slot was "validated" as a wrong answer ("Choisis une des
        réponses avec les boutons" three times before the first question) and the optional
        message was recorded as "none", so it was never asked. A cleared slot is no answer.
        """
        set_since_message = tracker.slots_to_validate()
        tracker.slots_to_validate = lambda: {
            name: value for name, value in set_since_message.items() if value is not None}
        events = await super().get_validation_events(dispatcher, tracker, domain)
        return events + self._chosen_cfa_paused(dispatcher, tracker, events)

    @staticmethod
    def _chosen_cfa_paused(dispatcher: CollectingDispatcher, tracker: Tracker,
                           events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The CFA picked earlier was paused by AKTO since: choose again, and consent again.

        Checked on every turn of the form, so the recap never names a paused CFA and a
        "yes" already given for it does not carry over to the next CFA chosen.
        """
        if any(e.get("name") == "lead_cfa" for e in events):
            return []  # chosen in this very message: validate_lead_cfa offered only open CFAs
        chosen = tracker.get_slot("lead_cfa")
        if not chosen or not is_paused(current().session, str(chosen)):
            return []
        dispatcher.utter_message(text=t("cfa.staff.chosen_cfa_paused"))
        return [SlotSet("lead_cfa", None), SlotSet("lead_consent", None)]

    @staticmethod
    def _not_asked(slot: str, tracker: Tracker) -> dict[str, Any] | None:
        """While the form asks something else, keep the earlier answer (changes go through the recap)."""
        if tracker.get_slot("requested_slot") not in (None, slot):
            return {slot: value_before_latest_message(tracker, slot)}
        return None

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        slots = list(domain_slots)
        rome, home = tracker.get_slot("occupation"), tracker.get_slot("territory")
        level = as_int(tracker.get_slot("diploma_level"))
        # No CFA at home: ask where else (islands are not a short drive) before listing CFAs.
        if rome and home and tracker.get_slot("diploma_level") and not matching_cfas(current(), rome, home, level):
            slots.insert(slots.index("lead_cfa"), "lead_cfa_territory")
        if tracker.get_slot("lead_editing"):
            slots.insert(slots.index("lead_consent"), "lead_change")
        return slots

    def validate_lead_first_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: dict[str, Any]) -> dict[str, Any]:
        name = " ".join(str(value or "").split()).strip(" .!,")
        name = re.sub(r"^(je m'appelle|moi c'est|c'est|mwen sé|mwen se)\s+", "", name, flags=re.IGNORECASE)
        if not FIRST_NAME.match(name) or len(name) > 40:
            dispatcher.utter_message(response="utter_lead_first_name_invalid")
            return {"lead_first_name": None}
        return {"lead_first_name": name[:1].upper() + name[1:]}

    def validate_age(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                     domain: dict[str, Any]) -> dict[str, Any]:
        if (kept := self._not_asked("age", tracker)) is not None:
            return kept
        age = parse_age_or_birth_date(value)
        if age is None or not 15 <= age <= 35:
            dispatcher.utter_message(response="utter_lead_age_invalid")
            return {"age": None}
        if not 16 <= age <= 29:
            dispatcher.utter_message(response="utter_lead_age_outside", age=age)
        if age < 18:
            dispatcher.utter_message(response="utter_lead_minor_notice")
        return {"age": str(age)}

    def validate_territory(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict[str, Any]) -> dict[str, Any]:
        if (kept := self._not_asked("territory", tracker)) is not None:
            return kept
        place = current().territory(str(value or ""))
        if place is None:
            # A commune typed as the answer ("Schœlcher") says the territory: never ask what it tells.
            deduced = town_anywhere(str(value or ""), [(p.id, p.towns) for p in current().territories()
                                                        if not p.destination_only])
            if deduced is not None:
                home = current().territory(deduced[0])
                dispatcher.utter_message(text=t("lead.town_gives_territory", town=deduced[1],
                                                territory_in=home.in_the if home else deduced[0]))
                return {"territory": deduced[0], "lead_town": deduced[1]}
        if place is None or place.destination_only:
            dispatcher.utter_message(response="utter_territory_invalid")
            return {"territory": None}
        return {"territory": place.id}

    def validate_lead_town(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: dict[str, Any]) -> dict[str, Any]:
        place = current().territory(tracker.get_slot("territory") or "")
        towns = place.towns if place else []
        town = match_town(str(value or ""), towns)
        if town is None:
            names = town_names(towns)
            # Examples close to what was typed help most; else the first of the list.
            examples = difflib.get_close_matches(str(value or ""), names, n=3, cutoff=0.5) or names[:3]
            dispatcher.utter_message(response="utter_lead_town_invalid", town=str(value or "")[:40],
                                     territory_in=place.in_the if place else "", example=", ".join(examples))
            return {"lead_town": None}
        return {"lead_town": town}

    def validate_occupation(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: dict[str, Any]) -> dict[str, Any]:
        if (kept := self._not_asked("occupation", tracker)) is not None:
            return kept
        for candidate in [*tracker.get_latest_entity_values("occupation"), value]:
            if candidate and current().occupation(str(candidate)) is not None:
                return {"occupation": str(candidate)}
        job = current().occupation_named(str(value or ""))
        if job is not None:
            return {"occupation": job.rome}
        place = tracker.get_slot("territory")
        taught = current().occupations_taught(place) if place else current().all_occupations()
        dispatcher.utter_message(text=t("lead.occupation_unknown"), buttons=[
            {"title": job.name, "payload": intent_payload("inform", occupation=job.rome)} for job in taught[:8]])
        return {"occupation": None}

    def validate_diploma_level(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        if (kept := self._not_asked("diploma_level", tracker)) is not None:
            return kept
        for candidate in [*tracker.get_latest_entity_values("diploma_level"), value]:
            level = as_int(candidate)
            if level is not None and 2 <= level <= 7:
                return {"diploma_level": str(level)}
        text = str(value or "").lower()
        for pattern, level in DIPLOMA_WORDS:
            if re.search(pattern, text):
                return {"diploma_level": str(level)}
        dispatcher.utter_message(response="utter_lead_choose_with_buttons")
        return {"diploma_level": None}

    def _choice(self, slot: str, allowed: tuple[str, ...], value: Any,
                dispatcher: CollectingDispatcher) -> dict[str, Any]:
        if value in allowed:
            return {slot: value}
        dispatcher.utter_message(response="utter_lead_choose_with_buttons")
        return {slot: None}

    def validate_lead_start(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: dict[str, Any]) -> dict[str, Any]:
        return self._choice("lead_start", ("now", "rentree", "this_year", "unknown"), value, dispatcher)

    def validate_lead_employer(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        return self._choice("lead_employer", ("yes", "no"), value, dispatcher)

    def validate_lead_mobility(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        return self._choice("lead_mobility", ("none", "islands", "hexagone"), value, dispatcher)

    def validate_lead_cfa_territory(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: dict[str, Any]) -> dict[str, Any]:
        if value and matches_for(current(), tracker, str(value)):
            return {"lead_cfa_territory": str(value)}
        dispatcher.utter_message(response="utter_lead_choose_with_buttons")
        return {"lead_cfa_territory": None}

    def validate_lead_cfa(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict[str, Any]) -> dict[str, Any]:
        if value in {m.cfa_id for m in matches_for(current(), tracker)}:
            return {"lead_cfa": value}
        dispatcher.utter_message(response="utter_lead_choose_with_buttons")
        return {"lead_cfa": None}

    def validate_lead_contact_channel(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: dict[str, Any]) -> dict[str, Any]:
        if value == "telegram":
            username = telegram_username(tracker)
            if username is None:
                dispatcher.utter_message(response="utter_lead_telegram_no_username")
                return {"lead_contact_channel": None}
            return {"lead_contact_channel": "telegram", "lead_contact_value": username}
        if value in ("phone", "email"):
            keep = tracker.get_slot("lead_contact_value") if tracker.get_slot("lead_contact_channel") == value else None
            return {"lead_contact_channel": value, "lead_contact_value": keep}
        dispatcher.utter_message(response="utter_lead_choose_with_buttons")
        return {"lead_contact_channel": None}

    def validate_lead_contact_value(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: dict[str, Any]) -> dict[str, Any]:
        channel, raw = tracker.get_slot("lead_contact_channel"), str(value or "")
        if channel == "phone":
            territory = tracker.get_slot("territory")
            phone = check_phone(raw, territory)  # stored as E.164
            if phone.not_personal:
                dispatcher.utter_message(text=t("lead.phone_not_personal", example=example_phone(territory)))
            elif phone.value is None:
                dispatcher.utter_message(response="utter_lead_phone_invalid", example=example_phone(territory))
            return {"lead_contact_value": phone.value}
        if channel == "email":
            checked = check_email(raw)
            if checked.too_long:
                dispatcher.utter_message(text=t("lead.email_too_long", length=len(raw.strip()), max=EMAIL_MAX_LENGTH))
            elif checked.suggestion:
                dispatcher.utter_message(text=t("lead.email_typo", suggestion=checked.suggestion), buttons=[
                    {"title": checked.suggestion, "payload": intent_payload("inform", lead_contact_value=checked.suggestion)}])
            elif checked.value is None:
                dispatcher.utter_message(response="utter_lead_email_invalid")
            return {"lead_contact_value": checked.value}
        return {"lead_contact_value": raw or None}

    def validate_lead_reasons(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: dict[str, Any]) -> dict[str, Any]:
        picked = list(tracker.get_slot("lead_reasons_picked") or [])
        text = str(value or "").strip().lower()
        if text == "done" and picked:
            return {"lead_reasons": "done"}
        reason = text if text in REASONS else next((r for w, r in REASON_WORDS.items() if w in text), None)
        if reason is None:
            dispatcher.utter_message(response="utter_lead_choose_with_buttons")
        elif reason not in picked:
            picked.append(reason)
        return {"lead_reasons": None, "lead_reasons_picked": picked}

    def validate_lead_message(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: dict[str, Any]) -> dict[str, Any]:
        text = str(value or "").strip()
        return {"lead_message": "none" if text in ("", "none") else text[:500]}

    def validate_lead_change(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> dict[str, Any]:
        if value not in {"lead_first_name", "age", "lead_start", "lead_employer", "lead_mobility", *CHANGE_RESETS}:
            dispatcher.utter_message(response="utter_lead_choose_with_buttons")
            return {"lead_change": None}
        events: dict[str, Any] = {name: None for name in CHANGE_RESETS.get(value, (value,))}
        if value == "lead_reasons":
            events["lead_reasons_picked"] = []
        return {**events, "lead_change": None, "lead_editing": False}

    def validate_lead_consent(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: dict[str, Any]) -> dict[str, Any]:
        if value == "edit":
            return {"lead_consent": None, "lead_editing": True}
        if value in ("yes", "no"):
            return {"lead_consent": value}
        dispatcher.utter_message(response="utter_lead_choose_with_buttons")
        return {"lead_consent": None}


class ActionAskLeadFirstName(Action):
    """Asks the first name, offering the one of the Telegram profile as a button."""

    def name(self) -> str:
        return "action_ask_lead_first_name"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        profile = latest_metadata(tracker).get("first_name")
        buttons = []
        if profile and FIRST_NAME.match(str(profile).strip()):
            buttons = [{"title": str(profile).strip(), "payload": intent_payload("inform", lead_first_name=str(profile).strip())}]
        dispatcher.utter_message(text=t("lead.ask_first_name"), buttons=buttons)
        return []


class ActionAskLeadCfaTerritory(Action):
    """No CFA at home: say so, and ask before proposing another territory or an advisor."""

    def name(self) -> str:
        return "action_ask_lead_cfa_territory"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with unit_of_work() as catalogue:
            job = catalogue.occupation(tracker.get_slot("occupation") or "")
            home = catalogue.territory(tracker.get_slot("territory") or "")
            elsewhere = territories_with_match(catalogue, job.rome, as_int(tracker.get_slot("diploma_level")),
                                               home.id) if job and home else []
            buttons = [{"title": t("lead.train_in", territory_in=place.in_the),
                        "payload": intent_payload("inform", lead_cfa_territory=tid)}
                       for tid in elsewhere if (place := catalogue.territory(tid)) is not None]
        buttons.append({"title": t("lead.advisor_button"), "payload": intent_payload("request_human")})
        buttons.append({"title": t("lead.cancel_button"), "payload": intent_payload("stop")})
        key = "lead.no_cfa_home_ask" if elsewhere else "lead.no_cfa_anywhere"
        dispatcher.utter_message(text=t(key, occupation=job.name if job else "?",
                                        territory_in=home.in_the if home else ""), buttons=buttons)
        return []


class ActionAskLeadCfa(Action):
    """The matching CFAs, as buttons."""

    def name(self) -> str:
        return "action_ask_lead_cfa"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with unit_of_work() as catalogue:
            matches = matches_for(catalogue, tracker)
        buttons = [{"title": t("lead.cfa_button", cfa=m.name, town=m.town, diploma=m.diploma),
                    "payload": intent_payload("inform", lead_cfa=m.cfa_id)} for m in matches]
        buttons.append({"title": t("lead.cancel_button"), "payload": intent_payload("stop")})
        dispatcher.utter_message(text=t("lead.ask_cfa"), buttons=buttons)
        return []


class ActionAskLeadContactValue(Action):
    def name(self) -> str:
        return "action_ask_lead_contact_value"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.get_slot("lead_contact_channel") == "email":
            dispatcher.utter_message(text=t("lead.ask_email"))
        else:
            dispatcher.utter_message(text=t("lead.ask_phone", example=example_phone(tracker.get_slot("territory"))))
        return []


class ActionAskLeadReasons(Action):
    """Reasons are several: each tap adds one; "C'est tout" ends the question."""

    def name(self) -> str:
        return "action_ask_lead_reasons"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        picked = list(tracker.get_slot("lead_reasons_picked") or [])
        buttons = [{"title": t(f"lead.value.reason.{r}"), "payload": intent_payload("inform", lead_reason=r)}
                   for r in REASONS if r not in picked]
        if picked:
            buttons.append({"title": t("lead.reasons_done"), "payload": intent_payload("inform", lead_reason="done")})
            chosen = ", ".join(t(f"lead.value.reason.{r}") for r in picked)
            dispatcher.utter_message(text=t("lead.ask_reasons_more", chosen=chosen), buttons=buttons)
        else:
            dispatcher.utter_message(text=t("lead.ask_reasons"), buttons=buttons)
        return []


class ActionAskLeadConsent(Action):
    """The summary, then the consent question naming the CFA that will receive it."""

    def name(self) -> str:
        return "action_ask_lead_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with unit_of_work() as catalogue:
            summary, cfa_name = lead_summary(catalogue, tracker.slots)
        dispatcher.utter_message(text=summary)
        dispatcher.utter_message(text=t("lead.consent.text", cfa=cfa_name), buttons=[
            {"title": t("lead.consent.yes"), "payload": intent_payload("inform", lead_consent="yes")},
            {"title": t("lead.consent.edit"), "payload": intent_payload("inform", lead_consent="edit")},
            {"title": t("lead.cancel_button"), "payload": intent_payload("stop")},
        ])
        return []

