"""A shared Telegram location turned into one of our territories, and nothing kept of it.

The areas are circles (a centre and a radius, ``content/territories.yml``, imported as the
catalogue document ``territory_areas``): crude, but our territories are islands or far
apart, and the young person confirms with a button before anything is set. The
coordinates only pass through :func:`place_at`: they are never logged, never sent to
Rasa, never written to the database (personal data: where someone is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from akto_data.catalogue.queries import Catalogue
from akto_data.db import session_scope

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Place:
    """The territory a location falls in."""

    id: str
    in_the: str  # "en Martinique"
    #: Mainland France: a destination, never a home territory (the buttons do not offer it).
    destination_only: bool


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), good to well under a kilometre at our radii."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def nearest_area(areas: dict[str, dict[str, float]], lat: float, lon: float) -> str | None:
    """The id of the nearest centre whose radius contains the point, or ``None`` (the ocean, elsewhere)."""
    inside = [(distance_km(lat, lon, a["lat"], a["lon"]), tid) for tid, a in areas.items()
              if distance_km(lat, lon, a["lat"], a["lon"]) <= a["radius_km"]]
    return min(inside)[1] if inside else None


def place_at(lat: float, lon: float) -> Place | None:
    """The territory at ``(lat, lon)`` from the published catalogue, or ``None``."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    with session_scope() as session:
        catalogue = Catalogue(session)
        try:
            areas = catalogue.document("territory_areas")
        except LookupError:  # a catalogue imported before the areas existed
            return None
        found = nearest_area(areas, lat, lon)
        row = catalogue.territory(found) if found else None
        return Place(row.id, row.in_the, bool(row.destination_only)) if row else None
