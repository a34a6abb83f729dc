"""Issue 11, part 3: the inbox of messages not understood, and retraining — in a real browser.

The first tests need no Rasa. The last ones run a real Rasa (and the action server) on a
small training tree (tests/web/retrain_data: four topics, a TF-IDF pipeline that trains
in seconds, its own held-out set) given to the console through ``TRAINING_DATA_DIR``:
staff file messages in the browser, press "Réentraîner", and the same Rasa process
answers with the new model; a model that loses more than a point is refused and the old
one keeps answering.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from akto_data.settings import PROJECT_ROOT
from tests.web.conftest import ADMIN, free_port, login

DATA = Path(__file__).resolve().parent / "retrain_data"


def copy_training_tree(target: Path) -> Path:
    shutil.copytree(DATA, target)
    shutil.copytree(PROJECT_ROOT / "content", target / "content", ignore=shutil.ignore_patterns("private"))
    return target


@pytest.fixture
def training_root(tmp_path, monkeypatch) -> Path:
    root = copy_training_tree(tmp_path / "training")
    monkeypatch.setenv("TRAINING_DATA_DIR", str(root))
    return root


@pytest.fixture
def staff_console(training_root, console):
    return console


def seed(*messages: tuple[str, str | None, str, str | None, float | None], minutes_ago: int = 0) -> list[int]:
    """(text, territory, reason, guessed topic, confidence), newest first."""
    from akto_data.db import session_scope
    from akto_data.models import UnansweredMessage, utcnow
    from akto_data.review import record_unanswered

    ids = []
    with session_scope() as session:
        for age, (text, territory, reason, topic, confidence) in enumerate(messages):
            record_unanswered(session, text, reason, topic, confidence, territory)
            session.flush()
            row = session.query(UnansweredMessage).order_by(UnansweredMessage.id.desc()).first()
            row.created_at = utcnow() - timedelta(minutes=minutes_ago + age)
            ids.append(row.id)
    return ids


def staged(root: Path) -> dict[str, list[str]]:
    path = root / "nlu" / "staged" / "inbox.yml"
    if not path.exists():
        return {}
    return {block["intent"]: [line[2:] for line in block["examples"].splitlines()]
            for block in yaml.safe_load(path.read_text())["nlu"]}


def open_inbox(page, console, territory: str = "") -> None:
    login(page, console)
    page.wait_for_url(f"{console.url}/")
    page.goto(f"{console.url}/inbox" + (f"?territory={territory}" if territory else ""))


def test_similar_messages_are_grouped_newest_first_and_filtered_by_territory(staff_console, page):
    seed(("c koi la poec", "martinique", "fallback", "ask_akto", 0.21),
         ("c'est koi la POEC ?", "guadeloupe", "fallback", "ask_akto", 0.18),
         ("permis bateau c combien", "guadeloupe", "negative_feedback", "ask_poec", 0.64),
         ("permis bateau cest combien", "martinique", "fallback", "greet", 0.12))
    open_inbox(page, staff_console)
    groups = page.locator(".inbox-group")
    expect(groups).to_have_count(2)
    first, second = groups.nth(0), groups.nth(1)
    # Newest first: the poec messages were logged last.
    assert "2 messages" in first.locator("h2").inner_text()
    assert first.locator("td.text").all_inner_texts() == ["c koi la poec", "c'est koi la POEC ?"]
    assert "sujet deviné : ask_akto (0,20)" in first.locator("h2").inner_text()  # mean of 0.21 and 0.18
    assert second.locator("td.text").all_inner_texts() == ["permis bateau c combien", "permis bateau cest combien"]
    assert "👎" in second.inner_text() and "0,64" in second.inner_text()

    page.select_option("select[name=territory]", "guadeloupe")
    with page.expect_navigation():
        page.click("text=Filtrer")
    texts = page.locator("td.text").all_inner_texts()
    assert texts == ["c'est koi la POEC ?", "permis bateau c combien"]
    assert "guadeloupe" in page.url


def test_assigning_a_group_writes_the_staged_training_file(staff_console, training_root, page):
    seed(("la formation en groupe commence quand", "reunion", "fallback", "greet", 0.2),
         ("quand est ce que la formation en groupe commence", "reunion", "fallback", "greet", 0.22),
         ("tu fais quoi ce soir", "reunion", "fallback", "greet", 0.15),
         ("je suis Maëlys de Bras-Panon", "reunion", "fallback", "greet", 0.1))
    open_inbox(page, staff_console)
    group = page.locator(".inbox-group", has_text="formation en groupe")
    group.locator("select[name=topic]").select_option("ask_poec")
    with page.expect_navigation():
        group.locator("text=Affecter au sujet").click()
    expect(page.locator(".notice")).to_contain_text("2 exemple(s) ajouté(s)")
    assert staged(training_root) == {"ask_poec": ["la formation en groupe commence quand",
                                                  "quand est ce que la formation en groupe commence"]}
    assert "formation en groupe" not in page.locator("main").inner_text()  # handled: out of the inbox

    other = page.locator(".inbox-group", has_text="tu fais quoi ce soir")
    with page.expect_navigation():
        other.locator("text=Hors sujet").click()
    assert staged(training_root)["out_of_scope"] == ["tu fais quoi ce soir"]
    # A message with personal details is dismissed without entering the training data.
    with page.expect_navigation():
        page.locator(".inbox-group", has_text="Maëlys").locator("text=Ignorer").click()
    expect(page.locator(".inbox-group")).to_have_count(0)
    assert "Maëlys" not in str(staged(training_root))
    # The project's data check accepts what was written (no duplicate, no held-out sentence).
    page.goto(f"{staff_console.url}/admin/audit")
    assert all(action in page.content() for action in ("inbox.assign", "inbox.out_of_scope", "inbox.ignore"))


def test_a_held_out_sentence_is_refused_and_nothing_is_written(staff_console, training_root, page):
    seed(("je voudrais des infos sur la poec", "mayotte", "fallback", "ask_poec", 0.28))  # in tests/nlu/heldout.yml
    open_inbox(page, staff_console)
    page.select_option("select[name=topic]", "ask_poec")
    with page.expect_navigation():
        page.click("text=Affecter au sujet")
    error = page.locator(".inbox-group .field-error").inner_text()
    assert "jeux de test mis de côté" in error and "ne doit jamais servir à l'entraînement" in error
    assert staged(training_root) == {}
    assert page.locator("td.text").all_inner_texts() == ["je voudrais des infos sur la poec"]  # still to handle


def test_a_new_faq_topic_refuses_bad_input_then_writes_intent_examples_rule_and_answer(staff_console, training_root,
                                                                                       page):
    seed(("permis bateau c combien", "guyane", "fallback", "ask_poec", 0.2))
    open_inbox(page, staff_console)
    with page.expect_navigation():
        page.click("text=Nouveau sujet de FAQ…")
    page.fill("input[name=name]", "Permis Bateau")
    page.fill("input[name=label]", "Le permis bateau, ça coûte combien et où le passer ?")
    with page.expect_navigation():
        page.click("text=Créer le sujet")
    errors = " ".join(page.locator(".field-error").all_inner_texts())
    assert "minuscules" in errors and "trop long" in errors and "au moins 3 exemples" in errors
    assert "answer" in errors or "réponse" in errors
    assert not (training_root / "domain" / "staged").exists()  # nothing half-saved
    assert page.input_value("input[name=name]") == "Permis Bateau"

    page.fill("input[name=name]", "ask_permis_bateau")
    page.fill("input[name=label]", "Le permis bateau")
    page.fill("textarea[name=examples]", "prix du permis bateau\ncombien pour passer le permis bateau")
    page.fill("textarea[name=answer]", "Le permis bateau côtier coûte environ 400 €.")
    page.fill("input[name=source]", "service-public.fr, permis plaisance")
    with page.expect_navigation():
        page.click("text=Créer le sujet")
    expect(page.locator(".notice")).to_contain_text("Sujet ask_permis_bateau créé avec 3 exemple(s)")
    assert staged(training_root)["ask_permis_bateau"] == ["permis bateau c combien", "prix du permis bateau",
                                                          "combien pour passer le permis bateau"]
    domain = yaml.safe_load((training_root / "domain" / "staged" / "inbox.yml").read_text())
    assert domain["intents"] == ["ask_permis_bateau"]
    assert domain["responses"]["utter_topic_ask_permis_bateau"] == [{"text": "Le permis bateau"}]
    rules = yaml.safe_load((training_root / "stories" / "staged" / "inbox.yml").read_text())["rules"]
    assert rules[0]["steps"] == [{"intent": "ask_permis_bateau"}, {"action": "action_answer_faq"},
                                 {"action": "utter_ask_feedback"}]
    # The answer is published through the content path: a new content version, live in the catalogue.
    from akto_data.catalogue.publishing import latest
    from akto_data.catalogue.queries import Catalogue
    from akto_data.db import session_scope

    with session_scope() as session:
        answer, sourced = Catalogue(session).faq("ask_permis_bateau")
        version = latest(session)
        assert answer == "Le permis bateau côtier coûte environ 400 €." and sourced.source.startswith("service-public")
        assert version.author == ADMIN[0] and "ask_permis_bateau" in version.summary


# -- with a running Rasa -----------------------------------------------------------------

def train_small_model(models: Path) -> Path:
    """The small tree's model, trained once and cached by the hash of its data."""
    from stack.model import fingerprint

    target = PROJECT_ROOT / "models" / f"console-test-{fingerprint(DATA)}.tar.gz"
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        subprocess.run([str(PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"), "train", "--config", "config.yml",
                        "--domain", "domain", "--data", "nlu", "stories", "--out", str(target.parent),
                        "--fixed-model-name", target.name.removesuffix(".tar.gz")],
                       cwd=DATA, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
        shutil.rmtree(DATA / ".rasa", ignore_errors=True)
    models.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, models / target.name)
    return models / target.name


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory):
    """Rasa with the small model and the action server, on a database of this module."""
    import uvicorn

    from akto_data.catalogue.importer import import_catalogue
    from akto_data.db import create_schema, dispose_engines, session_scope
    from akto_data.settings import load_settings
    from akto_data.staff.accounts import create_account
    from stack.services import Stack
    from web.app import create_app
    from web.routes import auth

    base = tmp_path_factory.mktemp("retrain")
    root = copy_training_tree(base / "training")
    model = train_small_model(root / "models")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", f"sqlite:///{base / 'assistant.db'}")
        env.setenv("ASSISTANT_VAR_DIR", str(base / "var"))
        env.setenv("RASA_URL", f"http://127.0.0.1:{free_port()}")
        env.setenv("ACTION_SERVER_URL", f"http://127.0.0.1:{free_port()}/webhook")
        env.setenv("RASA_AUTH_TOKEN", secrets.token_urlsafe(24))
        env.setenv("ACTION_SERVER_TOKEN", secrets.token_urlsafe(24))
        env.setenv("TRAINING_DATA_DIR", str(root))
        dispose_engines()
        create_schema()
        import_catalogue()
        auth._attempts.clear()
        with session_scope() as session:
            create_account(session, email=ADMIN[0], name=ADMIN[1], role="admin", password=ADMIN[2], actor="test")
        settings = load_settings()
        with Stack(settings, log_dir=base / "log") as stack:
            stack.start(stack.action_server())
            rasa = stack.start(stack.rasa_server(model))
            stack.wait_healthy(timeout=300)
            app = create_app(settings)
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                   access_log=False))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            from tests.web.conftest import Console

            yield {"console": Console(f"http://127.0.0.1:{port}"), "app": app, "settings": settings, "rasa": rasa,
                   "root": root, "base": base}
            server.should_exit = True
            thread.join(10)
        dispose_engines()


def fresh_tree(small_stack, name: str) -> Path:
    """Each test stages into its own copy of the small tree (the models found running stay reachable)."""
    root = copy_training_tree(small_stack["base"] / name)
    shutil.copytree(small_stack["root"] / "models", root / "models", dirs_exist_ok=True)
    small_stack["app"].state.settings = replace(small_stack["app"].state.settings, training_dir=root)
    return root


def say(settings, text: str, sender: str = "inbox-test") -> str:
    response = httpx.post(f"{settings.rasa_url}/webhooks/rest/webhook",
                          json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return " ".join(item.get("text") or "" for item in response.json())


def running_model(settings) -> str:
    return httpx.get(f"{settings.rasa_url}/status", params={"token": settings.rasa_auth_token}).json()["model_file"]


def retrain_in_browser(page, console, timeout_ms: int = 150_000):
    page.goto(f"{console.url}/models")
    with page.expect_navigation():
        page.click("button:has-text('Réentraîner')")
    expect(page.locator(".job-step")).to_be_visible()  # progress shown, polled by htmx
    expect(page.locator(".job-running")).to_have_count(0, timeout=timeout_ms)
    page.wait_for_load_state()
    if not page.locator("#job .job-outcome").count():
        page.reload()  # htmx asked for a reload when the job ended; make sure it happened
    assert page.locator("#job .job-outcome").count(), page.locator("main").inner_text()


def test_inbox_assign_retrain_and_the_same_rasa_answers_with_the_new_model(small_stack, page):
    console, settings, rasa = small_stack["console"], small_stack["settings"], small_stack["rasa"]
    root = fresh_tree(small_stack, "accept")
    poec, bateau = "la formation en groupe commence quand", "le permis bateau c combien"
    assert "POEC" not in say(settings, poec) and "400 €" not in say(settings, bateau)
    seed((poec, "martinique", "fallback", "greet", 0.31),
         ("quand est ce que la formation en groupe commence", "martinique", "fallback", "greet", 0.28),
         (bateau, "guyane", "fallback", "ask_poec", 0.22))
    open_inbox(page, console)
    group = page.locator(".inbox-group", has_text="formation en groupe")
    group.locator("select[name=topic]").select_option("ask_poec")
    with page.expect_navigation():
        group.locator("text=Affecter au sujet").click()
    with page.expect_navigation():
        page.locator(".inbox-group", has_text=bateau).locator("text=Nouveau sujet de FAQ…").click()
    page.fill("input[name=name]", "ask_permis_bateau")
    page.fill("input[name=label]", "Le permis bateau")
    page.fill("textarea[name=examples]", "prix du permis bateau\ncombien pour passer le permis bateau\n"
                                         "permis bateau tarif")
    page.fill("textarea[name=answer]", "Le permis bateau côtier coûte environ 400 €.")
    page.fill("input[name=source]", "service-public.fr, permis plaisance")
    with page.expect_navigation():
        page.click("text=Créer le sujet")
    before, pid = running_model(settings), rasa.process.pid

    # Young people keep talking while the model is trained and swapped: none is dropped.
    answers: list[str] = []
    stop = threading.Event()

    def chat() -> None:
        while not stop.is_set():
            answers.append(say(settings, "salut", sender=f"during-{len(answers)}"))
            time.sleep(0.3)

    talker = threading.Thread(target=chat, daemon=True)
    talker.start()
    try:
        retrain_in_browser(page, console)
    finally:
        stop.set()
        talker.join(60)
    outcome = page.locator("#job .job-outcome").inner_text()
    assert "Chargé dans Rasa sans redémarrage" in outcome, outcome
    assert rasa.process.poll() is None and rasa.process.pid == pid  # no restart
    assert running_model(settings) != before and running_model(settings).startswith("console-")
    assert "La POEC, c'est une formation en groupe" in say(settings, poec, sender="after-1")
    faq = say(settings, bateau, sender="after-2")
    assert "400 €" in faq and "service-public.fr" in faq  # the new topic answers from the catalogue
    assert len(answers) >= 3 and all("Salut" in a for a in answers)

    loaded = page.locator("tr.model-row[data-status=loaded]")
    assert "en service" in loaded.inner_text() and "macro-F1" in loaded.locator("td").nth(4).inner_text()
    assert "macro-F1" in loaded.locator("td").nth(5).inner_text()  # compared with the running model's figures
    assert list((root / "models").glob("assistant-*.tar.gz"))  # make run's cache name: a restart keeps it

    # Any earlier model can be put back: the model found running at start.
    startup = page.locator("tr.model-row[data-status=startup]")
    with page.expect_navigation():
        startup.locator("text=Remettre en service").click()
    expect(page.locator("p.ok")).to_contain_text("remis en service")
    assert running_model(settings) == before and rasa.process.pid == pid
    assert "400 €" not in say(settings, bateau, sender="after-3")


def test_a_model_that_loses_more_than_a_point_is_refused_and_the_old_one_keeps_answering(small_stack, page):
    console, settings = small_stack["console"], small_stack["settings"]
    root = fresh_tree(small_stack, "refuse")
    before = running_model(settings)
    assert "Je ne sais pas répondre" in say(settings, "quel temps fait il demain", sender="oos-before")
    # Staff file weather questions under "AKTO" by mistake: out-of-scope detection drops.
    seed(("quel temps fait il ce soir", None, "fallback", "out_of_scope", 0.4),
         ("quel temps fait il demain matin", None, "fallback", "out_of_scope", 0.4),
         ("quel temps fait il a fort de france", None, "fallback", "out_of_scope", 0.4),
         ("il fait quel temps demain", None, "fallback", "out_of_scope", 0.4))
    open_inbox(page, console)
    page.locator(".inbox-group").first.locator("select[name=topic]").select_option("ask_akto")
    with page.expect_navigation():
        page.locator(".inbox-group").first.locator("text=Affecter au sujet").click()
    assert len(staged(root)["ask_akto"]) >= 3

    retrain_in_browser(page, console)
    outcome = page.locator("#job .job-outcome").inner_text()
    assert "Modèle refusé" in outcome and "le modèle en service reste en place" in outcome, outcome
    assert re.search(r"(hors-sujet détectés|macro-F1) sur heldout\.yml : \d,\d{3} au lieu de \d,\d{3}", outcome)
    assert page.locator("tr.model-row[data-status=refused]").count() == 1
    assert running_model(settings) == before
    assert "Je ne sais pas répondre" in say(settings, "quel temps fait il demain", sender="oos-after")
