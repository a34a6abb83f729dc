"""A shared location matched to our territories (content/territories.yml areas, as imported)."""

from __future__ import annotations

import copy

import pytest

from akto_data.catalogue.importer import CONTENT_DIR
from akto_data.catalogue.schema import check_documents, read_documents
from bot.location import distance_km, place_at

#: Public places, (latitude, longitude) in decimal degrees, and the territory a young person there lives in.
PLACES = [
    ("Fort-de-France", 14.6037, -61.0731, "martinique"),
    ("Grand-Rivière", 14.8727, -61.1776, "martinique"),
    ("Pointe-à-Pitre", 16.2411, -61.5331, "guadeloupe"),
    ("Grand-Bourg (Marie-Galante)", 15.8833, -61.3167, "guadeloupe"),
    ("Cayenne", 4.9372, -52.3260, "guyane"),
    ("Maripasoula", 3.6406, -54.0286, "guyane"),
    ("Saint-Denis (La Réunion)", -20.8823, 55.4504, "reunion"),
    ("Saint-Philippe", -21.3589, 55.7667, "reunion"),
    ("Mamoudzou", -12.7806, 45.2278, "mayotte"),
    ("Marigot", 18.0678, -63.0825, "saint_martin"),
    ("Gustavia", 17.8962, -62.8498, "saint_barthelemy"),
    ("Paris", 48.8566, 2.3522, "hexagone"),
    ("Brest", 48.3904, -4.4861, "hexagone"),
]
NOWHERE = [
    ("mid-Atlantic", 30.0, -40.0),
    ("Roseau (Dominica, between Martinique and Guadeloupe)", 15.3014, -61.3870),
    ("Castries (Saint Lucia)", 14.0101, -60.9875),
    ("Paramaribo (Suriname)", 5.8520, -55.2038),
    ("Port-Louis (Mauritius)", -20.1609, 57.5012),
    ("Anjouan (Comoros)", -12.2167, 44.4333),
    ("The Valley (Anguilla)", 18.2170, -63.0578),
    ("Ajaccio (Corsica)", 41.9192, 8.7386),
    ("Montréal", 45.5017, -73.5673),
]


@pytest.mark.parametrize(("name", "lat", "lon", "territory"), PLACES, ids=[p[0] for p in PLACES])
def test_a_place_in_a_territory_is_matched_to_it(catalogue, name, lat, lon, territory):
    place = place_at(lat, lon)
    assert place is not None and place.id == territory, name
    assert place.destination_only == (territory == "hexagone")


@pytest.mark.parametrize(("name", "lat", "lon"), NOWHERE, ids=[p[0] for p in NOWHERE])
def test_a_place_outside_every_territory_is_not_placed(catalogue, name, lat, lon):
    assert place_at(lat, lon) is None, name


def test_impossible_coordinates_are_not_placed(catalogue):
    assert place_at(95.0, 0.0) is None and place_at(0.0, 200.0) is None


def test_distance_is_the_great_circle_one():
    # Fort-de-France – Pointe-à-Pitre: about 185 km as the crow flies.
    assert 180 < distance_km(14.6037, -61.0731, 16.2411, -61.5331) < 192


def _territories_with(change):
    documents, delivery, errors = read_documents(CONTENT_DIR)
    assert not errors
    documents = copy.deepcopy(documents)
    martinique = next(t for t in documents["territories.yml"]["territories"] if t["id"] == "martinique")
    change(martinique)
    _, errors = check_documents(documents, delivery=delivery)
    return [e for e in errors if e.file == "territories.yml"]


def test_the_content_check_refuses_an_area_without_source_or_with_a_bad_centre():
    assert _territories_with(lambda t: None) == []
    assert _territories_with(lambda t: t.pop("area_source"))
    assert _territories_with(lambda t: t.__setitem__("center", {"lat": 114.6, "lon": -61.0}))
    assert _territories_with(lambda t: t.__setitem__("radius_km", -3))
    # A territory without an area is allowed: it is simply never suggested.
    assert _territories_with(lambda t: [t.pop(k) for k in ("center", "radius_km", "area_source")]) == []
