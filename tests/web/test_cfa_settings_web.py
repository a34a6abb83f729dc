"""Issue 12: the portal's settings page in a real Chromium — addresses with their errors,
the contact option, the webhook secret shown once and rotated with an overlap, and a
training proposal."""

from __future__ import annotations

import secrets
from datetime import timedelta

from playwright.sync_api import expect

from akto_data.cfa import proposals
from akto_data.cfa.login import token_hash
from akto_data.cfa.models import CfaLoginLink
from akto_data.cfa.settings import delivery_for
from akto_data.db import session_scope
from akto_data.models import utcnow

CMA = ("mq_cma", "leads@mq-cma.example")
PUBLIC_HOOK = "https://93.184.215.14/akto"


def portal_login(page, console, cfa_id: str = CMA[0], email: str = CMA[1], path: str = "/cfa/reglages") -> None:
    """Log a CFA in through the portal's own link page (a link row made here instead of
    taken from an e-mail: the e-mail path is tested in test_cfa_portal.py)."""
    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        now = utcnow()
        session.add(CfaLoginLink(token_hash=token_hash(token), cfa_id=cfa_id, email=email, created_at=now,
                                 expires_at=now + timedelta(minutes=30)))
    page.goto(f"{console.url}/cfa/lien/{token}?next={path}")
    with page.expect_navigation():
        page.click("button:has-text('Se connecter')")
    page.wait_for_url(f"{console.url}{path}")


def delivery():
    with session_scope() as session:
        return delivery_for(session, CMA[0])


def save(page) -> None:
    with page.expect_navigation():
        page.click("#livraison button:has-text('Enregistrer')")


def test_addresses_and_contact_option_are_saved_and_bad_ones_explained(console, page):
    portal_login(page, console)
    emails = page.locator("input[name=email]")
    expect(emails).to_have_count(5)
    expect(emails.nth(0)).to_have_value(CMA[1])  # the delivery file's address, until the CFA saves
    expect(page.locator("input[name=contact_in_email]")).to_be_checked()

    emails.nth(1).fill("secretariat@mq-cma")
    page.uncheck("input[name=contact_in_email]")
    save(page)
    expect(page.locator("p.field-error[data-field='email.1']")).to_contain_text("n'est pas une adresse e-mail valide")
    expect(emails.nth(1)).to_have_value("secretariat@mq-cma")  # what was typed is kept
    assert delivery().emails == (CMA[1],) and delivery().contact_in_email  # nothing saved

    emails.nth(1).fill("Secretariat@MQ-CMA.example")
    emails.nth(2).fill("leads@mq-cma.example")  # a duplicate, dropped
    save(page)
    expect(page.locator("#done")).to_contain_text("Réglages enregistrés")
    expect(emails.nth(1)).to_have_value("Secretariat@mq-cma.example")
    expect(emails.nth(2)).to_have_value("")
    expect(page.locator("input[name=contact_in_email]")).not_to_be_checked()
    assert delivery().emails == (CMA[1], "Secretariat@mq-cma.example")
    assert delivery().contact_in_email is False

    for box in range(5):
        emails.nth(box).fill("")
    save(page)
    expect(page.locator("p.field-error[data-field=email]")).to_contain_text("au moins une adresse")
    assert len(delivery().emails) == 2


def test_webhook_secret_is_shown_once_then_rotated_with_an_overlap(console, page):
    portal_login(page, console)
    page.fill("input[name=webhook_url]", "http://crm.mq-cma.example/akto")
    save(page)
    expect(page.locator("p.field-error[data-field=webhook_url]")).to_contain_text("https:// obligatoire")
    assert delivery().webhook_url is None

    # A public address (an IP: this test machine has no DNS; names are resolved and checked the same way).
    page.fill("input[name=webhook_url]", PUBLIC_HOOK)
    save(page)
    first = page.locator("#secret-value").inner_text()
    assert delivery().webhook_url == PUBLIC_HOOK
    assert delivery().webhook_secrets == (first,)
    page.goto(f"{console.url}/cfa/reglages")
    expect(page.locator("#new-secret")).to_have_count(0)  # never shown again
    assert first not in page.content()
    expect(page.locator("#livraison")).to_contain_text("Un secret est défini")

    with page.expect_navigation():
        page.click("button:has-text('Générer un nouveau secret')")
    second = page.locator("#secret-value").inner_text()
    assert second != first
    expect(page.locator("#new-secret")).to_contain_text("L'ancien secret reste valable jusqu'au")
    assert delivery().webhook_secrets == (second, first)  # both sign calls during the overlap


def test_a_webhook_towards_our_own_services_is_refused_with_a_clear_message(console, page):
    portal_login(page, console)
    for url in ("http://127.0.0.1:5055/webhook", "https://127.0.0.1:5005/webhooks/rest/webhook",
                "https://localhost/hook", "https://192.168.1.10/hook", "https://169.254.169.254/latest/meta-data"):
        page.fill("input[name=webhook_url]", url)
        save(page)
        expect(page.locator("p.field-error[data-field=webhook_url]")).to_contain_text(
            "https:// obligatoire" if url.startswith("http:") else "adresse interne ou réservée")
        expect(page.locator("input[name=webhook_url]")).to_have_value(url)  # what was typed is kept
        assert delivery().webhook_url is None


def propose_cleaning_cap(page, console, note: str) -> None:
    """The CFA proposes, in its portal: hairdressing removed, a cleaning CAP added."""
    portal_login(page, console)
    row = page.locator("#training-form .table-row", has=page.locator("input[value='CAP Métiers de la coiffure']"))
    row.locator("input[type=checkbox]").check()
    blank = page.locator("#training-form .table-row.new-row").first
    blank.locator("select[name^=rome]").select_option("K2204")
    blank.locator("input[name^=diploma]").fill("CAP Propreté de l'environnement urbain")
    blank.locator("select[name^=level]").select_option("3")
    page.fill("textarea[name=note]", note)
    with page.expect_navigation():
        page.click("button:has-text('Envoyer la proposition')")
    expect(page.locator("#pending")).to_be_visible()


def test_a_training_proposal_shows_as_pending_with_its_changes(console, page):
    propose_cleaning_cap(page, console, "Ouverture à la rentrée 2027")
    table = page.locator("#current-trainings")
    pending = page.locator("#pending")
    expect(pending).to_contain_text("en attente de validation")
    expect(pending).to_contain_text("ajout : ")
    expect(pending).to_contain_text("CAP Propreté de l'environnement urbain (niveau 3)")
    expect(pending).to_contain_text("retrait : ")
    expect(table).to_contain_text("CAP Métiers de la coiffure")  # the catalogue is unchanged until AKTO approves

    # A bad row is explained next to it and nothing is sent.
    blank = page.locator("#training-form .table-row.new-row").first
    blank.locator("select[name^=rome]").select_option("K2204")
    with page.expect_navigation():
        page.click("button:has-text('Envoyer la proposition')")
    expect(page.locator("#training-form p.field-error")).to_contain_text("Indique le diplôme préparé")
    with session_scope() as session:
        assert len(proposals.pending(session)) == 1
