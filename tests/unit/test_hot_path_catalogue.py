"""The action server keeps the catalogue in memory until someone publishes (issue 14, hot path).

What a young person would notice if it were wrong: an answer changed in the staff console,
or by an import of ``content/``, still answered the old way by the bot. The publication
is made by another process (the console and ``make content-import`` are not the action
server), on SQLite and on the machine's PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswerFaq
from akto_data.catalogue.cache import CachedCatalogue, cached_catalogue
from akto_data.catalogue.queries import Catalogue
from akto_data.db import session_scope
from akto_data.settings import CONTENT_DIR, PROJECT_ROOT

TOPIC = "ask_apprenticeship_age"


def faq_tracker(topic: str = TOPIC) -> Tracker:
    latest = {"intent": {"name": topic, "confidence": 1.0}, "entities": [], "text": "x"}
    return Tracker("c", {}, latest, [], False, None, {}, "")


async def faq_answer() -> str:
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, faq_tracker(), {})
    return dispatcher.messages[0]["text"]


def in_another_process(code: str, database_url: str) -> None:
    """Run ``code`` in a new Python process on the same database, as the console would."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin",
                                            "PYTHONPATH": str(PROJECT_ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr


CONSOLE_PUBLISH = """
    from akto_data.catalogue.publishing import publish, running_documents
    from akto_data.db import session_scope
    with session_scope() as session:
        documents, _ = running_documents(session)
        for entry in documents["faq.yml"]["faq"]:
            if entry["topic"] == "ask_apprenticeship_age":
                entry["answer"] = "Réponse publiée depuis la console."
        assert publish(session, documents, author="staff@akto.test", summary="test") is not None
"""


async def check_publication_is_seen(database_url: str) -> None:
    assert "16 à 29 ans" in await faq_answer()
    assert "16 à 29 ans" in await faq_answer()  # from memory now
    in_another_process(CONSOLE_PUBLISH, database_url)
    assert "Réponse publiée depuis la console." in await faq_answer()


async def test_a_console_publication_is_answered_at_the_next_action_call(catalogue):
    await check_publication_is_seen(catalogue)


async def test_a_console_publication_is_answered_at_the_next_action_call_on_postgresql(catalogue_postgres):
    await check_publication_is_seen(catalogue_postgres)


async def test_an_import_of_content_is_answered_at_the_next_action_call(catalogue, tmp_path):
    assert "16 à 29 ans" in await faq_answer()
    content = tmp_path / "content"
    subprocess.run(["cp", "-r", str(CONTENT_DIR), str(content)], check=True)
    faq = content / "faq.yml"
    faq.write_text(faq.read_text(encoding="utf-8").replace("Tu peux être apprenti de 16 à 29 ans",
                                                           "Import : apprenti de 16 à 29 ans"), encoding="utf-8")
    in_another_process(f"""
        from pathlib import Path
        from akto_data.catalogue.importer import import_catalogue
        import_catalogue(Path({str(content)!r}))
    """, catalogue)
    assert "Import : apprenti de 16 à 29 ans" in await faq_answer()


def test_the_snapshot_is_read_once_per_version(catalogue):
    with session_scope() as session:
        first = cached_catalogue(session)
    with session_scope() as session:
        second = cached_catalogue(session)
    assert isinstance(first, CachedCatalogue) and isinstance(second, CachedCatalogue)
    assert first.snapshot is second.snapshot


def test_without_any_published_version_nothing_is_cached(sqlite_db):
    with session_scope() as session:
        assert type(cached_catalogue(session)) is Catalogue


def answers_of(catalogue: Catalogue) -> list[object]:
    """Every read the actions make, over the whole imported catalogue, as comparable values."""
    def rows(items: object) -> object:
        if isinstance(items, list):
            return [rows(i) for i in items]
        if isinstance(items, tuple):
            return tuple(rows(i) for i in items)
        if hasattr(items, "__table__"):
            return tuple(getattr(items, c.key) for c in items.__table__.columns)
        return items

    territories = [t.id for t in catalogue.territories()]
    romes = [o.rome for o in catalogue.all_occupations()]
    aids = [a.id for a in catalogue.aids()]
    out: list[object] = [rows(catalogue.territories()), rows(catalogue.all_occupations()), rows(catalogue.aids())]
    for territory in [*territories, "nowhere"]:
        out += [rows(catalogue.territory(territory)), rows(catalogue.occupations_taught(territory)),
                rows(catalogue.recruiting(territory))]
        for rome in romes:
            out += [rows(catalogue.recruitment(rome, territory)), rows(catalogue.cfas_teaching(rome, territory))]
    for rome in [*romes, "Z9999"]:
        out += [rows(catalogue.occupation(rome)), rows(catalogue.cfas_teaching(rome))]
    for aid in [*aids, "none"]:
        for on in (date(2020, 1, 1), date(2026, 6, 1), date.today(), date(2031, 1, 1)):
            amounts = catalogue.amounts_on(aid, on)
            out.append(None if amounts is None else
                       (rows(amounts.aid), amounts.items, amounts.period_start, amounts.period_end))
    for topic in {a.topic for a in catalogue.aids()} | {TOPIC, "ask_nothing"}:
        out += [rows(catalogue.aids_for_topic(topic)), catalogue.faq(topic)]
    for typed in ("jveu etre boulangere", "cuisinier", "aide soignante", "xyz"):
        out.append(rows(catalogue.occupation_named(typed)))
    out += [catalogue.document("quiz"), catalogue.recruitment_checked(),
            catalogue.apprentice_pay(20, 1, territories[0]), catalogue.apprentice_pay(17, 3, territories[-1])]
    return out


@pytest.mark.parametrize("database", ["catalogue", "catalogue_postgres"])
def test_the_cached_catalogue_answers_exactly_what_the_database_answers(database, request):
    request.getfixturevalue(database)
    with session_scope() as session:
        fresh = answers_of(Catalogue(session))
        cached = cached_catalogue(session)
        assert isinstance(cached, CachedCatalogue)
        assert answers_of(cached) == fresh
    with pytest.raises(LookupError), session_scope() as session:
        cached_catalogue(session).document("no such document")


def test_a_caller_changing_a_document_does_not_change_the_next_answer(catalogue):
    with session_scope() as session:
        cached_catalogue(session).document("apprentice_pay")["grid"].clear()
    with session_scope() as session:
        assert cached_catalogue(session).document("apprentice_pay")["grid"]
