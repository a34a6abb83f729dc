"""One unit of work per action run: one database session for every read it makes.

Plain actions open it in ``run`` and pass the :class:`Catalogue` down. Form
validation is different: rasa-sdk calls ``required_slots`` and each ``validate_<slot>``
with fixed signatures, so :class:`UnitOfWorkMixin` opens the session around the whole
run and the methods reach it through :func:`current` (a context variable: concurrent
requests of the action server each see their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from akto_data.catalogue.cache import cached_catalogue
from akto_data.catalogue.queries import Catalogue
from akto_data.db import session_scope

_current: ContextVar[Catalogue | None] = ContextVar("catalogue", default=None)


@contextmanager
def unit_of_work() -> Iterator[Catalogue]:
    """A session for one action run (committed at the end, rolled back on error).

    The catalogue is the one the action server keeps in memory while no one publishes
    (:func:`akto_data.catalogue.cache.cached_catalogue`: one version check per run)."""
    with session_scope() as session:
        catalogue = cached_catalogue(session)
        token = _current.set(catalogue)
        try:
            yield catalogue
        finally:
            _current.reset(token)


def current() -> Catalogue:
    """The catalogue of the running action's unit of work."""
    catalogue = _current.get()
    if catalogue is None:
        raise RuntimeError("no unit of work: open one with unit_of_work() in the action's run")
    return catalogue


class UnitOfWorkMixin:
    """For rasa-sdk actions whose methods have fixed signatures (form validation)."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        with unit_of_work():
            return await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
