"""What our launcher changes inside the Rasa server process before Rasa starts.

``stack.services.RASA_WITH_TOKEN`` calls :func:`install` in every Rasa server it
starts (embedded default and production topology). A plain ``rasa run`` of the same
model does not, which is what ``make load`` compares us with. This package is left
out of the model fingerprint (``stack.model.SERVING_ONLY``): training never loads it.
"""

from __future__ import annotations


def install() -> None:
    """Install every serving-time change; each module says why it exists."""
    from rasa_components.serving import hot_path, idempotency

    hot_path.install()
    idempotency.install()
