"""Issue 11, part 1: accounts, roles, CSRF, lockout, audit — in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import ADMIN, login


def test_admin_logs_in_and_sees_the_home_page_with_facts_to_check(console, page):
    login(page, console)
    page.wait_for_url(f"{console.url}/")
    assert page.locator("h1").inner_text() == f"Bonjour {ADMIN[1]}"
    assert "À vérifier" in page.content()
    cookie = next(c for c in page.context.cookies() if c["name"] == "console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_pages_need_a_login(console, page):
    page.goto(f"{console.url}/admin/accounts")
    page.wait_for_url(re.compile(r"/login\?next=/admin/accounts"))
    assert page.locator("h1").inner_text() == "Connexion"


def test_a_form_without_its_csrf_token_is_refused(console, page):
    login(page, console)
    page.wait_for_url(f"{console.url}/")
    # The browser's own session cookie, but a form posted without the token (as another site would).
    response = page.request.post(f"{console.url}/admin/accounts", form={
        "email": "pirate@example.org", "name": "Pirate", "role": "admin", "password": "x" * 20})
    assert response.status == 403 and "Jeton de sécurité" in response.text()
    page.goto(f"{console.url}/admin/accounts")
    assert "pirate@example.org" not in page.content()


def test_five_wrong_passwords_lock_the_account_even_with_the_right_one_after(console, page):
    for _ in range(5):
        login(page, console, password="pas le bon mot de passe")
    assert "compte bloqué" in page.locator(".error").inner_text()
    login(page, console)  # the right password, but locked
    assert "compte bloqué" in page.locator(".error").inner_text()
    assert page.url.startswith(f"{console.url}/login")


def test_admin_creates_an_advisor_bad_input_is_explained_and_everything_is_audited(console, page):
    login(page, console)
    page.wait_for_url(f"{console.url}/")
    page.goto(f"{console.url}/admin/accounts")
    page.fill("input[name=name]", "Charles Conseiller")
    page.fill("input[name=email]", "charles@akto.example")
    page.select_option("select[name=role]", "advisor")
    page.fill("input[name=password]", "court")
    with page.expect_navigation():
        page.click("text=Créer le compte")
    errors = page.locator(".field-error").all_inner_texts()
    assert any("au moins 12 caractères" in e for e in errors) and any("au moins un territoire" in e for e in errors)
    assert "charles@akto.example" not in page.locator("table").inner_text()  # nothing half-saved
    assert page.input_value("input[name=name]") == "Charles Conseiller"  # what was typed is kept
    page.check("input[value=martinique]")
    page.fill("input[name=password]", "un-autre-mot-de-passe")
    with page.expect_navigation():
        page.click("text=Créer le compte")
    expect(page.locator("table")).to_contain_text("charles@akto.example")

    page.goto(f"{console.url}/admin/audit")
    row = page.locator("tr", has_text="account.create").first.inner_text()
    assert ADMIN[0] in row and "charles@akto.example" in row and "martinique" in row
    csv = page.request.get(f"{console.url}/admin/audit.csv").text()
    assert "account.create" in csv and "password" not in csv


def test_an_advisor_cannot_open_admin_pages(console, page):
    from akto_data.db import session_scope
    from akto_data.staff.accounts import create_account

    with session_scope() as session:
        create_account(session, email="cora@akto.example", name="Cora", role="advisor", password="mot-de-passe-cora",
                       territories=["guyane"], actor="test")
    login(page, console, "cora@akto.example", "mot-de-passe-cora")
    page.wait_for_url(f"{console.url}/")
    assert "Comptes" not in page.locator("header").inner_text()
    response = page.goto(f"{console.url}/admin/accounts")
    assert response.status == 403 and "pas ouverte à ton rôle" in page.content()


def test_logout_ends_the_session(console, page):
    login(page, console)
    page.wait_for_url(f"{console.url}/")
    page.click("text=Se déconnecter")
    page.wait_for_url(f"{console.url}/login")
    page.goto(f"{console.url}/")
    assert "/login" in page.url


def test_every_database_dependency_commits_before_the_response():
    """A redirect after a form must show the change: FastAPI's default dependency scope
    commits after the response is sent (seen: a new account missing from the next page)."""
    import re
    from pathlib import Path

    from akto_data.settings import PROJECT_ROOT

    late = [f"{path.name}:{n}" for path in sorted(Path(PROJECT_ROOT, "web").rglob("*.py"))
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if re.search(r"Depends\(unit_of_work\)", line)]
    assert not late, late
