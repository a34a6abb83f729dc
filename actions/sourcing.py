"""The "Source : …, vérifié le …" line every figure or rule ends with.

One place so that no answer can state a fact without it, and so that a fact past
its review date is still given but marked "à vérifier".
"""

from __future__ import annotations

from datetime import date

from akto_data.catalogue.queries import Sourced
from akto_data.i18n import long_date
from akto_data.i18n import text as t


def source_lines(*facts: Sourced | None, today: date | None = None) -> str:
    present = [f for f in facts if f is not None]
    if not present:
        raise ValueError("an answer with a figure needs a source")
    sources = " ; ".join(dict.fromkeys(f.source for f in present))
    oldest = min(f.verified_on for f in present)
    lines = [t("catalogue.source", source=sources, verified_on=long_date(oldest))]
    if any(f.stale(today) for f in present):
        lines.append(t("catalogue.to_check", verified_on=long_date(oldest)))
    return "\n".join(lines)
