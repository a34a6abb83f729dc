"""``make content-check``: everything staff need to know before importing content.

1. every content file against its schema (errors name file, line, entry and fix);
2. facts past their review date, and facts still marked ``to_verify``;
3. NLU examples of one topic that collide with another topic's examples (the
   assistant could not tell them apart);
4. ``rasa data validate`` on the domain, NLU data and stories.
Exit 1 if anything must be fixed; stale facts are listed but do not fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from datetime import date
from itertools import combinations
from pathlib import Path

from akto_data.catalogue.importer import domain_topics
from akto_data.catalogue.schema import Catalogue, load_catalogue
from akto_data.catalogue.yamlsource import ContentFileError
from akto_data.nlu_examples import read_examples
from akto_data.settings import CONTENT_DIR, PROJECT_ROOT


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text).split())


def stale_facts(catalogue: Catalogue, today: date) -> list[str]:
    found = []
    entries = [("aids.yml", a.get("id"), a) for a in catalogue.aids] + \
              [("cfas.yml", c.get("id"), c) for c in catalogue.cfas] + \
              [("faq.yml", f.get("topic"), f) for f in catalogue.faq] + \
              [("apprentice_pay.yml", "grille", catalogue.pay)]
    for file, entry, row in entries:
        if row.get("review_on") and row["review_on"] < today:
            found.append(f"{file}:{getattr(row, 'line', 0)} [{entry}] à revérifier depuis le {row['review_on']} "
                         f"(vérifié le {row.get('verified_on')}) → contrôler la source puis mettre à jour verified_on "
                         f"et review_on")
    return found


def to_verify(catalogue: Catalogue) -> list[str]:
    rows = [("aids.yml", a.get("id"), a) for a in catalogue.aids] + [("cfas.yml", c.get("id"), c) for c in catalogue.cfas] \
        + [("faq.yml", f.get("topic"), f) for f in catalogue.faq]
    return [f"{file}:{getattr(row, 'line', 0)} [{entry}] marqué to_verify (une seule source)"
            for file, entry, row in rows if row.get("to_verify")]


def colliding_examples(nlu_dir: Path, threshold: float = 0.85) -> list[str]:
    """Examples identical (after normalising) or nearly so under two different topics."""
    examples = [(normalise(e.text), e.intent, e.file) for e in read_examples(sorted(nlu_dir.rglob("*.yml")))]
    problems: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    for text, intent, file in examples:
        if text in seen and seen[text][0] != intent:
            problems.append(f"{file} : « {text} » est à la fois dans {seen[text][0]} et {intent} → le garder dans un seul sujet")
        seen.setdefault(text, (intent, file))

    def grams(text: str) -> set[str]:
        padded = f" {text} "
        return {padded[i:i + 3] for i in range(len(padded) - 2)}

    long_enough = [(t, i, f, grams(t)) for t, i, f in examples if len(t) >= 12]
    for (t1, i1, f1, g1), (t2, i2, f2, g2) in combinations(long_enough, 2):
        if i1 != i2 and t1 != t2 and len(g1 & g2) / len(g1 | g2) >= threshold:
            problems.append(f"{f1}/{f2} : « {t1} » ({i1}) ressemble trop à « {t2} » ({i2}) → reformuler ou déplacer")
    return problems


def main() -> int:
    failed = False
    print("1. Fichiers de contenu (content/)")
    try:
        catalogue = load_catalogue(CONTENT_DIR, domain_topics())
        print("   OK : schéma, sources et dates")
    except ContentFileError as exc:
        failed = True
        catalogue = None
        for error in exc.errors:
            print(f"   ERREUR {error}")
    if catalogue is not None:
        print("2. Faits à revérifier")
        stale = stale_facts(catalogue, date.today())
        for line in stale:
            print(f"   {line}")
        print(f"   {len(stale)} fait(s) dont la date de révision est passée (répondus avec « à vérifier »)")
        pending = to_verify(catalogue)
        print(f"   {len(pending)} entrée(s) marquées to_verify (voir le fichier pour la liste)")
    print("3. Exemples qui se confondent entre sujets (nlu/)")
    collisions = colliding_examples(PROJECT_ROOT / "nlu")
    for line in collisions:
        print(f"   ERREUR {line}")
    failed |= bool(collisions)
    print(f"   {len(collisions)} collision(s)")
    print("4. rasa data validate")
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"), "data", "validate", "--domain", "domain", "--data",
         "nlu", "stories", "--config", "config.yml"], cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    if result.returncode != 0:
        failed = True
        print("   ERREUR\n" + "\n".join(result.stdout.splitlines()[-15:] + result.stderr.splitlines()[-15:]))
    else:
        print("   OK")
    print("\nRÉSULTAT : " + ("à corriger avant import" if failed else "tout est bon, tu peux importer (make content-import)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
