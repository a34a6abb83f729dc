"""Entity values a slot can use: "infirmieres" -> J1506, "st-martin" -> saint_martin.

Why: DIET finds the words naming a job or a territory well, but Rasa's
EntitySynonymMapper only maps a span typed exactly as a listed synonym. Young people
write plurals, feminine forms, hyphens, apostrophes and typos that no list can hold,
so a right span used to reach the slot as raw text ("caissières") that no answer
knows. This component runs after the synonym mapper and, per entity type:

- joins two spans of the same entity that only a "de"/"d'" separates
  ("agents" + "sécu" -> "agents de sécu");
- maps a value through the synonyms and annotated values of the training data,
  compared on a loose key (lower case, no accents, no plural, masculine ending);
- otherwise takes the closest known key if it is very close (typo), never for
  words of four letters or less;
- drops an ``age`` that is not a number from 10 to 99 ("top 5" is not an age), and
  a value of one or two letters that maps to nothing (the "l" of "l'alternance").

A value it cannot place is left as it was, as before. Trains from our data only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_components.entity_keys import Table, build_table, known_value, loose_key

TABLE_FILE = "entity_values.json"
#: Text that may sit between two halves of one entity ("agents de sécu").
JOINERS = {"", "de", "d'", "d’", "du", "des", "'", "’", "-"}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class EntityValueMapper(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # typo_cutoff: difflib similarity needed to take the closest known key.
        return {"typo_cutoff": 0.85, "min_age": 10, "max_age": 99}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 table: Table | None = None) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.table = table or {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> EntityValueMapper:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        annotated = [(entity[ENTITY_ATTRIBUTE_TYPE],
                      message.get(TEXT)[entity[ENTITY_ATTRIBUTE_START]:entity[ENTITY_ATTRIBUTE_END]],
                      str(entity[ENTITY_ATTRIBUTE_VALUE]))
                     for message in training_data.entity_examples for entity in message.get(ENTITIES, [])]
        lookups = {table["name"]: [str(e) for e in table["elements"]] for table in training_data.lookup_tables
                   if isinstance(table.get("elements"), list)}
        self.table = build_table(annotated, training_data.entity_synonyms, lookups)
        with self._model_storage.write_to(self._resource) as directory:
            (Path(directory) / TABLE_FILE).write_text(json.dumps(self.table, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> EntityValueMapper:
        try:
            with model_storage.read_from(resource) as directory:
                table = json.loads((Path(directory) / TABLE_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            table = None
        return cls(config, model_storage, resource, table)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = self._joined(message.get(TEXT) or "", list(message.get(ENTITIES, [])))
            kept = []
            for entity in entities:
                if entity[ENTITY_ATTRIBUTE_TYPE] == "age":
                    digits = re.sub(r"\D", "", str(entity[ENTITY_ATTRIBUTE_VALUE]))
                    if not digits or not self.config["min_age"] <= int(digits) <= self.config["max_age"]:
                        continue
                    entity[ENTITY_ATTRIBUTE_VALUE] = digits
                elif not self._map(entity) and len(loose_key(str(entity[ENTITY_ATTRIBUTE_VALUE]))) <= 2:
                    continue
                kept.append(entity)
            message.set(ENTITIES, kept, add_to_output=True)
        return messages

    def _map(self, entity: dict[str, Any]) -> bool:
        """Give the entity its known value; False when none is known."""
        values = self.table.get(entity[ENTITY_ATTRIBUTE_TYPE])
        if not values:
            return True  # an entity type we keep no values for: nothing to map
        value = known_value(values, str(entity[ENTITY_ATTRIBUTE_VALUE]), self.config["typo_cutoff"])
        if value is None:
            return False
        if value != entity[ENTITY_ATTRIBUTE_VALUE]:
            entity[ENTITY_ATTRIBUTE_VALUE] = value
            self.add_processor_name(entity)
        return True

    def _joined(self, text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One entity for "agents" + "sécu" when only "de" separates them."""
        joined: list[dict[str, Any]] = []
        for entity in sorted(entities, key=lambda e: e.get(ENTITY_ATTRIBUTE_START, 0)):
            previous = joined[-1] if joined else None
            if (previous is not None and entity[ENTITY_ATTRIBUTE_TYPE] == previous[ENTITY_ATTRIBUTE_TYPE] != "age"
                    and ENTITY_ATTRIBUTE_END in previous and ENTITY_ATTRIBUTE_START in entity
                    and text[previous[ENTITY_ATTRIBUTE_END]:entity[ENTITY_ATTRIBUTE_START]].strip().lower() in JOINERS):
                previous[ENTITY_ATTRIBUTE_END] = entity[ENTITY_ATTRIBUTE_END]
                previous[ENTITY_ATTRIBUTE_VALUE] = text[previous[ENTITY_ATTRIBUTE_START]:entity[ENTITY_ATTRIBUTE_END]]
                self.add_processor_name(previous)
                continue
            joined.append(entity)
        return joined
