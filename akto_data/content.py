"""Read-only access to the content files in ``content/`` (data with a schema).

Loaded once per process and cached; staff edit the YAML files, and the import
into the database and the schema checks are in the catalogue commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from akto_data.settings import PROJECT_ROOT

CONTENT_DIR = PROJECT_ROOT / "content"


@lru_cache(maxsize=32)
def load_yaml(name: str, directory: Path = CONTENT_DIR) -> Any:
    with (directory / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@dataclass(frozen=True)
class Territory:
    id: str
    name: str
    in_the: str
    locale: str
    timezone: str
    destination_only: bool = False


@lru_cache(maxsize=1)
def territories() -> dict[str, Territory]:
    return {row["id"]: Territory(**row) for row in load_yaml("territories.yml")["territories"]}
