"""The "Source : …, vérifié le …" line every figure or rule ends with.

Built in :mod:`akto_data.catalogue.answers` (the staff console's preview calls the same
function); kept importable from here for the actions.
"""

from __future__ import annotations

from akto_data.catalogue.answers import source_lines

__all__ = ["source_lines"]
