"""Issue 12: a CFA's settings in the portal (addresses, contact option, webhook secret rotation
with its overlap), its training proposals approved or rejected by AKTO staff, and a paused
CFA that no young person is offered any more."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from akto_data.catalogue.publishing import latest
from akto_data.catalogue.queries import Catalogue
from akto_data.catalogue.tables import CatCfaDelivery, CatCfaTraining
from akto_data.cfa import performance, proposals
from akto_data.cfa.models import CfaTrainingProposal
from akto_data.cfa.proposals import ProposalGone, ProposalRefused, Training
from akto_data.cfa.settings import (
    SECRET_OVERLAP,
    SettingsRefused,
    check_webhook_target,
    clean_emails,
    clean_webhook_url,
    delivery_for,
    rotate_secret,
    save_settings,
)
from akto_data.db import session_scope
from akto_data.leads.matching import chosen_match, matching_cfas
from akto_data.leads.models import OutboxMessage
from akto_data.leads.store import CfaPaused, create_lead
from akto_data.staff.models import AuditEvent
from tests.unit.test_lead_delivery import lead_data

DBS = ["catalogue", "catalogue_postgres"]
ACTOR = "cfa:mq_cma leads@mq-cma.example"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


#: What the CFAs' names resolve to in these tests (this machine has no DNS): a public address,
#: or, for the names a malicious CFA would use, one of our internal networks.
HOSTS = {"crm.cfa.fr": ["93.184.215.14"], "crm.mq-cma.example": ["93.184.215.14"],
         "intranet.cfa.example": ["10.20.30.40"], "rebind.cfa.example": ["93.184.215.14", "127.0.0.1"],
         "metadata.cfa.example": ["169.254.169.254"], "v6.cfa.example": ["2001:4860:4860::8888"]}


def dns(host: str, port: int, **options: object) -> list[tuple]:
    """Those names, else the system's resolver (``localhost``, ``2130706433``; ``.example`` never resolves)."""
    if host not in HOSTS:
        return socket.getaddrinfo(host, port, **options)  # type: ignore[arg-type]
    return [(2, 1, 6, "", (address, port)) for address in HOSTS[host]]


def audit_text() -> str:
    with session_scope() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return json.dumps([[r.actor, r.action, r.before, r.after, r.detail] for r in rows], ensure_ascii=False)


# -- validation -------------------------------------------------------------------------------------------------------
def test_addresses_are_checked_deduplicated_and_never_empty():
    assert clean_emails(["Leads@MQ-cma.example ", "", "leads@mq-cma.example", "direction@cfa-martinique.fr"]) == [
        "Leads@mq-cma.example", "direction@cfa-martinique.fr"]
    with pytest.raises(SettingsRefused) as refused:
        clean_emails(["ok@cfa.fr", "pas-une-adresse", "a@b@c.fr"])
    assert set(refused.value.errors) == {"email.1", "email.2"}
    assert "pas-une-adresse" in refused.value.errors["email.1"]
    with pytest.raises(SettingsRefused) as empty:
        clean_emails(["", "  "])
    assert "au moins une adresse" in empty.value.errors["email"]
    with pytest.raises(SettingsRefused) as many:
        clean_emails([f"a{i}@cfa.fr" for i in range(6)])
    assert "5 adresses au plus" in many.value.errors["email"]


def test_webhook_address_is_checked_like_the_catalogue_import():
    assert clean_webhook_url("  ") is None
    assert clean_webhook_url("https://crm.cfa.fr/hooks/akto", dns) == "https://crm.cfa.fr/hooks/akto"
    for bad, reason in (("http://crm.cfa.fr/hook", "https:// obligatoire"),
                        ("https://localhost@evil.example/", "identifiant ou mot de passe"),
                        ("https://crm.cfa.fr/" + "x" * 2100, "trop longue")):
        with pytest.raises(SettingsRefused) as refused:
            clean_webhook_url(bad, dns)
        assert reason in refused.value.errors["webhook_url"]


INTERNAL = ["http://127.0.0.1:5055/webhook", "https://127.0.0.1:5055/webhook", "https://localhost/hook",
            "https://LOCALHOST./hook", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook", "https://0.0.0.0/hook",
            "https://10.0.0.5/hook", "https://172.16.3.4/hook", "https://192.168.1.10/hook", "https://100.64.0.1/hook",
            "https://169.254.169.254/latest/meta-data", "https://[fe80::1]/hook", "https://[fd00::1]/hook",
            "https://224.0.0.1/hook", "https://240.0.0.1/hook", "https://intranet.cfa.example/hook",
            "https://rebind.cfa.example/hook", "https://metadata.cfa.example/hook", "https://2130706433/hook"]


@pytest.mark.parametrize("url", INTERNAL)
def test_a_cfa_cannot_point_its_webhook_at_our_own_services(url):
    """Our worker would POST every lead there, from inside our network (bot, Rasa, metadata…)."""
    with pytest.raises(SettingsRefused) as refused:
        clean_webhook_url(url, dns)
    error = refused.value.errors["webhook_url"]
    assert "adresse interne ou réservée" in error or (url.startswith("http:") and "https:// obligatoire" in error)


def test_webhook_names_that_do_not_resolve_are_refused_and_public_ones_kept():
    with pytest.raises(SettingsRefused) as refused:
        clean_webhook_url("https://typo.cfa.example/hook", dns)
    assert "nom d'hôte introuvable" in refused.value.errors["webhook_url"]
    for url in ("https://93.184.215.14/hook", "https://v6.cfa.example/hook", "https://crm.cfa.fr:8443/h"):
        assert clean_webhook_url(url, dns) == url


def test_the_operator_switch_lets_tests_use_a_local_receiver(monkeypatch):
    with pytest.raises(SettingsRefused):
        clean_webhook_url("http://127.0.0.1:5055/webhook", dns)
    monkeypatch.setenv("CFA_WEBHOOK_ALLOW_PRIVATE", "1")
    assert clean_webhook_url("http://127.0.0.1:5055/webhook", dns) == "http://127.0.0.1:5055/webhook"
    check_webhook_target("http://127.0.0.1:5055/webhook")  # the worker's check too
    with pytest.raises(SettingsRefused):  # what the catalogue refuses stays refused
        clean_webhook_url("https://user:pw@crm.cfa.fr/", dns)


# -- saving, first save, rotation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("db", DBS)
def test_first_save_keeps_the_delivery_file_values_and_a_refused_save_changes_nothing(db, request):
    request.getfixturevalue(db)
    with session_scope() as session:
        row = session.get(CatCfaDelivery, "mq_cma")
        row.webhook_url, row.webhook_secret = "https://crm.mq-cma.example/hook?key=abc", "file-secret-123"
    with session_scope() as session, pytest.raises(SettingsRefused):
        save_settings(session, "mq_cma", ACTOR, emails=["nope"], contact_in_email=False, webhook_url="")
    with session_scope() as session:
        before = delivery_for(session, "mq_cma", NOW)
        assert before is not None and before.emails == ("leads@mq-cma.example",) and before.contact_in_email
        # The CFA adds an address and hides contact details; the webhook box shows the file's URL, left as is.
        saved = save_settings(session, "mq_cma", ACTOR, emails=["leads@mq-cma.example", "secretariat@mq-cma.example"],
                              contact_in_email=False, webhook_url=before.webhook_url or "", now=NOW, resolve=dns)
        assert saved.changed and saved.new_secret is None
    with session_scope() as session:
        after = delivery_for(session, "mq_cma", NOW)
        assert after is not None
        assert after.emails == ("leads@mq-cma.example", "secretariat@mq-cma.example")
        assert after.contact_in_email is False
        assert after.webhook_url == "https://crm.mq-cma.example/hook?key=abc"
        assert after.webhook_secrets == ("file-secret-123",)  # the file's secret was copied, not lost
        # A catalogue re-import rewrites cat_cfa_delivery: the portal's settings still win.
        session.get(CatCfaDelivery, "mq_cma").email = "old@mq-cma.example"
    with session_scope() as session:
        assert delivery_for(session, "mq_cma", NOW).emails[0] == "leads@mq-cma.example"
        again = save_settings(session, "mq_cma", ACTOR, emails=list(after.emails), contact_in_email=False,
                              webhook_url=after.webhook_url or "", now=NOW)
        assert not again.changed  # told "nothing changed", and no audit line
        token_only = save_settings(session, "mq_cma", ACTOR, emails=list(after.emails), contact_in_email=False,
                                   webhook_url="https://crm.mq-cma.example/hook?key=new", now=NOW, resolve=dns)
        assert token_only.changed  # a change hidden by the audit's mask is still a change
    log = audit_text()
    assert log.count('"cfa.settings"') == 2
    assert "cfa.settings" in log and ACTOR in log and "secretariat@mq-cma.example" in log
    assert "file-secret-123" not in log and "key=" not in log  # secrets (and URL tokens) masked


@pytest.mark.parametrize("db", DBS)
def test_rotation_keeps_the_previous_secret_until_the_overlap_ends(db, request):
    request.getfixturevalue(db)
    with session_scope() as session:
        save_settings(session, "mq_cma", ACTOR, emails=["leads@mq-cma.example"], contact_in_email=True,
                      webhook_url="https://crm.mq-cma.example/hook", now=NOW, resolve=dns)
    with session_scope() as session:
        first = delivery_for(session, "mq_cma", NOW).webhook_secrets
        assert len(first) == 1 and len(first[0]) >= 40  # made with the URL: calls are always signed
    with session_scope() as session:
        new = rotate_secret(session, "mq_cma", ACTOR, now=NOW)
    assert new != first[0] and len(new) >= 40
    with session_scope() as session:
        assert delivery_for(session, "mq_cma", NOW).webhook_secrets == (new, first[0])  # current first
        end = NOW + SECRET_OVERLAP
        assert delivery_for(session, "mq_cma", end - timedelta(seconds=1)).webhook_secrets == (new, first[0])
        assert delivery_for(session, "mq_cma", end).webhook_secrets == (new,)
        assert delivery_for(session, "mq_cma", end + timedelta(days=30)).webhook_secrets == (new,)
    with session_scope() as session:  # a second rotation during the overlap: two secrets at most
        newer = rotate_secret(session, "mq_cma", ACTOR, now=NOW + timedelta(days=1))
        assert delivery_for(session, "mq_cma", NOW + timedelta(days=1)).webhook_secrets == (newer, new)
    log = audit_text()
    assert "cfa.secret_rotate" in log
    for secret in (first[0], new, newer):
        assert secret not in log


# -- pause: never offered, never created ---------------------------------------------------------------------------------
@pytest.mark.parametrize("db", DBS)
def test_a_paused_cfa_is_never_matched_nor_sent_a_lead_and_comes_back_when_resumed(db, request):
    request.getfixturevalue(db)
    with session_scope() as session:
        cat = Catalogue(session)
        assert [m.cfa_id for m in matching_cfas(cat, "F1602", "martinique", 3)] == ["mq_academique", "mq_cma"]
        assert performance.pause(session, "mq_cma", "Ne répond plus depuis septembre", "sarah@akto.example", NOW)
        assert not performance.pause(session, "mq_cma", "encore", "sarah@akto.example", NOW)  # already paused
    with session_scope() as session:
        cat = Catalogue(session)
        assert [m.cfa_id for m in matching_cfas(cat, "F1602", "martinique", 3)] == ["mq_academique"]  # the others
        assert matching_cfas(cat, "D1102", "martinique", 3) == []  # its only baker training: none offered
        assert chosen_match(cat, "mq_cma", "F1602", 3) is None
        # Delivery settings still come from the file (a pause copies nothing).
        assert delivery_for(session, "mq_cma", NOW).emails == ("leads@mq-cma.example",)
        assert delivery_for(session, "mq_cma", NOW).paused
    with pytest.raises(CfaPaused):
        create_lead(lead_data(cfa_id="mq_cma", rome="F1602"), "v1")
    with session_scope() as session:
        assert performance.resume(session, "mq_cma", "sarah@akto.example")
    with session_scope() as session:
        assert [m.cfa_id for m in matching_cfas(Catalogue(session), "F1602", "martinique", 3)] == [
            "mq_academique", "mq_cma"]
    assert create_lead(lead_data(cfa_id="mq_cma", rome="F1602"), "v1").cfa_id == "mq_cma"
    log = audit_text()
    assert "cfa.pause" in log and "Ne répond plus depuis septembre" in log and "cfa.resume" in log


def test_pause_needs_a_reason_and_a_known_cfa(catalogue):
    with session_scope() as session:
        with pytest.raises(performance.PauseRefused, match="raison"):
            performance.pause(session, "mq_cma", "   ", "sarah@akto.example")
        with pytest.raises(performance.PauseRefused, match="inconnu"):
            performance.pause(session, "nope", "raison", "sarah@akto.example")


def test_a_young_person_who_picked_a_cfa_before_its_pause_is_asked_to_choose_another(catalogue):
    from actions.leads import ValidateLeadForm
    from actions.unit_of_work import unit_of_work
    from tests.unit.test_lead_form import tracker

    slots = {"occupation": "F1602", "territory": "martinique", "diploma_level": "3", "lead_cfa": "mq_cma",
             "lead_consent": "yes"}

    def validate():
        dispatcher = CollectingDispatcher()
        with unit_of_work():
            events = asyncio.run(ValidateLeadForm().get_validation_events(dispatcher, tracker(slots), {}))
        return dispatcher.messages, events

    assert validate() == ([], [])  # open CFA: nothing happens
    with session_scope() as session:
        performance.pause(session, "mq_cma", "ne répond pas", "sarah@akto.example")
    messages, events = validate()
    assert "Choisis-en un autre" in messages[0]["text"]
    cleared = {e["name"]: e["value"] for e in events}
    assert cleared == {"lead_cfa": None, "lead_consent": None}  # chosen again, then consent again


# -- training proposals ------------------------------------------------------------------------------------------------
def test_proposed_rows_are_checked_against_the_catalogue(catalogue):
    with session_scope() as session:
        rows = [{"rome": "ZZ999", "diploma": "CAP X", "level": "3"}, {"rome": "D1102", "diploma": "", "level": "3"},
                {"rome": "D1102", "diploma": "CAP Boulanger", "level": "8"},
                {"rome": "D1102", "diploma": "x" * 151, "level": "3"}, {"rome": "", "diploma": "", "level": ""}]
        with pytest.raises(ProposalRefused) as refused:
            proposals.read_trainings(session, rows)
        errors = refused.value.errors
        assert set(errors) == {"row.0", "row.1", "row.2", "row.3"}
        assert "ZZ999" in errors["row.0"] and "diplôme" in errors["row.1"] and "entre 3" in errors["row.2"]
        with pytest.raises(ProposalRefused) as empty:
            proposals.read_trainings(session, [{"rome": "D1102", "diploma": "CAP Boulanger", "level": "3",
                                                "remove": "1"}])
        assert "au moins une formation" in empty.value.errors[""]
        same = proposals.read_trainings(session, [
            {"rome": tr.rome, "diploma": tr.diploma, "level": str(tr.level)}
            for tr in proposals.current_trainings(session, "mq_cma")])
        with pytest.raises(ProposalRefused) as unchanged:
            proposals.propose(session, "mq_cma", ACTOR, same, "")
        assert "déjà celle du catalogue" in unchanged.value.errors[""]


def _proposal_rows(session) -> list[dict[str, str]]:
    """mq_cma's list without the hairdressing CAP, with a new training (K2204 is taught by no CFA of Martinique)."""
    rows = [{"rome": tr.rome, "diploma": tr.diploma, "level": str(tr.level)}
            for tr in proposals.current_trainings(session, "mq_cma") if tr.rome != "D1202"]
    return rows + [{"rome": "k2204", "diploma": "  CAP  Propreté de l'environnement urbain ", "level": "3"}]


@pytest.mark.parametrize("db", DBS)
def test_approval_publishes_a_new_catalogue_version_that_matching_reads(db, request):
    request.getfixturevalue(db)
    with session_scope() as session:
        assert matching_cfas(Catalogue(session), "K2204", "martinique", 3) == []
        version_before = latest(session).number
        first = proposals.propose(session, "mq_cma", ACTOR, proposals.read_trainings(session, _proposal_rows(session)[:3]),
                                  "brouillon")
        second = proposals.propose(session, "mq_cma", ACTOR, proposals.read_trainings(session, _proposal_rows(session)),
                                   "Nouvelle section propreté à la rentrée 2027")
        first_id, second_id = first.id, second.id
    with session_scope() as session:
        assert session.get(CfaTrainingProposal, first_id).state == "replaced"  # one pending proposal per CFA
        [item] = proposals.pending(session)
        assert item.proposal.id == second_id and item.cfa_name.startswith("CFA de la Chambre de métiers")
        assert item.changes.added == (Training("K2204", "CAP Propreté de l'environnement urbain", 3),)
        assert [tr.rome for tr in item.changes.removed] == ["D1202"]
        with pytest.raises(ProposalGone):
            proposals.approve(session, first_id, "sarah@akto.example")
        approved = proposals.approve(session, second_id, "sarah@akto.example", "Vu avec le CFA")
        assert approved.state == "approved" and approved.content_version == version_before + 1
    with session_scope() as session:
        version = latest(session)
        assert version.number == version_before + 1 and version.author == "sarah@akto.example"
        assert any(c["file"] == "cfas.yml" and c["entry"] == "mq_cma" for c in version.changes)
        found = matching_cfas(Catalogue(session), "K2204", "martinique", 3)
        assert [(m.cfa_id, m.diploma) for m in found] == [("mq_cma", "CAP Propreté de l'environnement urbain")]
        assert "mq_cma" not in [m.cfa_id for m in matching_cfas(Catalogue(session), "D1202", "martinique", 3)]
        # The CFA sees the outcome on its settings page.
        view = proposals.portal_view(session, "mq_cma")
        assert view.pending is None and view.decision.state == "approved" and view.decision.content_version
        with pytest.raises(ProposalGone):
            proposals.reject(session, second_id, "sarah@akto.example", "trop tard")
    log = audit_text()
    assert "cfa.training_propose" in log and "cfa.training_approve" in log and "content.publish" in log


@pytest.mark.parametrize("db", DBS)
def test_rejection_keeps_the_catalogue_and_shows_the_note_to_the_cfa(db, request):
    request.getfixturevalue(db)
    with session_scope() as session:
        before = proposals.current_trainings(session, "mq_cma")
        version_before = latest(session).number
        proposal_id = proposals.propose(session, "mq_cma", ACTOR,
                                        proposals.read_trainings(session, _proposal_rows(session)), "").id
    with session_scope() as session:
        with pytest.raises(ProposalRefused) as no_note:
            proposals.reject(session, proposal_id, "sarah@akto.example", "  ")
        assert "pourquoi" in no_note.value.errors["note"]
        proposals.reject(session, proposal_id, "sarah@akto.example", "Formation absente du site de la région")
    with session_scope() as session:
        assert proposals.current_trainings(session, "mq_cma") == before
        assert latest(session).number == version_before
        assert session.scalars(select(CatCfaTraining).where(CatCfaTraining.cfa_id == "mq_cma",
                                                     CatCfaTraining.rome == "K2204")).all() == []
        view = proposals.portal_view(session, "mq_cma")
        assert view.decision.state == "rejected"
        assert view.decision.decision_note == "Formation absente du site de la région"


@pytest.mark.parametrize("db", DBS)
def test_a_webhook_set_only_in_the_portal_gets_the_next_lead(db, request):
    """The delivery file has no webhook for this CFA; the one saved in the portal is used at once."""
    request.getfixturevalue(db)
    with session_scope() as session:
        assert session.get(CatCfaDelivery, "mq_cma").webhook_url is None
        save_settings(session, "mq_cma", ACTOR, emails=["leads@mq-cma.example"], contact_in_email=True,
                      webhook_url="https://crm.mq-cma.example/hook", now=NOW, resolve=dns)
    lead = create_lead({**lead_data(), "cfa_id": "mq_cma"}, "v1")
    with session_scope() as session:
        channels = sorted(m.channel for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.lead_id == lead.id)))
    assert channels == ["email", "webhook"]


def test_an_internal_webhook_saved_before_the_check_is_refused_when_saved_again(catalogue):
    """Left as is in the box, it is not silently kept: the CFA reads why, and nothing changes."""
    with session_scope() as session:
        save_settings(session, "mq_cma", ACTOR, emails=["leads@mq-cma.example"], contact_in_email=True,
                      webhook_url="", now=NOW)
        session.flush()
        account = session.get(performance.CfaAccount, "mq_cma")
        account.webhook_url, account.webhook_secret = "https://127.0.0.1:5005/webhook", "s" * 40
    with session_scope() as session, pytest.raises(SettingsRefused) as refused:
        save_settings(session, "mq_cma", ACTOR, emails=["leads@mq-cma.example", "b@mq-cma.example"],
                      contact_in_email=True, webhook_url="https://127.0.0.1:5005/webhook", now=NOW, resolve=dns)
    assert "adresse interne ou réservée" in refused.value.errors["webhook_url"]
    with session_scope() as session:
        assert delivery_for(session, "mq_cma", NOW).emails == ("leads@mq-cma.example",)
