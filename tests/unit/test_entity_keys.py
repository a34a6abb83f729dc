"""Rules of the entity value mapper (rasa_components/entity_keys.py): what a young
person types reaches the slot as the catalogue's value, and never another entity's."""

from rasa_components.entity_keys import build_table, known_value, loose_key

ANNOTATED = [
    ("occupation", "infirmier", "J1506"),
    ("occupation", "agent d'entretien", "K2204"),
    ("territory", "martinique", "martinique"),
    ("diploma_level", "cap", "3"),
    ("contract_year", "3e", "3"),
]
SYNONYMS = {"aide-soignante": "J1501", "st martin": "saint_martin", "bep": "3", "troisième": "3",
            "J1501": "J1501", "saint_martin": "saint_martin"}
LOOKUPS = {"diploma_level": ["cap", "bep"], "occupation": ["infirmier", "aide-soignante"]}


def table():
    annotated = ANNOTATED + [("occupation", "aide soignant", "J1501"), ("territory", "saint-martin", "saint_martin")]
    return build_table(annotated, SYNONYMS, LOOKUPS)


def test_plural_feminine_accents_hyphens_and_apostrophes_share_one_key() -> None:
    assert loose_key("Infirmières") == loose_key("infirmier")
    assert loose_key("aides-soignantes") == loose_key("aide soignant")
    assert loose_key("agents d'entretien") == loose_key("agent d’entretien")
    assert loose_key("St-Martin") == loose_key("st martin")


def test_typed_forms_get_the_catalogue_value() -> None:
    values = table()
    assert known_value(values["occupation"], "infirmieres", 0.85) == "J1506"
    assert known_value(values["occupation"], "Aides-Soignantes", 0.85) == "J1501"
    assert known_value(values["territory"], "st-martin", 0.85) == "saint_martin"
    assert known_value(values["territory"], "martiniq", 0.85) == "martinique"  # typo


def test_short_or_unknown_words_are_not_guessed() -> None:
    values = table()
    assert known_value(values["occupation"], "vendeur", 0.85) is None
    assert known_value(values["territory"], "mart", 0.85) is None  # 4 letters: no typo guess


def test_a_synonym_belongs_to_its_own_entity_only() -> None:
    values = table()
    assert values["diploma_level"][loose_key("bep")] == "3"
    assert loose_key("bep") not in values["contract_year"]
    assert values["contract_year"][loose_key("troisième")] == "3"
    assert loose_key("troisième") not in values["diploma_level"]
