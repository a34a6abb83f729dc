"""``make eval`` scores entities as the values slots would get: a right span with an
unmapped value ("gwada" left as is) must count as a miss, not a hit."""

from akto_data.nlu_examples import entity_annotations
from stack.nlu_eval import entity_scores


def test_annotations_read_values_after_mapping() -> None:
    example = 'g [19](age) ans en [gwada]{"entity": "territory", "value": "guadeloupe"}'
    assert entity_annotations(example) == (("age", "19"), ("territory", "guadeloupe"))


def test_unmapped_value_is_a_miss_and_extra_entity_a_false_positive() -> None:
    gold = [(("territory", "guadeloupe"),), (("age", "19"),), ()]
    parsed = [
        {"entities": [{"entity": "territory", "value": "gwada"}]},  # span right, value not mapped
        {"entities": [{"entity": "age", "value": "19"}]},
        {"entities": [{"entity": "age", "value": "2"}]},  # "j'ai 2 questions": not an age
    ]
    scores = entity_scores(gold, parsed)
    assert scores["territory"][:3] == (0.0, 0.0, 0.0)
    assert scores["age"][0] == 0.5 and scores["age"][1] == 1.0
    precision, recall, _, support = scores["ALL (micro)"]
    assert (round(precision, 3), recall, support) == (0.333, 0.5, 2)
