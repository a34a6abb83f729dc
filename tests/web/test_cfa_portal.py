"""Issue 12, section 1: the CFA portal — magic links read from real e-mails, the CFA's
leads, a lead's page and status, the export, and one CFA never seeing another's leads.

Real parts: the console app under uvicorn and Debian's Chromium (Playwright) where a
person clicks; the real SMTP server (aiosmtpd) that receives the login e-mails; the
FastAPI test client (same app, same database) where a browser would add nothing.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import func, select

from akto_data.cfa import login as cfa_login
from akto_data.cfa.models import CfaAccount, CfaLoginLink
from akto_data.db import session_scope
from akto_data.leads.delivery import SmtpSettings
from akto_data.leads.lifecycle import apply_status, working_days_between
from akto_data.leads.models import Lead, OutboxMessage
from akto_data.leads.store import create_lead
from akto_data.models import utcnow
from tests.unit.test_lead_delivery import lead_data
from tests.web.conftest import login as staff_login

UMIH = ("mq_umih", "leads@mq-umih.example", "CFA de l'UMIH Martinique")
CMA = ("mq_cma", "leads@mq-cma.example")
LINK = re.compile(r"http://\S+/cfa/lien/[A-Za-z0-9_-]+(?:\?next=\S+)?")


@pytest.fixture(autouse=True)
def fresh_throttles():
    from web.routes import cfa_portal

    cfa_portal._clients.clear()
    cfa_portal._unknown.clear()
    yield


@pytest.fixture
def mail(smtp_inbox, monkeypatch):
    """Login e-mails go to the real SMTP server of the test."""
    inbox, port = smtp_inbox
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    return inbox


def add_lead(cfa_id: str = UMIH[0], received: datetime | None = None, status: str | None = None,
             **fields: object) -> int:
    """A lead of ``cfa_id`` (the young person's answers of the lead form), received at ``received``."""
    fields.setdefault("chat_id", str(secrets.randbelow(10**9) + 1000))
    with session_scope() as session:
        lead = create_lead(lead_data(cfa_id=cfa_id, **fields), "v1", 3, session)
        if received is not None:
            lead.created_at = received
        if status is not None:
            lead.status = status
        session.flush()
        return lead.id


def last_link(inbox) -> str:
    _to, message = inbox.messages[-1]
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = LINK.findall(text)
    assert found, text
    return found[-1]


def logged_in_client(cfa_id: str = UMIH[0], email: str = UMIH[1]) -> TestClient:
    """A test client signed in through a real link (its token made here, the link pages used as a person would)."""
    from web.app import create_app

    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        session.add(CfaLoginLink(token_hash=cfa_login.token_hash(token), cfa_id=cfa_id, email=email,
                                 expires_at=utcnow() + timedelta(minutes=30)))
    client = TestClient(create_app())
    page = client.get(f"/cfa/lien/{token}")
    assert page.status_code == 200
    done = client.post(f"/cfa/lien/{token}", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/cfa/demandes"
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def ask_link(client: TestClient, email: str) -> tuple[int, str]:
    form = client.get("/cfa/connexion")
    answer = client.post("/cfa/connexion", data={"email": email, "csrf_token": csrf_of(form.text)})
    return answer.status_code, answer.text


def lead_status(lead_id: int) -> str:
    with session_scope() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead.status


# -- In the browser -------------------------------------------------------------------


def test_magic_link_from_the_email_opens_the_lead_asked_for_and_only_the_cfas_leads(console, page, mail,
                                                                                   monkeypatch):
    monkeypatch.setenv("PORTAL_BASE_URL", console.url)
    mine = add_lead(first_name="Léa", message="Bonjour, <b>je</b> veux faire de la cuisine.")
    add_lead(CMA[0], first_name="Zoé", rome="D1102", training="CAP Boulanger")

    page.goto(f"{console.url}/cfa/demandes/{mine}")
    page.wait_for_url(re.compile(rf"/cfa/connexion\?next=/cfa/demandes/{mine}$"))
    page.fill("input[name=email]", UMIH[1].upper())  # the address as typed, whatever its case
    with page.expect_navigation():
        page.get_by_role("button", name="Recevoir un lien de connexion").click()
    expect(page.get_by_role("heading", name="Consultez votre messagerie")).to_be_visible()

    (to, message), = mail.messages
    assert to == [UMIH[1]] and message["Subject"] == "Votre lien de connexion à l'Espace CFA"
    shown = unescape(message.get_body(preferencelist=("html",)).get_content())
    assert "Se connecter" in shown and "30 minutes" in shown
    # The layout of every CFA e-mail (header, one main button, footer), and a text version of the same.
    assert "max-width:600px" in shown and "le service d'orientation d'AKTO" in shown
    assert shown.count('<a href="') == 1 and "Vous recevez cet e-mail parce qu'un lien de connexion" in shown
    assert "Se connecter : http" in message.get_body(preferencelist=("plain",)).get_content()
    url = last_link(mail)
    assert url.startswith(f"{console.url}/cfa/lien/") and url.endswith(f"?next=/cfa/demandes/{mine}")
    with session_scope() as session:  # only the token's hash is stored
        stored = session.scalars(select(CfaLoginLink.token_hash)).all()
    token = url.split("/cfa/lien/")[1].split("?")[0]
    assert stored == [cfa_login.token_hash(token)] and token not in stored

    page.goto(url)
    page.goto(url)  # opening the link (as a mail scanner does) uses nothing
    expect(page.get_by_text(UMIH[2])).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()
    assert page.url == f"{console.url}/cfa/demandes/{mine}"
    expect(page.locator("header .cfa-name")).to_have_text(UMIH[2])
    expect(page.locator("#young-message")).to_have_text("Bonjour, <b>je</b> veux faire de la cuisine.")
    expect(page.locator("#contact")).to_contain_text("0696 12 34 56")

    page.goto(f"{console.url}/cfa/demandes")
    expect(page.locator("table.leads")).to_contain_text("Léa")
    expect(page.locator("table.leads")).not_to_contain_text("Zoé")
    # The link served once: used again, it says so and shows nothing of the CFA.
    page.context.clear_cookies()
    response = page.goto(url)
    assert response is not None and response.status == 410
    expect(page.get_by_role("alert")).to_contain_text("déjà servi")
    assert UMIH[2] not in page.content()
    with page.expect_navigation():
        page.get_by_role("link", name="Recevoir un nouveau lien").click()
    assert page.url == f"{console.url}/cfa/connexion"


def test_status_changes_in_the_browser_read_then_contacted_then_refused_with_a_reason(console, page, mail,
                                                                                     monkeypatch):
    monkeypatch.setenv("PORTAL_BASE_URL", console.url)
    lead = add_lead(status="sent")
    page.goto(f"{console.url}/cfa/connexion")
    page.fill("input[name=email]", UMIH[1])
    with page.expect_navigation():
        page.get_by_role("button", name="Recevoir un lien de connexion").click()
    page.goto(last_link(mail))
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter").click()

    row = page.locator(f"tr[data-lead='{lead}']")
    expect(row).to_contain_text("À traiter")
    expect(page.locator("[data-count=waiting]")).to_contain_text("1 en attente")
    with page.expect_navigation():
        row.get_by_role("link").click()
    # Opening the lead marks it read by the CFA (the young person is told).
    expect(page.locator("#current-status")).to_have_text("Lu")
    expect(page.locator("ol.history")).to_contain_text("Lu · par votre CFA")

    with page.expect_navigation():
        page.get_by_role("button", name="Contacté").click()
    expect(page.get_by_role("status")).to_have_text("Statut enregistré : Contacté. Le jeune en est informé.")
    expect(page.locator("#current-status")).to_have_text("Contacté")
    expect(page.get_by_role("button", name="Lu")).to_have_count(0)  # nothing backwards is offered
    with session_scope() as session:
        notices = session.scalars(select(OutboxMessage).where(OutboxMessage.lead_id == lead,
                                                              OutboxMessage.kind == "notice",
                                                              OutboxMessage.state == "pending")).all()
        assert [n.payload for n in notices] == [{"status": "contacted"}]

    # "Refused" needs a reason: the browser asks for it first (required select) ...
    page.get_by_role("button", name="Refuser la demande").click()
    expect(page.locator("#current-status")).to_have_text("Contacté")
    page.select_option("select[name=reason]", label="formation complète")
    with page.expect_navigation():
        page.get_by_role("button", name="Refuser la demande").click()
    expect(page.locator("#current-status")).to_have_text("Refusé")
    expect(page.locator(".lead-status")).to_contain_text("(formation complète)")
    expect(page.locator("ol.history")).to_contain_text("Refusé (formation complète) · par votre CFA")
    expect(page.locator("[data-count]")).to_have_count(0)

    page.goto(f"{console.url}/cfa/demandes?statut=attente")
    expect(page.locator("[data-count=waiting]")).to_contain_text("0 en attente")
    expect(page.locator(f"tr[data-lead='{lead}']")).to_have_count(0)


def test_the_portal_reads_on_a_phone(console, browser, monkeypatch):
    lead = add_lead()
    client = logged_in_client()
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_cookies([{"name": "console_session", "value": client.cookies["console_session"],
                          "url": console.url}])
    tab = context.new_page()
    tab.goto(f"{console.url}/cfa/demandes")
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the list overflows a phone's screen ({width}px)"
    expect(tab.locator("table.leads thead")).to_be_hidden()  # cells stacked, each labelled
    label = tab.locator(f"tr[data-lead='{lead}'] td").first.evaluate(
        "cell => getComputedStyle(cell, '::before').content")
    assert label == '"Reçue le : "'

    tab.goto(f"{console.url}/cfa/demandes/{lead}")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_a_staff_session_does_not_open_the_portal_and_a_cfa_session_no_staff_page(console, page):
    staff_login(page, console)
    page.wait_for_url(f"{console.url}/")
    page.goto(f"{console.url}/cfa/demandes")
    page.wait_for_url(re.compile(r"/cfa/connexion\?next=/cfa/demandes$"))

    client = logged_in_client()
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "console_session", "value": client.cookies["console_session"],
                               "url": console.url}])
    page.goto(f"{console.url}/cfa/demandes")
    assert page.url == f"{console.url}/cfa/demandes"
    for staff_page in ("/", "/contenu", "/admin/accounts", "/conseiller"):
        page.goto(f"{console.url}{staff_page}")
        assert "/login?next=" in page.url, staff_page


# -- Links and throttle (test client: what a browser adds is shown above) --------------


def test_expired_reused_and_forged_links_get_a_clear_page_and_nothing_about_the_cfa(catalogue, mail):
    from web.app import create_app

    with session_scope() as session:
        past = utcnow() - timedelta(minutes=31)
        assert cfa_login.request_link(session, UMIH[1], None, "http://portal.example",
                                      SmtpSettings.from_env(), now=past) is cfa_login.LinkRequest.SENT
    expired = last_link(mail).split("/cfa/lien/")[1]
    client = TestClient(create_app())
    for token, status, says in ((expired, 410, "a expiré"), (secrets.token_urlsafe(32), 404, "n'est pas valide"),
                                ("x" * 300, 404, "n'est pas valide")):
        shown = client.get(f"/cfa/lien/{token}")
        assert shown.status_code == status and says in unescape(shown.text)
        assert "Recevoir un nouveau lien" in shown.text and "Se connecter" not in shown.text
        assert "UMIH" not in shown.text and "Espace CFA" in shown.text
        used = client.post(f"/cfa/lien/{token}", data={"csrf_token": csrf_of(client.get("/cfa/connexion").text)},
                           follow_redirects=False)
        assert used.status_code == status and "UMIH" not in used.text
        assert client.get("/cfa/demandes", follow_redirects=False).status_code == 303  # no session opened


def test_a_link_opens_one_session_once_and_next_never_leaves_the_portal(catalogue):
    from web.app import create_app

    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        session.add(CfaLoginLink(token_hash=cfa_login.token_hash(token), cfa_id=UMIH[0], email=UMIH[1],
                                 expires_at=utcnow() + timedelta(minutes=30)))
    first, second = TestClient(create_app()), TestClient(create_app())
    csrf = [csrf_of(c.get(f"/cfa/lien/{token}").text) for c in (first, second)]
    opened = first.post(f"/cfa/lien/{token}", data={"csrf_token": csrf[0], "next": "https://evil.example/"},
                        follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/cfa/demandes"
    again = second.post(f"/cfa/lien/{token}", data={"csrf_token": csrf[1]}, follow_redirects=False)
    assert again.status_code == 410 and "déjà servi" in again.text
    assert second.get("/cfa/demandes", follow_redirects=False).status_code == 303
    for target in ("//evil.example/cfa/", "/admin/accounts", "/cfa/demandes/1", "javascript:alert(1)",
                   "/cfa/../admin/accounts", "/cfa/%2e%2e/admin"):
        assert cfa_login.safe_next(target) == ("/cfa/demandes/1" if target == "/cfa/demandes/1" else "/cfa/demandes")


def test_known_and_unknown_addresses_get_the_same_answer_and_the_same_throttle(catalogue, mail):
    from web.app import create_app

    client = TestClient(create_app())
    answers = [ask_link(client, address) for address in (UMIH[1], "personne@inconnu.example")]
    assert [status for status, _ in answers] == [200, 200]
    assert all("Consultez votre messagerie" in text for _, text in answers)
    assert [to for to, _ in mail.messages] == [[UMIH[1]]]  # only the CFA's address got a mail

    for _ in range(2):
        assert ask_link(client, UMIH[1])[0] == 200
        assert ask_link(client, "personne@inconnu.example")[0] == 200
    for address in (UMIH[1], "personne@inconnu.example"):
        status, text = ask_link(client, address)
        assert status == 429 and "réessayez dans 15 minutes" in text
    assert len(mail.messages) == 3

    # Counted in the database: a restarted console still refuses a fourth link to the CFA.
    restarted = TestClient(create_app())
    assert ask_link(restarted, UMIH[1])[0] == 429
    # ... and 15 minutes later (the clock passed to the core), one more is sent.
    with session_scope() as session:
        later = utcnow() + timedelta(minutes=16)
        assert cfa_login.request_link(session, UMIH[1], None, "http://portal.example", SmtpSettings.from_env(),
                                      now=later) is cfa_login.LinkRequest.SENT
    assert len(mail.messages) == 4


def test_too_many_requests_from_one_computer_are_refused(catalogue):
    from web.app import create_app
    from web.routes import cfa_portal

    client = TestClient(create_app())
    for number in range(cfa_portal.PER_CLIENT):
        assert ask_link(client, f"personne{number}@inconnu.example")[0] == 200
    status, text = ask_link(client, "encore@inconnu.example")
    assert status == 429 and "depuis cet ordinateur" in text


def test_when_the_mail_cannot_be_sent_the_person_is_told_and_can_try_again(catalogue, mail, monkeypatch):
    import os

    from tests.web.conftest import free_port
    from web.app import create_app

    client = TestClient(create_app())
    working = os.environ["SMTP_PORT"]
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nobody listens there
    for _ in range(4):  # failures reached nobody: they do not count against the throttle
        status, text = ask_link(client, UMIH[1])
        assert status == 503 and "n&#39;a pas pu être envoyé" in text and "Réessayez" in text
    with session_scope() as session:
        assert session.scalar(select(func.count(CfaLoginLink.id))) == 0
    monkeypatch.setenv("SMTP_PORT", working)  # the mail server is back
    status, text = ask_link(client, UMIH[1])
    assert status == 200 and len(mail.messages) == 1


def test_bad_addresses_are_explained(catalogue):
    from web.app import create_app

    client = TestClient(create_app())
    for typed in ("", "pas-une-adresse", "a@b", "x" * 250 + "@a.example"):
        status, text = ask_link(client, typed)
        assert status == 400 and "adresse e-mail valide" in text


def test_an_address_serving_two_cfas_gets_one_link_per_cfa(catalogue, mail):
    from web.app import create_app

    shared = "direction@groupe-cfa.example"
    with session_scope() as session:
        for cfa_id in (UMIH[0], CMA[0]):
            session.add(CfaAccount(cfa_id=cfa_id, emails=[shared]))
    add_lead(first_name="Léa")
    add_lead(CMA[0], first_name="Zoé", rome="D1102")
    client = TestClient(create_app())
    assert ask_link(client, shared)[0] == 200
    (to, message), = mail.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "plusieurs CFA" in text and "CFA de l'UMIH Martinique :" in text
    links = dict(re.findall(r"^Se connecter — (.+?) : (http://\S+)\s*$", text, re.MULTILINE))
    assert len(links) == 2
    for name, url in links.items():
        browser_like = TestClient(create_app())
        path = url.split("://", 1)[1].split("/", 1)[1]
        shown = browser_like.get(f"/{path}")
        assert name in unescape(shown.text)
        browser_like.post(f"/{path}", data={"csrf_token": csrf_of(shown.text)})
        listing = browser_like.get("/cfa/demandes").text
        expected, other = ("Léa", "Zoé") if "UMIH" in name else ("Zoé", "Léa")
        assert expected in listing and other not in listing


# -- The list -----------------------------------------------------------------------------


def test_list_filters_counts_order_age_and_pages(catalogue):
    now = utcnow()
    friday = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # a Friday, 10:00 in Martinique
    add_lead(received=friday, first_name="Ana", status="sent")
    add_lead(received=friday + timedelta(hours=1), first_name="Bea", status="contacted", territory="guadeloupe",
             town="Basse-Terre")
    add_lead(received=friday - timedelta(days=30), first_name="Cid", status="enrolled", rome="G1603",
             training="CAP Commercialisation et services en HCR")
    add_lead(CMA[0], first_name="Zoé", status="sent")
    with session_scope() as session:
        anonymised = session.get(Lead, add_lead(first_name="Gone"))
        assert anonymised is not None
        anonymised.anonymised_at = now
    client = logged_in_client()

    listing = client.get("/cfa/demandes").text
    names = re.findall(r'<a href="/cfa/demandes/\d+">([^<]+)</a>', listing)
    assert names == ["Bea", "Ana", "Cid"]  # newest first; not the other CFA's, not the anonymised
    counts = dict(re.findall(r'data-count="(\w+)">\s*<strong>(\d+)</strong>', listing))
    assert counts == {"waiting": "1", "total": "3"}
    assert "27/11/2026 10:00" in listing  # the CFA's own time (Martinique)
    expected_age = working_days_between(friday, now, "martinique", "America/Martinique")
    assert f"{expected_age} j. ouvré" in listing

    def names_for(query: str) -> list[str]:
        return re.findall(r'<a href="/cfa/demandes/\d+">([^<]+)</a>', client.get(f"/cfa/demandes?{query}").text)

    assert names_for("statut=attente") == ["Ana"]
    assert names_for("statut=contacted") == ["Bea"]
    assert names_for("territoire=guadeloupe") == ["Bea"]
    assert names_for("formation=CAP+Commercialisation+et+services+en+HCR") == ["Cid"]
    assert names_for("du=2026-11-27&au=2026-11-27") == ["Bea", "Ana"]
    assert names_for("au=2026-11-26") == ["Cid"]
    bad = client.get("/cfa/demandes?du=27/11/2026&statut=nope")
    assert bad.status_code == 200 and "Date non comprise" in bad.text and "Statut inconnu" in bad.text

    for number in range(52):
        add_lead(received=friday - timedelta(days=60, minutes=number), first_name=f"P{number:02d}",
                 chat_id=str(5000 + number))
    first = client.get("/cfa/demandes").text
    assert len(re.findall(r'<a href="/cfa/demandes/\d+">', first)) == 50 and "Page 1 / 2" in first
    second = client.get("/cfa/demandes?page=2").text
    assert re.findall(r'<a href="/cfa/demandes/\d+">([^<]+)</a>', second) == ["P47", "P48", "P49", "P50", "P51"]
    assert "Plus récentes" in second


# -- Status through the form (test client) ---------------------------------------------


def test_refused_without_a_valid_reason_is_refused_with_a_clear_message(catalogue):
    lead = add_lead(status="read")
    client = logged_in_client()
    csrf = csrf_of(client.get(f"/cfa/demandes/{lead}").text)
    for reason in ("", "pas_un_motif"):
        answer = client.post(f"/cfa/demandes/{lead}/statut", data={"csrf_token": csrf, "status": "refused",
                                                                   "reason": reason})
        assert answer.status_code == 400 and "choisissez le motif du refus" in answer.text
    assert lead_status(lead) == "read"
    bad = client.post(f"/cfa/demandes/{lead}/statut", data={"csrf_token": csrf, "status": "withdrawn"})
    assert bad.status_code == 400 and "Choisissez un des statuts proposés" in bad.text
    assert lead_status(lead) == "read"


def test_backwards_and_repeated_statuses_say_what_the_lead_is_at(catalogue):
    lead = add_lead(status="interview")
    client = logged_in_client()
    csrf = csrf_of(client.get(f"/cfa/demandes/{lead}").text)
    back = client.post(f"/cfa/demandes/{lead}/statut", data={"csrf_token": csrf, "status": "contacted"})
    assert back.status_code == 200 and "ne revient pas en arrière : la demande est au statut « Entretien prévu »" \
        in back.text.replace("&#34;", '"')
    same = client.post(f"/cfa/demandes/{lead}/statut", data={"csrf_token": csrf, "status": "interview"})
    assert "déjà au statut « Entretien prévu » : rien n&#39;a changé" in same.text
    assert lead_status(lead) == "interview"


def test_a_lead_the_young_person_withdrew_shows_it_without_a_status_form(catalogue):
    lead = add_lead(status="contacted")
    with session_scope() as session:
        key = session.get(Lead, lead).idempotency_key  # type: ignore[union-attr]
        apply_status(session, key, "withdrawn", by="user")
    client = logged_in_client()
    shown = client.get(f"/cfa/demandes/{lead}").text
    assert "le jeune a fermé cette demande" in shown and "Plus intéressé" in shown
    assert "/statut" not in shown
    answer = client.post(f"/cfa/demandes/{lead}/statut", data={"csrf_token": csrf_of(shown), "status": "enrolled"})
    assert "Le jeune a fermé cette demande" in answer.text
    assert lead_status(lead) == "withdrawn"


# -- Isolation ------------------------------------------------------------------------------


def test_another_cfas_lead_is_exactly_as_absent_as_a_lead_that_does_not_exist(catalogue):
    theirs = add_lead(CMA[0], first_name="Zoé", status="sent")
    client = logged_in_client()
    csrf = csrf_of(client.get("/cfa/demandes").text)
    unknown = client.get("/cfa/demandes/999999")
    other = client.get(f"/cfa/demandes/{theirs}")
    assert unknown.status_code == other.status_code == 404
    assert unknown.text == other.text and "Zoé" not in other.text
    assert client.get("/cfa/demandes/abc").text == unknown.text
    posted = client.post(f"/cfa/demandes/{theirs}/statut", data={"csrf_token": csrf, "status": "enrolled"})
    assert posted.status_code == 404 and posted.text == unknown.text
    assert lead_status(theirs) == "sent"  # neither changed nor marked read


# -- Export -----------------------------------------------------------------------------------


def test_export_holds_the_cfas_leads_of_the_range_as_labels_formula_safe(catalogue):
    day = datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # 26/11 at 23:30 in Martinique
    add_lead(received=day, first_name="=HYPERLINK(\"https://evil.example\";\"CV\")", status="refused",
             message="+33 salut\nligne 2", contact_channel="phone", contact_value="+596696123456")
    add_lead(received=day + timedelta(days=2), first_name="Bea")
    add_lead(CMA[0], received=day, first_name="Zoé")
    with session_scope() as session:
        lead = session.scalar(select(Lead).where(Lead.status == "refused"))
        assert lead is not None
        lead.status_reason = "full"
    client = logged_in_client()

    answer = client.get("/cfa/export.csv?du=2026-11-26&au=2026-11-26")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == "attachment; filename=demandes-mq_umih-2026-11-26-2026-11-26.csv"
    assert answer.content.startswith("\ufeff".encode())  # Excel reads the accents
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1  # the day is the CFA's day; Bea is later, Zoé is another CFA's
    row = rows[0]
    assert row["Reçue le"] == "26/11/2026 23:30"
    assert row["Prénom"] == "'=HYPERLINK(\"https://evil.example\";\"CV\")"
    assert row["Message du jeune"] == "'+33 salut\nligne 2"
    assert row["Coordonnées"] == "0696 12 34 56"
    assert (row["Statut"], row["Motif"], row["Territoire"], row["Démarrage souhaité"], row["Motivations"]) == (
        "Refusé", "formation complète", "Martinique", "à la rentrée", "les places restantes, le salaire")

    wide = client.get("/cfa/export.csv?du=2026-11-01&au=2026-11-30")
    names = [r["Prénom"] for r in csv.DictReader(io.StringIO(wide.content.decode("utf-8-sig")), delimiter=";")]
    assert names == ["'=HYPERLINK(\"https://evil.example\";\"CV\")", "Bea"]

    for query, says in (("du=2026-11-30&au=2026-11-01", "avant la date de début"),
                        ("du=30/11/2026&au=2026-12-01", "format AAAA-MM-JJ"), ("du=2026-11-01", "Indiquez"),
                        ("du=2020-01-01&au=2026-01-01", "au plus 366 jours")):
        bad = client.get(f"/cfa/export.csv?{query}")
        assert bad.status_code == 400 and says in bad.text and "Export impossible" in bad.text


def test_logout_ends_the_cfa_session(catalogue):
    client = logged_in_client()
    csrf = csrf_of(client.get("/cfa/demandes").text)
    out = client.post("/cfa/deconnexion", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/cfa/connexion?fin=1"
    assert "Vous êtes déconnecté" in client.get("/cfa/connexion?fin=1").text
    assert client.get("/cfa/demandes", follow_redirects=False).status_code == 303



# -- Review fixes ----------------------------------------------------------------------------------------------


def test_removing_an_address_in_the_settings_ends_the_sessions_opened_with_it(catalogue):
    """Someone who left the CFA keeps no access: their address removed, their open session is out at the next click."""
    leaving = "ancien.salarie@mq-umih.example"
    with session_scope() as session:
        session.add(CfaAccount(cfa_id=UMIH[0], emails=[UMIH[1], leaving]))
    add_lead(first_name="Léa")
    former = logged_in_client(UMIH[0], leaving)
    assert "Léa" in former.get("/cfa/demandes").text
    manager = logged_in_client(UMIH[0], UMIH[1])
    form = manager.get("/cfa/reglages")
    saved = manager.post("/cfa/reglages", data={"csrf_token": csrf_of(form.text), "email": [UMIH[1]],
                                                "contact_in_email": "1", "webhook_url": ""}, follow_redirects=False)
    assert saved.status_code == 303
    gone = former.get("/cfa/demandes", follow_redirects=False)
    assert gone.status_code in (302, 303, 307) and gone.headers["location"].startswith("/cfa/connexion")
    again = former.get("/cfa/demandes/1", follow_redirects=False)  # the session was cleared, not just refused once
    assert again.headers["location"].startswith("/cfa/connexion")
    assert "Léa" in manager.get("/cfa/demandes").text  # the remaining address keeps its session


def test_the_login_throttle_forgets_idle_addresses_and_stays_bounded():
    from web.routes import cfa_portal

    store: dict = {}
    assert cfa_portal._count(store, "client-a", 600.0, add=True, now=0.0) == 1
    assert cfa_portal._count(store, "client-b", 600.0, add=False, now=1.0) == 0
    assert list(store) == ["client-a"]  # a mere look adds no key
    assert cfa_portal._count(store, "client-a", 600.0, add=False, now=601.0) == 0
    assert store == {}  # its requests left the window: the key is gone
    for number in range(cfa_portal.MAX_KEYS + 50):  # a flood of distinct addresses
        cfa_portal._count(store, f"flood-{number}", 600.0, add=True, now=2.0)
    assert len(store) == cfa_portal.MAX_KEYS and "flood-0" not in store and f"flood-{cfa_portal.MAX_KEYS + 49}" in store


def test_pages_that_read_the_database_do_not_block_the_other_requests():
    """FastAPI runs a plain ``def`` handler in its thread pool; an ``async def`` one blocks every request
    while its database session works (an export of a year, the staff figures)."""
    import inspect

    from fastapi.routing import APIRoute

    from web.routes import cfa_portal, cfa_settings, cfa_staff

    checked = 0
    for module in (cfa_portal, cfa_settings, cfa_staff):
        for route in module.router.routes:
            if isinstance(route, APIRoute) and "session" in inspect.signature(route.endpoint).parameters:
                assert not inspect.iscoroutinefunction(route.endpoint), f"{module.__name__}.{route.name}"
                checked += 1
    assert checked >= 14
