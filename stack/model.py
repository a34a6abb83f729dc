"""Trained-model cache keyed by the content of the training inputs.

Rasa's own fingerprinting still loads and compares a lot before deciding nothing
changed; hashing our files first makes a warm start skip ``rasa train`` entirely.
The model file is named after the hash, so any change to domain, config, NLU or
stories (and only that) triggers a new training.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

from akto_data.settings import PROJECT_ROOT, var_dir

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
MODELS_DIR = PROJECT_ROOT / "models"
TRAINING_INPUTS = ("config.yml", "domain", "nlu", "stories", "rasa_components")
#: Code loaded by the Rasa server, never by training (hot-path changes, our channel):
#: changing it must not retrain the model.
SERVING_ONLY = Path("rasa_components") / "serving"


def training_files(root: Path = PROJECT_ROOT) -> list[Path]:
    files: list[Path] = []
    for name in TRAINING_INPUTS:
        path = root / name
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml", ".py"}
                                and not p.relative_to(root).is_relative_to(SERVING_ONLY)))
        elif path.exists():
            files.append(path)
    return files


def fingerprint(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for path in training_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = PROJECT_ROOT) -> Path:
    return MODELS_DIR / f"assistant-{fingerprint(root)}.tar.gz"


def ensure_model(log=print) -> Path:  # type: ignore[no-untyped-def]
    """Return the model for the current training data, training it only if missing."""
    target = model_path()
    if target.exists():
        log(f"Modèle à jour, réutilisé : {target.relative_to(PROJECT_ROOT)}")
        return target
    log("Données d'entraînement modifiées : entraînement du modèle Rasa (quelques minutes)…")
    started = time.monotonic()
    MODELS_DIR.mkdir(exist_ok=True)
    log_path = var_dir() / "log" / "train.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as handle:
        result = subprocess.run(
            [str(RASA_BIN), "train", "--config", "config.yml", "--domain", "domain", "--data", "nlu", "stories",
             "--out", str(MODELS_DIR), "--fixed-model-name", target.name.removesuffix(".tar.gz")],
            cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},  # rasa_components/ (custom NLU component)
        )
    if result.returncode != 0 or not target.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"rasa train a échoué (journal complet : {log_path}) :\n{tail}")
    log(f"Modèle entraîné en {time.monotonic() - started:.0f} s : {target.relative_to(PROJECT_ROOT)}")
    return target


if __name__ == "__main__":
    print(ensure_model())
