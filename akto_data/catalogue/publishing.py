"""Publishing the catalogue: numbered versions, restore, concurrent edits, start-up policy.

Source of truth: **the database is what runs**. Every publish — an entry saved in the
staff console, a version restored, or ``content/`` imported (``make content-import``) —
goes through the same all-or-nothing import (:func:`.importer.replace_tables`) after
the same schema checks, and is recorded as a new :class:`ContentVersion` holding the
whole public document set, with its author, date, summary and readable differences.
``content/`` is the bulk-edit and review format: ``make content-export`` (or the
console's download) writes the running version back as YAML, and export → import →
export gives the same files.

At start (:func:`sync_at_start`, called by ``make run``) ``content/`` is imported only
when the database has no version yet, or when ``content/`` changed since its last
import *and* nobody published from the console since; otherwise the running version
stays and the start-up says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from akto_data.catalogue.documents import (
    Documents,
    Kind,
    diff,
    digest,
    files_digest,
    from_json,
    public_only,
    replace_entry,
    summarise,
    to_json,
)
from akto_data.catalogue.importer import ImportReport, replace_tables
from akto_data.catalogue.schema import (
    EXAMPLE_DELIVERY,
    PRIVATE_DELIVERY,
    Catalogue,
    Checker,
    check_delivery,
    check_documents,
    read_documents,
)
from akto_data.catalogue.tables import CatCfa, CatCfaDelivery
from akto_data.catalogue.version_models import ContentVersion
from akto_data.catalogue.yamlsource import ContentError, ContentFileError, read
from akto_data.staff.audit import record

ACTIONS = {"console": "content.publish", "restore": "content.restore", "yaml": "content.import"}


class PublishRefused(Exception):
    """The documents break a schema rule: nothing was written."""

    def __init__(self, errors: list[ContentError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class EditConflict(Exception):
    """Someone published a change of the same entry since the form was opened."""

    def __init__(self, current: dict[str, Any] | None, by: ContentVersion | None, changes: list[dict[str, Any]]) -> None:
        super().__init__("entrée modifiée entre-temps")
        self.current = current
        self.by = by
        self.changes = changes


class NoVersion(LookupError):
    """Nothing was ever published (import content/ first)."""


@dataclass(frozen=True)
class Published:
    version: ContentVersion
    report: ImportReport


def latest(session: Session) -> ContentVersion | None:
    return session.scalars(select(ContentVersion).order_by(ContentVersion.number.desc()).limit(1)).first()


def version(session: Session, number: int) -> ContentVersion | None:
    return session.get(ContentVersion, number)


def versions(session: Session, limit: int = 200) -> list[ContentVersion]:
    return list(session.scalars(select(ContentVersion).order_by(ContentVersion.number.desc()).limit(limit)))


def documents_of(row: ContentVersion) -> Documents:
    """A version's documents as the checks and the YAML writer take them (dates as dates)."""
    return from_json(row.documents)


def running_documents(session: Session) -> tuple[Documents, ContentVersion]:
    row = latest(session)
    if row is None:
        raise NoVersion("aucune version publiée : importer content/ (make content-import)")
    return documents_of(row), row


def check(documents: Documents, topics: set[str] | None) -> tuple[Catalogue, list[ContentError]]:
    """The schema checks of the YAML import, on a document set (delivery settings kept)."""
    return check_documents(documents, topics, None)


def _record(session: Session, documents: Documents, report: ImportReport, *, author: str, summary: str,
            source: str, restored_from: int | None = None, digest_of_files: str | None = None,
            previous: ContentVersion | None) -> ContentVersion:
    changes = diff(documents_of(previous) if previous else None, documents)
    number = (previous.number + 1) if previous else 1
    row = ContentVersion(number=number, author=author, summary=summary.strip() or summarise(changes), source=source,
                         restored_from=restored_from, documents=to_json(public_only(documents)), changes=changes,
                         files_digest=digest_of_files)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # another publish took this number first
        raise EditConflict(None, latest(session), []) from exc
    record(session, author, ACTIONS[source], f"contenu version {number}",
           {"version": previous.number} if previous else None,
           {"version": number, "summary": row.summary, "changes": summarise(changes)}, detail=row.summary)
    return row


def publish(session: Session, documents: Documents, *, author: str, summary: str = "", source: str = "console",
            topics: set[str] | None = None, restored_from: int | None = None) -> Published | None:
    """Check, import all or nothing, record a new version; None when nothing changed."""
    documents = public_only(documents)
    catalogue, errors = check(documents, topics)
    if errors:
        raise PublishRefused(errors)
    previous = latest(session)
    if previous is not None and to_json(documents) == previous.documents:
        return None
    report = replace_tables(session, catalogue)
    row = _record(session, documents, report, author=author, summary=summary, source=source,
                  restored_from=restored_from, previous=previous)
    return Published(row, report)


def import_documents(session: Session, documents: Documents, catalogue: Catalogue, *, author: str,
                     files_digest: str) -> ImportReport:
    """The YAML import's last step (already checked): tables replaced, a version when the documents changed."""
    report = replace_tables(session, catalogue)
    previous = latest(session)
    documents = public_only(documents)
    if previous is None or to_json(documents) != previous.documents:
        _record(session, documents, report, author=author, summary="", source="yaml",
                digest_of_files=files_digest, previous=previous)
    elif previous.source == "yaml":
        previous.files_digest = files_digest  # same content, reformatted files
    return report


def restore(session: Session, number: int, *, author: str, topics: set[str] | None = None) -> Published | None:
    """Publish the documents of version ``number`` again, as a new version."""
    row = version(session, number)
    if row is None:
        raise NoVersion(f"version {number} inconnue")
    return publish(session, documents_of(row), author=author, summary=f"Retour à la version {number}",
                   source="restore", topics=topics, restored_from=number)


def publish_entry(session: Session, kind: Kind, key: str | None, entry: dict[str, Any] | None, *, base_hash: str,
                  base_version: int | None, author: str, summary: str = "",
                  topics: set[str] | None = None) -> Published | None:
    """Publish one entry edited in a form (``key`` None: a new entry; ``entry`` None: removed).

    ``base_hash`` is :func:`digest` of the entry as the form showed it (empty for a new
    one): if the running entry differs, someone published it meanwhile and the save is
    refused with their change (:class:`EditConflict`), never silently overwritten.
    """
    documents, running = running_documents(session)
    lookup = key if key is not None else (kind.key_of(entry) if entry is not None else None)
    current = kind.find(documents, lookup) if lookup else None
    current_hash = digest(current) if current is not None else ""
    if current_hash != base_hash:
        raise EditConflict(current, last_change_of(session, kind, lookup or "", base_version),
                           entry_changes(session, kind, lookup or "", base_version, current))
    return publish(session, replace_entry(documents, kind, key, entry), author=author, summary=summary,
                   topics=topics)


def last_change_of(session: Session, kind: Kind, key: str, since: int | None) -> ContentVersion | None:
    """The newest version after ``since`` whose changes touch this entry."""
    query = select(ContentVersion).order_by(ContentVersion.number.desc())
    if since is not None:
        query = query.where(ContentVersion.number > since)
    for row in session.scalars(query):
        if any(c["file"] == kind.file and (kind.list_key is None or c["entry"] == key) for c in row.changes):
            return row
    return None


def entry_changes(session: Session, kind: Kind, key: str, base_version: int | None,
                  current: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Field by field, what changed in the entry between the form's version and now."""
    base_row = version(session, base_version) if base_version else None
    before = kind.find(documents_of(base_row), key) if base_row else None
    changes = diff({kind.file: {"x": [before] if before else []}}, {kind.file: {"x": [current] if current else []}})
    return [field for change in changes for field in change["fields"]] or \
        [{"path": "(entrée)", "before": before is not None, "after": current is not None}]


# -- start-up --------------------------------------------------------------------------------------------------------
def sync_at_start(session: Session, directory: Path, topics: set[str] | None) -> str:
    """What ``make run`` does with ``content/``; returns what to tell the operator.

    - no version yet: import ``content/`` (version 1);
    - ``content/`` equals the running version: nothing;
    - ``content/`` changed since its last import and nobody published from the console
      since: import it (a new version);
    - otherwise the console's version keeps running (never overwritten at start): the
      message says how to export it, or to import ``content/`` on purpose.
    The private delivery settings are read again in every case.
    """
    documents, delivery, errors = read_documents(directory)
    if errors:
        raise ContentFileError(errors)
    running = latest(session)
    digest_now = files_digest(directory)
    if running is None or to_json(public_only(documents)) == running.documents:
        catalogue, problems = check_documents(documents, topics, delivery)
        if problems:
            raise ContentFileError(problems)
        report = import_documents(session, documents, catalogue, author="make run (content/)", files_digest=digest_now)
        return "Catalogue (content/) chargé :\n" + "\n".join(report.lines())
    last_yaml = session.scalars(select(ContentVersion).where(ContentVersion.source == "yaml")
                                .order_by(ContentVersion.number.desc()).limit(1)).first()
    console_since = running.source != "yaml"
    yaml_changed = last_yaml is None or last_yaml.files_digest != digest_now
    if yaml_changed and not console_since:
        catalogue, problems = check_documents(documents, topics, delivery)
        if problems:
            raise ContentFileError(problems)
        report = import_documents(session, documents, catalogue, author="make run (content/)", files_digest=digest_now)
        return "Catalogue (content/) modifié depuis le dernier import, chargé :\n" + "\n".join(report.lines())
    refresh_delivery(session, directory)
    who = f"version {running.number} publiée par {running.author} le {running.published_at:%d/%m/%Y %H:%M}"
    if yaml_changed:
        return (f"ATTENTION : content/ a changé ET la console a publié depuis ({who}). Rien n'est écrasé : la base "
                "reste en service. Pour prendre content/ quand même : make content-import (la version actuelle "
                "reste restaurable) ; pour mettre content/ à jour depuis la base : make content-export.")
    return (f"Catalogue : {who} (la base est la référence ; content/ est plus ancien : make content-export "
            "pour le mettre à jour).")


def refresh_delivery(session: Session, directory: Path) -> None:
    """Read the private delivery settings again, for the CFAs published (others are ignored)."""
    for name in (PRIVATE_DELIVERY, EXAMPLE_DELIVERY):
        path = directory / name
        if path.exists():
            break
    else:
        return
    data = read(path)
    cfas = set(session.scalars(select(CatCfa.id)))
    if isinstance(data, dict) and isinstance(data.get("cfa_delivery"), dict):
        data["cfa_delivery"] = {k: v for k, v in data["cfa_delivery"].items() if k in cfas}
    checker = Checker(name)
    settings = check_delivery(data, checker, cfas)
    if checker.errors:
        raise ContentFileError(checker.errors)
    for row in session.scalars(select(CatCfaDelivery)):
        session.delete(row)
    session.flush()
    session.add_all(CatCfaDelivery(cfa_id=cfa_id, email=s["email"], webhook_url=s.get("webhook_url"),
                                   webhook_secret=s.get("webhook_secret")) for cfa_id, s in settings.items())
