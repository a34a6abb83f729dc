"""The console's "Réentraîner": train, evaluate, then load into the running Rasa, or refuse.

A background thread of the console process runs one job at a time:

1. the running model's figures on the held-out sets: the ones recorded when the console
   loaded or measured it, else measured now through the running Rasa (``/model/parse``);
2. ``rasa train`` on the training tree (``TRAINING_DATA_DIR``: the project, staged
   files included) into ``models/console-<job>-<data hash>.tar.gz``, then the held-out
   sets parsed with the new model, in one Rasa process (:mod:`stack.rasa_job`);
3. the gate (:func:`akto_data.training.registry.refusals`): more than 1 point lost in
   macro-F1 or out-of-scope detection on any set refuses the model, with the figures;
4. Rasa's HTTP API ``PUT /model`` replaces the model in the running server, or in every
   server of the production topology one at a time, each out of the balancer's rotation
   while it loads (:func:`load_into_rasa`): no restart, no message dropped.

Any failure (training, evaluation, Rasa refusing the file) leaves the running model in
place, and the job's row says why. An accepted model is also stored under the cache
name ``make run`` looks for (``assistant-<hash>.tar.gz``), so a restart keeps it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from akto_data.db import session_scope
from akto_data.models import utcnow
from akto_data.nlu_examples import read_examples
from akto_data.settings import PROJECT_ROOT, Settings, var_dir
from akto_data.staff.audit import record
from akto_data.training import registry
from akto_data.training.models import FAILED, REFUSED, RUNNING, NluModel
from stack.model import fingerprint
from stack.nlu_eval import HELDOUT_SETS, parse_all, scores
from stack.services import RASA_PYTHON

log = logging.getLogger(__name__)
_threads: dict[int, threading.Thread] = {}
_start_lock = threading.Lock()
#: One model swap at a time (a job's load, or staff putting an earlier model back).
_rasa_lock = threading.Lock()
STEPS = {"train": "Entraînement du nouveau modèle…", "evaluate": "Évaluation sur les jeux de test mis de côté…"}
LOAD_TIMEOUT = 600.0


class RetrainError(RuntimeError):
    """Said to staff as is (French)."""


def heldout_sets(root: Path) -> list[Path]:
    paths = [root / path.relative_to(PROJECT_ROOT) for path in HELDOUT_SETS]
    return [path for path in paths if path.exists()]


def _token(settings: Settings) -> str:
    return quote(settings.rasa_auth_token or "")


def running_model_file(settings: Settings, url: str | None = None) -> str:
    """The model file a Rasa server runs (``url``, default ``RASA_URL``: any server behind the balancer)."""
    url = url or settings.rasa_url
    try:
        response = httpx.get(f"{url}/status?token={_token(settings)}", timeout=10)
    except httpx.HTTPError as exc:
        raise RetrainError(f"Rasa ne répond pas à {url} ({exc.__class__.__name__}).") from exc
    if response.status_code != 200:
        raise RetrainError(f"Rasa refuse la demande d'état (HTTP {response.status_code}) : vérifier RASA_AUTH_TOKEN.")
    return str(response.json().get("model_file") or "")


def load_into_rasa(settings: Settings, model: Path) -> None:
    """``PUT /model`` on every Rasa server, one after the other; on an error the old model stays.

    One server (embedded default): Rasa builds the new agent, then swaps it in; messages
    arriving meanwhile wait for it (Rasa loads in its event loop), none is dropped.
    Several servers (``RASA_SERVER_URLS``, the production topology): each is first taken
    out of the balancer's rotation (``BALANCER_ADMIN``, HAProxy's runtime API) and its
    requests in progress finish, then it loads, says it runs the new model, and comes
    back; meanwhile the other servers answer, so no message waits for a load. If one
    server refuses the model, the servers already switched are put back on the model
    they ran, so all run the same one.
    """
    servers = list(settings.rasa_server_urls) or [settings.rasa_url]
    previous: list[tuple[str, str]] = []
    try:
        for number, url in enumerate(servers, 1):
            before = running_model_file(settings, url)
            _load_one(settings, url, model, f"rasa/rasa-{number}" if len(servers) > 1 else None)
            previous.append((url, before))
    except RetrainError:
        for number, (url, before) in enumerate(previous, 1):
            older = _model_file(settings, before)
            if older is not None:
                try:
                    _load_one(settings, url, older, f"rasa/rasa-{number}")
                except RetrainError as exc:
                    log.error("Rasa server %s kept the new model after a failed load elsewhere: %s", url, exc)
        raise


def _model_file(settings: Settings, name: str) -> Path | None:
    for folder in (settings.training_dir / "models", PROJECT_ROOT / "models"):
        if name and (folder / name).exists():
            return folder / name
    return None


def _load_one(settings: Settings, url: str, model: Path, balancer_server: str | None) -> None:
    from stack.topology import drain, undrain

    admin = settings.balancer_admin if balancer_server else None
    if admin:
        drain(admin, balancer_server or "")
    try:
        try:
            response = httpx.put(f"{url}/model?token={_token(settings)}",
                                 json={"model_file": str(model)}, timeout=LOAD_TIMEOUT)
        except httpx.HTTPError as exc:
            raise RetrainError(f"Rasa n'a pas répondu pendant le chargement ({exc.__class__.__name__}).") from exc
        if response.status_code != 204:
            try:
                why = response.json().get("message") or response.text
            except ValueError:
                why = response.text
            raise RetrainError(f"Rasa n'a pas pu charger le modèle (HTTP {response.status_code} : {why[:300]}).")
        now_running = running_model_file(settings, url)
        if now_running != model.name:
            raise RetrainError(f"Rasa dit faire tourner {now_running!r} au lieu de {model.name!r}.")
    finally:
        if admin:
            undrain(admin, balancer_server or "")


def _update(job_id: int, **values: Any) -> None:
    with session_scope() as session:
        row = session.get(NluModel, job_id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)


def _sets_texts(root: Path) -> list[tuple[str, list[str], list[str]]]:
    return [(path.name, [e.text for e in examples], [e.intent for e in examples])
            for path in heldout_sets(root) for examples in [read_examples([path])]]


def _baseline(settings: Settings, sets: list[tuple[str, list[str], list[str]]], actor: str) -> dict[str, Any]:
    """The running model's figures: recorded, or measured now through the running Rasa."""
    running = running_model_file(settings)
    with session_scope() as session:
        row = registry.measured(session, running)
        if row is not None and row.scores:
            if not row.active:
                registry.set_active(session, row)
            return dict(row.scores)
    measured: dict[str, Any] = {}
    for name, texts, truth in sets:
        parsed, _, _ = parse_all(settings.rasa_url, texts, token=settings.rasa_auth_token)
        measured[name] = registry.figures(scores(truth, [p["intent"]["name"] for p in parsed]))
    with session_scope() as session:
        registry.record_startup(session, running, measured, actor)
    return measured


def _train_and_parse(job_id: int, root: Path, target: Path,
                     sets: list[tuple[str, list[str], list[str]]]) -> list[list[str]]:
    work = var_dir() / "retrain"
    work.mkdir(parents=True, exist_ok=True)
    texts_file, result_file = work / f"{job_id}.texts.json", work / f"{job_id}.result.json"
    texts_file.write_text(json.dumps([texts for _, texts, _ in sets]), encoding="utf-8")
    log_path = var_dir() / "log" / f"retrain-{job_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as handle:
        process = subprocess.Popen(
            [str(RASA_PYTHON), "-m", "stack.rasa_job", str(root), str(target), str(texts_file), str(result_file)],
            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
        assert process.stdout is not None
        for line in process.stdout:
            handle.write(line)
            if line.startswith("JOB_STEP ") and line.split()[1] in STEPS:
                _update(job_id, step=STEPS[line.split()[1]])
        process.wait()
    if process.returncode != 0 or not result_file.exists():
        tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()][-6:]
        raise RetrainError("L'entraînement a échoué (journal : " + str(log_path) + ") : " + " / ".join(tail)[-600:])
    predicted: list[list[str]] = json.loads(result_file.read_text(encoding="utf-8"))
    texts_file.unlink(missing_ok=True)
    result_file.unlink(missing_ok=True)
    return predicted


def _run(settings: Settings, job_id: int, actor: str) -> None:
    root = settings.training_dir
    sets = _sets_texts(root)
    if not sets:
        raise RetrainError(f"Aucun jeu de test mis de côté dans {root / 'tests' / 'nlu'} : impossible d'évaluer.")
    _update(job_id, step="Mesure du modèle en service…")
    baseline = _baseline(settings, sets, actor)
    data_hash = fingerprint(root)
    target = root / "models" / f"console-{job_id}-{data_hash}.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    examples = len(read_examples(sorted((root / "nlu").rglob("*.yml"))))
    _update(job_id, file=str(target), baseline=baseline, examples=examples, step=STEPS["train"])
    predicted = _train_and_parse(job_id, root, target, sets)
    candidate = {name: registry.figures(scores(truth, intents))
                 for (name, _, truth), intents in zip(sets, predicted)}
    problems = registry.refusals(candidate, baseline)
    if problems:
        _update(job_id, scores=candidate, status=REFUSED, step=None, finished_at=utcnow(),
                message="Modèle refusé, le modèle en service reste en place : " + " ; ".join(problems) + ".")
        return
    _update(job_id, scores=candidate, step="Chargement dans Rasa (sans redémarrage)…")
    with _rasa_lock:
        before = running_model_file(settings)
        load_into_rasa(settings, target)
        with session_scope() as session:
            row = session.get(NluModel, job_id)
            assert row is not None
            registry.set_active(session, row)
            row.step, row.finished_at = None, utcnow()
            row.message = "Chargé dans Rasa sans redémarrage."
            record(session, actor, "model.load", f"model:{job_id}", {"file": before}, {"file": target.name},
                   detail="réentraînement accepté")
    cached = root / "models" / f"assistant-{data_hash}.tar.gz"
    if not cached.exists():
        shutil.copyfile(target, cached)  # make run's cache name: a restart keeps this model


def _job(settings: Settings, job_id: int, actor: str) -> None:
    try:
        _run(settings, job_id, actor)
    except RetrainError as exc:
        _update(job_id, status=FAILED, step=None, finished_at=utcnow(),
                message=f"{exc} Le modèle en service reste en place.")
    except Exception as exc:  # anything else: said on the page, logged in full
        log.exception("retraining job %s failed", job_id)
        _update(job_id, status=FAILED, step=None, finished_at=utcnow(),
                message=f"Erreur inattendue ({exc.__class__.__name__}) : le modèle en service reste en place.")
    finally:
        _threads.pop(job_id, None)


def start(settings: Settings, actor: str) -> int:
    """Start a job in the background; refused while another one runs."""
    with _start_lock:
        with session_scope() as session:
            forget_interrupted(session)
            current = registry.running_job(session)
            if current is not None:
                raise RetrainError(f"Un réentraînement est déjà en cours (lancé par {current.created_by}).")
            row = NluModel(file="", status=RUNNING, step="Préparation…", created_by=actor)
            session.add(row)
            session.flush()
            job_id = row.id
            record(session, actor, "model.retrain", f"model:{job_id}", None, {"training_dir": str(settings.training_dir)})
        thread = threading.Thread(target=_job, args=(settings, job_id, actor), name=f"retrain-{job_id}", daemon=True)
        _threads[job_id] = thread
        thread.start()
    return job_id


def forget_interrupted(session: Session) -> None:
    """A job row left running by a console that stopped mid-way is failed, not waited for."""
    for row in session.scalars(select(NluModel).where(NluModel.status == RUNNING)):
        if row.id not in _threads:
            row.status, row.step, row.finished_at = FAILED, None, utcnow()
            row.message = "Interrompu : la console s'est arrêtée pendant le réentraînement. Le modèle en service reste en place."


def put_back(settings: Settings, model_id: int, actor: str) -> str:
    """Load an earlier model into the running Rasa again; returns what to tell staff."""
    with session_scope() as session:
        row = session.get(NluModel, model_id)
        if row is None or not row.file or row.status == RUNNING:
            raise RetrainError("Ce modèle n'existe pas ou n'est pas terminé.")
        if row.status == REFUSED:
            raise RetrainError("Ce modèle a été refusé : il ne peut pas être remis en service.")
        if row.status == FAILED:
            raise RetrainError("Ce modèle n'a pas été entraîné jusqu'au bout.")
        path = Path(row.file)
    if not path.is_absolute():
        path = settings.training_dir / "models" / path.name
    if not path.exists():
        raise RetrainError(f"Le fichier {path.name} n'existe plus : impossible de le remettre en service.")
    if not _rasa_lock.acquire(timeout=1):
        raise RetrainError("Un chargement de modèle est déjà en cours : réessaie dans une minute.")
    try:
        before = running_model_file(settings)
        load_into_rasa(settings, path)
    finally:
        _rasa_lock.release()
    with session_scope() as session:
        row = session.get(NluModel, model_id)
        assert row is not None
        registry.set_active(session, row)
        record(session, actor, "model.put_back", f"model:{model_id}", {"file": before}, {"file": path.name})
    return f"Modèle n°{model_id} remis en service ({path.name})."
