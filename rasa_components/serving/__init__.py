"""What our launcher changes inside the Rasa server process before Rasa starts.

``stack.services.RASA_WITH_TOKEN`` calls :func:`install` in every Rasa server it
starts (embedded default and production topology). A plain ``rasa run`` of the same
model does not, which is what ``make load`` compares us with.
"""

from __future__ import annotations


def install() -> None:
    """Install the Rasa hot-path changes (issue 14); each one says why where it is made."""
