"""``make content-export``: write the running catalogue (or an earlier version) as YAML files.

    python -m akto_data.catalogue.export                 # into content/ (each file keeps its top comments)
    python -m akto_data.catalogue.export --out /tmp/c --version 3

The database is what runs; this brings it back to ``content/`` for bulk edits and
review, and ``make content-import`` takes the files back: export → import → export
writes the same files. The private delivery settings are never written.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from akto_data.catalogue.documents import Documents, dump_yaml, leading_comments, write_files
from akto_data.catalogue.publishing import NoVersion, documents_of, running_documents, version
from akto_data.catalogue.schema import PUBLIC_FILES
from akto_data.settings import CONTENT_DIR


def documents_for(session: Session, number: int | None = None) -> tuple[Documents, int]:
    if number is None:
        documents, row = running_documents(session)
        return documents, row.number
    chosen = version(session, number)
    if chosen is None:
        raise NoVersion(f"version {number} inconnue")
    return documents_of(chosen), chosen.number


def zip_bytes(documents: Documents, header_dir: Path = CONTENT_DIR) -> bytes:
    """The public files as a zip (the console's download), top comments as content/ has them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in PUBLIC_FILES:
            if name in documents:
                archive.writestr(f"content/{name}", leading_comments(header_dir / name) + dump_yaml(documents[name]))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    from akto_data.db import create_schema, session_scope

    parser = argparse.ArgumentParser(description="Écrit le catalogue publié (la base) en fichiers YAML.")
    parser.add_argument("--out", type=Path, default=CONTENT_DIR)
    parser.add_argument("--version", type=int, default=None, help="une version précise (par défaut : celle en service)")
    args = parser.parse_args(argv)
    create_schema()
    try:
        with session_scope() as session:
            documents, number = documents_for(session, args.version)
    except NoVersion as exc:
        print(f"Rien à exporter : {exc}.")
        return 1
    written = write_files(documents, args.out)
    print(f"Version {number} écrite dans {args.out} : {', '.join(p.name for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
