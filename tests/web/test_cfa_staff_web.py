"""Issue 12, part 4: what AKTO staff see of the CFAs, in a real Chromium — figures and flags,
the CSV, pausing a CFA (no young person is offered it any more) and resuming it, and a
training proposal approved (a new catalogue version) or rejected (the CFA reads the note)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import expect

from akto_data.catalogue.publishing import latest
from akto_data.catalogue.queries import Catalogue
from akto_data.cfa import proposals
from akto_data.db import session_scope
from akto_data.leads.matching import matching_cfas
from akto_data.leads.models import Lead
from akto_data.staff.models import AuditEvent
from tests.web.conftest import ADMIN, login
from tests.web.test_cfa_settings_web import CMA, portal_login, propose_cleaning_cap
from tests.web.test_console_content import STAFF, add_staff


def staff_login(page, console, path: str) -> None:
    add_staff()
    login(page, console, STAFF[0], STAFF[2])
    page.wait_for_url(f"{console.url}/")
    page.goto(f"{console.url}{path}")


def add_leads() -> None:
    """mq_cma: four leads received three weeks ago, none answered: flagged on both counts."""
    received = datetime.now(UTC) - timedelta(days=21)
    with session_scope() as session:
        for number in range(4):
            session.add(Lead(idempotency_key=f"web{number}", cfa_id="mq_cma", rome="F1602", training="CAP",
                             territory="martinique", consent_version="v1", consented_at=received,
                             created_at=received, status="sent", reasons=[]))
        session.add(Lead(idempotency_key="web9", cfa_id="mq_academique", rome="F1602", training="CAP",
                         territory="martinique", consent_version="v1", consented_at=received, created_at=received,
                         first_answer_at=received + timedelta(hours=3), status="enrolled", reasons=[]))


def offered() -> list[str]:
    with session_scope() as session:
        return [m.cfa_id for m in matching_cfas(Catalogue(session), "F1602", "martinique", 3)]


def test_staff_see_who_answers_flag_the_silent_cfa_and_pause_then_resume_it(console, page):
    add_leads()
    staff_login(page, console, "/")
    with page.expect_navigation():
        page.click("nav a:text-is('CFA')")
    expect(page.locator("#flag-rule")).to_contain_text("moins de 50 %")
    cma = page.locator("#table-cfas tr[data-cfa=mq_cma]")
    expect(cma).to_have_class("overdue flagged")
    expect(cma.locator("td.flags")).to_contain_text("répond peu dans les 5 jours ouvrés")
    expect(cma.locator("td.flags")).to_contain_text("attend depuis plus de 10 jours ouvrés")
    expect(cma).to_contain_text("0,0 %")
    expect(page.locator("#flagged")).to_contain_text("CFA signalés : 1")
    academique = page.locator("#table-cfas tr[data-cfa=mq_academique]")
    expect(academique).not_to_have_class("overdue flagged")
    expect(academique).to_contain_text("100,0 %")
    expect(page.locator("#table-territoires tr[data-territory=martinique]")).to_contain_text("5")

    # The CSV of the same table.
    with page.expect_download() as download:
        page.click("a.csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    line = next(r for r in rows if r[2] == "mq_cma")
    assert line[3:6] == ["4", "4", "0"] and "répond peu" in line[12]

    # Pause: a reason is needed; then no young person is offered this CFA.
    cma.locator("summary:has-text('Mettre en pause')").click()
    with page.expect_navigation():
        cma.locator("button:has-text('Confirmer la pause')").click()
    expect(page.locator("#table-cfas tr[data-cfa=mq_cma] p.field-error")).to_contain_text("raison")
    assert "mq_cma" in offered()
    cma = page.locator("#table-cfas tr[data-cfa=mq_cma]")
    cma.locator("input[name=reason]").fill("Aucune réponse depuis septembre, CFA relancé par téléphone")
    with page.expect_navigation():
        cma.locator("button:has-text('Confirmer la pause')").click()
    expect(page.locator("#done")).to_contain_text("CFA mis en pause")
    expect(cma.locator("td.pause")).to_contain_text("En pause")
    expect(cma.locator("td.pause")).to_contain_text("Aucune réponse depuis septembre")
    assert offered() == ["mq_academique"]

    with page.expect_navigation():
        cma.locator("button:has-text('Reprendre')").click()
    expect(page.locator("#done")).to_contain_text("CFA repris")
    assert offered() == ["mq_academique", "mq_cma"]
    with session_scope() as session:
        actions = [e.action for e in session.query(AuditEvent).filter(AuditEvent.actor == STAFF[0])]
    assert actions.count("cfa.pause") == 1 and actions.count("cfa.resume") == 1


def test_the_cfa_sees_its_pause_on_its_settings_page(console, page, browser):
    staff_login(page, console, "/cfas")
    cma = page.locator("#table-cfas tr[data-cfa=mq_cma]")
    cma.locator("summary:has-text('Mettre en pause')").click()
    cma.locator("input[name=reason]").fill("Coordonnées à vérifier")
    with page.expect_navigation():
        cma.locator("button:has-text('Confirmer la pause')").click()
    cfa_tab = browser.new_context(locale="fr-FR").new_page()
    portal_login(cfa_tab, console)
    expect(cfa_tab.locator("#paused")).to_contain_text("Coordonnées à vérifier")
    cfa_tab.context.close()


def test_staff_approve_a_proposal_it_becomes_a_new_catalogue_version_and_the_cfa_sees_it(console, page, browser):
    cfa_page = browser.new_context(locale="fr-FR").new_page()
    propose_cleaning_cap(cfa_page, console, "Ouverture de la section propreté")
    with session_scope() as session:
        version_before = latest(session).number
    staff_login(page, console, "/cfas")
    expect(page.locator("body")).to_contain_text("1 proposition(s) de formations à valider")
    with page.expect_navigation():
        page.click("a:has-text('proposition(s) de formations')")
    card = page.locator("section[data-cfa=mq_cma]")
    expect(card).to_contain_text("Ouverture de la section propreté")
    expect(card.locator("li.added")).to_contain_text("CAP Propreté de l'environnement urbain, niveau 3")
    expect(card.locator("li.removed")).to_contain_text("CAP Métiers de la coiffure")
    card.locator("textarea[name=note]").fill("Vérifié sur le site du CFA")
    with page.expect_navigation():
        card.locator("button:has-text('Valider et publier')").click()
    expect(page.locator("#done")).to_contain_text(f"version {version_before + 1}")
    expect(page.locator("#none")).to_be_visible()
    with session_scope() as session:
        assert latest(session).number == version_before + 1
        assert [m.cfa_id for m in matching_cfas(Catalogue(session), "K2204", "martinique", 3)] == ["mq_cma"]
    # The version is in the content history, by the staff member, restorable like any edit.
    with page.expect_navigation():
        page.click(f"#done a:has-text('version {version_before + 1}')")
    expect(page.locator("body")).to_contain_text(STAFF[0])
    expect(page.locator("body")).to_contain_text("mq_cma")

    cfa_page.reload()
    expect(cfa_page.locator("#decision")).to_contain_text("a été validée")
    expect(cfa_page.locator("#decision-note")).to_have_text("Vérifié sur le site du CFA")
    expect(cfa_page.locator("#current-trainings")).to_contain_text("CAP Propreté de l'environnement urbain")
    expect(cfa_page.locator("#current-trainings")).not_to_contain_text("CAP Métiers de la coiffure")
    cfa_page.context.close()


def test_staff_reject_a_proposal_the_catalogue_stays_and_the_cfa_reads_why(console, page, browser):
    cfa_page = browser.new_context(locale="fr-FR").new_page()
    propose_cleaning_cap(cfa_page, console, "")
    with session_scope() as session:
        before = (latest(session).number, proposals.current_trainings(session, CMA[0]))
    staff_login(page, console, "/cfas/propositions")
    card = page.locator("section[data-cfa=mq_cma]")
    with page.expect_navigation():
        card.locator("button:has-text('Refuser')").click()
    expect(page.locator("section[data-cfa=mq_cma] p.field-error")).to_contain_text("Explique au CFA pourquoi")
    card.locator("textarea[name=note]").fill("Cette formation n'apparaît pas dans votre offre 2027")
    with page.expect_navigation():
        card.locator("button:has-text('Refuser')").click()
    expect(page.locator("#done")).to_contain_text("le catalogue n'a pas changé")
    with session_scope() as session:
        assert (latest(session).number, proposals.current_trainings(session, CMA[0])) == before
    cfa_page.reload()
    expect(cfa_page.locator("#decision")).to_contain_text("a été refusée")
    expect(cfa_page.locator("#decision-note")).to_have_text("Cette formation n'apparaît pas dans votre offre 2027")
    cfa_page.context.close()


def test_cfa_pages_are_for_staff_only(console, page):
    login(page, console, ADMIN[0], ADMIN[2])  # an admin is staff too
    page.wait_for_url(f"{console.url}/")
    page.goto(f"{console.url}/cfas")
    expect(page.locator("h1")).to_have_text("CFA : qui répond aux demandes")
    from akto_data.staff.accounts import create_account

    with session_scope() as session:
        create_account(session, email="conseil@akto.example", name="Conseil", role="advisor",
                       territories=["martinique"], password="mot-de-passe-du-conseil", actor="test")
    client = console.client()
    assert client.get("/cfas").status_code == 303  # not logged in: to the login page
    advisor = browser_free_login(console, "conseil@akto.example", "mot-de-passe-du-conseil")
    assert advisor.get("/cfas").status_code == 403
    assert advisor.get("/cfas/propositions").status_code == 403
    assert advisor.get("/cfas.csv").status_code == 403


def browser_free_login(console, email: str, password: str):
    """An httpx client logged in through the login form (CSRF token read from the page)."""
    import re

    client = console.client()
    html = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert answer.status_code == 303
    return client
