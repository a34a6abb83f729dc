"""Runs inside Rasa's environment (``.venv-rasa``, Python 3.10) for the console's retraining.

Trains a model on a training tree (config.yml, domain/, nlu/, stories/), then loads it
and parses the given texts (the held-out sets), in one process: importing Rasa and
TensorFlow costs more than training the small test data set, so it is paid once.
Prints ``JOB_STEP <step>`` lines; writes the predicted intents as JSON.

    .venv-rasa/bin/python -m stack.rasa_job ROOT MODEL.tar.gz TEXTS.json RESULT.json
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path


def step(name: str) -> None:
    print(f"JOB_STEP {name}", flush=True)


def main(argv: list[str]) -> int:
    root, model, texts_file, result_file = (Path(a) for a in argv)
    step("train")
    from rasa.api import train  # type: ignore[import-not-found]

    result = train(domain=str(root / "domain"), config=str(root / "config.yml"),
                   training_files=[str(root / "nlu"), str(root / "stories")], output=str(model.parent),
                   fixed_model_name=model.name[: -len(".tar.gz")])
    if result.code != 0 or not model.exists():
        print(f"JOB_ERROR rasa train a échoué (code {result.code})", flush=True)
        return 2
    step("evaluate")
    logging.getLogger("rasa").setLevel(logging.WARNING)
    from rasa.core.agent import Agent  # type: ignore[import-not-found]

    agent = Agent.load(str(model))
    sets: list[list[str]] = json.loads(texts_file.read_text(encoding="utf-8"))

    async def parse_all() -> list[list[str]]:
        intents: list[list[str]] = []
        for texts in sets:  # plain loops: Python 3.10 refuses an await in a nested comprehension
            intents.append([])
            for text in texts:
                intents[-1].append((await agent.parse_message(text))["intent"]["name"])
        return intents

    result_file.write_text(json.dumps(asyncio.run(parse_all())), encoding="utf-8")
    step("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
