"""Issue 11, part 2: content in the staff console — edit with the YAML checks, Telegram preview,
publish as a numbered version with its differences, restore, concurrent edits, YAML round trip.

The last test runs the console on the end-to-end database with the real Rasa stack and
the Telegram emulator: the assistant answers the published text, then the restored one.
"""

from __future__ import annotations

import re
import shutil
from datetime import date

from playwright.sync_api import expect

from tests.web.conftest import ADMIN, login

STAFF = ("sarah@akto.example", "Sarah Staff", "mot-de-passe-de-sarah")
NEW_POEC = "La POEC, c'est une formation courte et gratuite pour décrocher un emploi dans un métier qui recrute."


def add_staff(email: str = STAFF[0], name: str = STAFF[1], password: str = STAFF[2]) -> None:
    from akto_data.db import session_scope
    from akto_data.staff.accounts import create_account

    with session_scope() as session:
        create_account(session, email=email, name=name, role="staff", password=password, actor="test")


def open_entry(page, console, path: str, email: str = ADMIN[0], password: str = ADMIN[2]) -> None:
    login(page, console, email, password)
    page.wait_for_url(f"{console.url}/")
    page.goto(f"{console.url}{path}")


def publish(page) -> None:
    with page.expect_navigation():
        page.click("button[name=publish]")


def answer_of(topic: str) -> str:
    from akto_data.catalogue.queries import Catalogue
    from akto_data.db import session_scope

    with session_scope() as session:
        found = Catalogue(session).faq(topic)
    assert found is not None
    return found[0]


def test_faq_edit_refused_then_previewed_then_published_as_a_version_with_its_diff(console, page):
    add_staff()
    open_entry(page, console, "/contenu/faq", STAFF[0], STAFF[2])
    page.fill("input[name=q]", "POEC")
    with page.expect_navigation():
        page.click("button:has-text('Rechercher')")
    with page.expect_navigation():
        page.click("a:text-is('ask_poec')")
    old_answer = page.input_value("textarea[name=answer]")

    # Bad input: empty answer, review date before the verified date. Refused, French message next to each field.
    page.fill("textarea[name=answer]", "")
    page.fill("input[name=review_on]", "2026-01-01")
    publish(page)
    expect(page.locator("p.field-error[data-field=answer]")).to_contain_text("« answer » manquant")
    expect(page.locator("p.field-error[data-field=review_on]")).to_contain_text("review_on n'est pas après verified_on")
    assert answer_of("ask_poec") == old_answer  # nothing saved

    # Fixed, then previewed as Telegram will show it: text, source line, 👍/👎 buttons.
    page.fill("textarea[name=answer]", NEW_POEC)
    page.fill("input[name=review_on]", "2027-11-20")
    page.click("text=Aperçu Telegram")
    bubble = page.locator("#apercu .bubble").first
    expect(bubble).to_contain_text(NEW_POEC)
    expect(bubble).to_contain_text("Source : Code du travail, art. L6326-3")
    expect(bubble.locator(".tg-button")).to_have_text(["👍 Oui", "👎 Pas vraiment"])
    assert answer_of("ask_poec") == old_answer  # a preview saves nothing

    page.fill("input[name=_summary]", "POEC : réponse plus courte")
    publish(page)
    expect(page.locator("#published")).to_contain_text("version 2 en service")
    assert answer_of("ask_poec") == NEW_POEC

    page.goto(f"{console.url}/contenu/versions")
    first = page.locator("table.versions tbody tr").first
    expect(first).to_contain_text("POEC : réponse plus courte")
    expect(first).to_contain_text(STAFF[0])
    with page.expect_navigation():
        first.locator("a").first.click()
    expect(page.locator("ul.changes")).to_contain_text("faq.yml · ask_poec : modifié")
    inserted = " ".join(page.locator("table.diff ins").all_inner_texts())
    assert "courte et gratuite" in inserted and "emploi" in inserted
    assert "préparation opérationnelle" in " ".join(page.locator("table.diff del").all_inner_texts())

    # Restore version 1 in one click: a new version 3 with the old text; both audited.
    page.goto(f"{console.url}/contenu/versions")
    with page.expect_navigation():
        page.click("text=Restaurer la version 1")
    expect(page.locator("p.ok").first).to_contain_text("Version 1 restaurée")
    assert answer_of("ask_poec") == old_answer

    from akto_data.db import session_scope
    from akto_data.staff.audit import events

    with session_scope() as session:
        audited = [(e.actor, e.action, e.entity) for e in events(session) if e.action.startswith("content.")]
    assert (STAFF[0], "content.publish", "contenu version 2") in audited
    assert (STAFF[0], "content.restore", "contenu version 3") in audited


def test_two_staff_edit_the_same_entry_the_second_save_is_refused_with_the_others_change(console, browser, page):
    add_staff()
    open_entry(page, console, "/contenu/faq/ask_akto")
    other = browser.new_context(locale="fr-FR").new_page()
    open_entry(other, console, "/contenu/faq/ask_akto", STAFF[0], STAFF[2])

    page.fill("textarea[name=answer]", "AKTO, c'est l'OPCO des entreprises de services (version d'Adèle).")
    publish(page)
    expect(page.locator("#published")).to_be_visible()

    other.fill("textarea[name=answer]", "AKTO finance ton apprentissage (version de Sarah).")
    with other.expect_navigation():
        other.click("button[name=publish]")
    conflict = other.locator("#conflict")
    expect(conflict).to_contain_text("quelqu'un a modifié cette entrée")
    expect(conflict).to_contain_text(ADMIN[0])
    assert "(version d'Adèle)" in " ".join(conflict.locator("ins").all_inner_texts())
    assert "version d'Adèle" in answer_of("ask_akto")  # no silent overwrite
    assert other.input_value("textarea[name=answer]") == "AKTO finance ton apprentissage (version de Sarah)."

    # Having seen it, Sarah can publish on top of the running version on purpose.
    with other.expect_navigation():
        other.click("button[name=publish]")
    expect(other.locator("#published")).to_be_visible()
    assert "version de Sarah" in answer_of("ask_akto")
    other.context.close()


def test_aid_period_edit_closes_the_old_period_and_adds_a_new_amount(console, page):
    from akto_data.catalogue.queries import Catalogue
    from akto_data.db import session_scope

    open_entry(page, console, "/contenu/aides/state_driving_licence")
    periods = page.locator("fieldset.table").first.locator(":scope > .table-row:not(.new-row)")
    count = periods.count()
    assert count >= 1
    # An overlapping new period is refused next to its start date.
    new = f"amounts.{count}."
    page.fill(f"input[name='{new}start']", "2020-01-01")
    page.fill(f"input[name='{new}items.0.amount']", "600")
    page.select_option(f"select[name='{new}items.0.unit']", "once")
    publish(page)
    expect(page.locator(f"p.field-error[data-field='{new}start']")).to_contain_text("période")

    # Close the running period the day before, start the new one: published, answered on its date.
    page.fill(f"input[name='amounts.{count - 1}.end']", "2026-12-31")
    page.fill(f"input[name='{new}start']", "2027-01-01")
    publish(page)
    assert page.locator("#published").count() == 1, page.locator(".field-error, #global-errors").all_inner_texts()
    with session_scope() as session:
        catalogue = Catalogue(session)
        assert [i["amount"] for i in catalogue.amounts_on("state_driving_licence", date(2026, 6, 1)).items] == [500]
        assert [i["amount"] for i in catalogue.amounts_on("state_driving_licence", date(2027, 2, 1)).items] == [600]
    page.goto(f"{console.url}/contenu/versions/2")
    expect(page.locator("ul.changes")).to_contain_text("aids.yml · state_driving_licence : modifié")


def test_occupation_cfa_and_quiz_forms_open_and_preview(console, page):
    open_entry(page, console, "/contenu/metiers/K2503")
    page.select_option("select[name=_preview_territory]", "martinique")
    page.click("text=Aperçu Telegram")
    expect(page.locator("#apercu .bubble")).to_contain_text("recrute")
    page.goto(f"{console.url}/contenu/cfa/mq_cma")
    expect(page.locator("input[name=name]")).to_have_value(re.compile("Chambre de métiers"))
    page.goto(f"{console.url}/contenu/quiz")
    page.click("text=Aperçu Telegram")
    expect(page.locator("#apercu .bubble").first).to_contain_text("Question 1/10")
    # A claim without its year is refused next to the year.
    page.goto(f"{console.url}/contenu/metiers/K2503")
    page.fill("input[name='recruits.0.year']", "")
    publish(page)
    expect(page.locator("p.field-error[data-field='recruits.0.year']")).to_contain_text("année de la source manquante")


def test_private_delivery_settings_are_never_shown_or_exported(console, page):
    import io
    import zipfile

    from akto_data.catalogue.tables import CatCfaDelivery
    from akto_data.db import session_scope

    with session_scope() as session:
        secrets = [(d.email, d.webhook_secret) for d in session.query(CatCfaDelivery)]
    open_entry(page, console, "/contenu/cfa/mq_cma")
    html = page.content()
    archive = zipfile.ZipFile(io.BytesIO(page.request.get(f"{console.url}/contenu/export.zip").body()))
    exported = "".join(archive.read(name).decode() for name in archive.namelist())
    assert sorted(archive.namelist()) == sorted(f"content/{n}" for n in (
        "territories.yml", "occupations.yml", "aids.yml", "cfas.yml", "faq.yml", "quiz.yml", "apprentice_pay.yml"))
    for email, secret in secrets:
        assert email not in html and email not in exported
        assert not secret or (secret not in html and secret not in exported)
    # Publishing from the console keeps the delivery settings in force.
    page.fill("input[name=town]", "Fort-de-France (centre)")
    publish(page)
    with session_scope() as session:
        assert sorted((d.email, d.webhook_secret) for d in session.query(CatCfaDelivery)) == sorted(secrets)


def test_yaml_round_trip_is_exact(catalogue, tmp_path):
    """export → import → export: identical files, identical documents, no new version."""
    from akto_data.catalogue.export import main as export
    from akto_data.catalogue.importer import import_catalogue
    from akto_data.catalogue.publishing import latest, running_documents
    from akto_data.db import session_scope

    assert export(["--out", str(tmp_path / "one")]) == 0
    with session_scope() as session:
        before, row = running_documents(session)
    assert import_catalogue(tmp_path / "one").lines() == ["  rien n'a changé"]
    assert export(["--out", str(tmp_path / "two")]) == 0
    for path in sorted((tmp_path / "one").iterdir()):
        assert path.read_text() == (tmp_path / "two" / path.name).read_text(), path.name
    with session_scope() as session:
        after, same = running_documents(session)
        assert same.number == row.number and after == before and latest(session).number == 1
    assert not (tmp_path / "one" / "private").exists()
    # And an exported file edited by hand comes back as a new version.
    faq = tmp_path / "one" / "faq.yml"
    faq.write_text(faq.read_text().replace("La POEC (préparation", "La POEC (la préparation", 1))
    shutil.copy(tmp_path / "one" / "faq.yml", tmp_path / "faq.yml")
    assert "~1 modifié" in " ".join(import_catalogue(tmp_path / "one").lines())
    with session_scope() as session:
        assert latest(session).number == 2 and latest(session).source == "yaml"


def test_make_run_keeps_what_the_console_published(catalogue, tmp_path):
    """At start, content/ is imported only if the console published nothing since its last import."""
    from akto_data.catalogue.documents import KINDS, digest
    from akto_data.catalogue.importer import domain_topics
    from akto_data.catalogue.publishing import latest, publish_entry, running_documents, sync_at_start
    from akto_data.db import session_scope
    from akto_data.settings import CONTENT_DIR

    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    with session_scope() as session:
        assert "chargé" in sync_at_start(session, content, domain_topics())  # same content: nothing new
        assert latest(session).number == 1
    faq = content / "faq.yml"
    faq.write_text(faq.read_text().replace("La POEC (préparation", "La POEC (la préparation", 1))
    with session_scope() as session:  # content/ changed, nobody published from the console: imported
        assert "modifié depuis le dernier import" in sync_at_start(session, content, domain_topics())
        assert latest(session).number == 2
    with session_scope() as session:
        documents, row = running_documents(session)
        entry = dict(KINDS["faq"].find(documents, "ask_akto"))
        base = digest(entry)
        entry["answer"] = "Publié depuis la console."
        publish_entry(session, KINDS["faq"], "ask_akto", entry, base_hash=base, base_version=row.number,
                      author=ADMIN[0], topics=domain_topics())
    with session_scope() as session:  # content/ unchanged since: the console's version stays
        assert "la base est la référence" in sync_at_start(session, content, domain_topics())
        faq.write_text(faq.read_text().replace("La POEC (la préparation", "La POEC (une préparation", 1))
        assert "ATTENTION" in sync_at_start(session, content, domain_topics())  # both changed: nothing overwritten
        assert latest(session).number == 3
    assert answer_of("ask_akto") == "Publié depuis la console."
