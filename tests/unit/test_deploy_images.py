"""Checks of the container build files and entrypoints (deploy/images), without building.

The builds themselves (deploy/images/build.sh) take minutes and need root, buildah and
Debian's mirror; what can go wrong silently between two builds is checked here: a
COPY of a path that moved or that the ignore file hides, an entrypoint that starts Rasa
differently from our launcher (no serving.install(), other endpoint variables), a
service left listening on 127.0.0.1 inside its container, a secret file not read.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from akto_data.settings import PROJECT_ROOT, load_settings
from stack import services

IMAGES = PROJECT_ROOT / "deploy" / "images"
CONTAINERFILES = sorted(IMAGES.glob("*.Containerfile"))
APP_ENTRY = IMAGES / "app-entrypoint.sh"
RASA_ENTRY_PATH = IMAGES / "rasa-entrypoint.py"
RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"

spec = importlib.util.spec_from_file_location("rasa_entrypoint", RASA_ENTRY_PATH)
assert spec and spec.loader
RASA_ENTRY = importlib.util.module_from_spec(spec)
spec.loader.exec_module(RASA_ENTRY)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", text, re.M)
            if not m.group(0).lstrip().startswith("#")]


def ignored(path: str, image: str) -> bool:
    """Whether deploy/images/<image>.containerignore keeps ``path`` out of the build context."""
    verdict = False
    for line in (IMAGES / f"{image}.containerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
            verdict = not negate
    return verdict


@pytest.mark.parametrize("containerfile", CONTAINERFILES, ids=lambda p: p.name)
def test_every_copied_path_exists_and_reaches_the_build(containerfile):
    build_script = (IMAGES / "build.sh").read_text()
    copies = [a for i, a in instructions(containerfile) if i == "COPY"]
    assert copies
    for arguments in copies:
        *sources, _destination = shlex.split(arguments)
        for source in sources:
            if source == ".":
                continue
            image = containerfile.name.removesuffix(".Containerfile")
            assert not ignored(source.rstrip("/"), image), f"{source} exclu par {image}.containerignore"
            if source.startswith("deploy/build/"):  # staged by build.sh at build time
                staged = source.removeprefix("deploy/build/").split("/")[0]
                assert f"$STAGE/{staged}" in build_script or f'"$STAGE/{staged}' in build_script, source
            else:
                assert (PROJECT_ROOT / source).exists(), f"{containerfile.name}: {source} n'existe pas"


@pytest.mark.parametrize("image", ["app", "rasa"])
def test_images_keep_environments_secrets_and_data_out(image):
    for path in (".venv/bin/python", ".venv-rasa/bin/python", "var/assistant.db", ".env", "models/x.tar.gz",
                 "content/private/delivery.yml", "web/node_modules/x.js", ".git/config", "deploy/build/tools/bin/x"):
        assert ignored(path, image), path


def test_the_app_image_gets_the_app_and_not_the_rasa_images_python():
    """The whole tree is copied into the app image (COPY . /app): what it needs must reach it."""
    for path in ("bot/__main__.py", "content/faq.yml", "domain/base.yml", "web/static/vendor/htmx.min.js",
                 "deploy/images/app-entrypoint.sh"):
        assert not ignored(path, "app"), path
    assert ignored("deploy/build/cpython-3.10.13/bin/python3.10", "app")
    assert not ignored("deploy/build/cpython-3.10.13/bin/python3.10", "rasa")


def test_services_listen_beyond_loopback_in_the_app_image():
    """Inside a container 127.0.0.1 is the container itself: nobody else could connect."""
    env = " ".join(a for i, a in instructions(IMAGES / "app.Containerfile") if i == "ENV")
    for variable in ("SANIC_HOST", "CONSOLE_LISTEN", "LEAD_LINKS_LISTEN", "WEBHOOK_LISTEN"):
        assert re.search(rf"\b{variable}=0\.0\.0\.0\b", env), variable
    assert "--interface" in RASA_ENTRY.rasa_command({}, []) and "0.0.0.0" in RASA_ENTRY.rasa_command({}, [])


def test_rasa_starts_as_our_launcher_starts_it():
    """serving.install() (hot path, idempotent channel) and the token kept off the command line."""
    assert RASA_ENTRY.RASA_WITH_TOKEN == services.RASA_WITH_TOKEN


@pytest.mark.parametrize("redis", ["redis://redis:6379/0", None])
def test_rasa_endpoint_variables_match_the_launcher(monkeypatch, redis):
    env = {"DATABASE_URL": "postgresql+psycopg://assistant:p%40ss@postgres:5432/assistant",
           "ACTION_SERVER_URL": "http://actions:5055/webhook",
           "RABBITMQ_URL": "amqp://assistant:s%2Fecret@rabbitmq:5672/%2F", "RASA_EVENTS_QUEUE": "q"}
    if redis:
        env["REDIS_URL"] = redis
    for name in ("REDIS_URL", "RABBITMQ_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    launcher = services.service_env(load_settings())
    ours = RASA_ENTRY.rasa_env(env)
    derived = {k for k in launcher if k.startswith("RASA_") and k not in env and k not in os.environ} - {"RASA_URL"}
    assert derived, "service_env ne dérive plus rien ?"
    assert {k: ours.get(k) for k in derived} == {k: launcher[k] for k in derived}
    command = RASA_ENTRY.rasa_command(ours, [])
    assert command[command.index("--endpoints") + 1].endswith(
        "endpoints.production.yml" if redis else "endpoints.yml")


def test_rasa_entrypoint_refuses_an_incomplete_production_setting():
    with pytest.raises(SystemExit, match="RABBITMQ_URL"):
        RASA_ENTRY.rasa_env({"DATABASE_URL": "postgresql://db/x", "ACTION_SERVER_URL": "http://a:5055/webhook",
                             "REDIS_URL": "redis://r:6379/0"})
    with pytest.raises(SystemExit, match="DATABASE_URL"):
        RASA_ENTRY.rasa_env({"ACTION_SERVER_URL": "http://a:5055/webhook"})


def test_rasa_entrypoint_reads_secret_files_and_keeps_bot_secrets_out(tmp_path):
    (tmp_path / "db").write_text("postgresql+psycopg://u:pw@postgres:5432/a\n")
    env = RASA_ENTRY.rasa_env({"DATABASE_URL_FILE": str(tmp_path / "db"), "ACTION_SERVER_URL": "http://a:1/webhook",
                               "TELEGRAM_BOT_TOKEN": "123:abc", "SMTP_CA_FILE": "/etc/ca.pem"})
    assert env["RASA_TRACKER_URL"] == "postgresql://u:pw@postgres:5432/a"
    assert "DATABASE_URL_FILE" not in env and "TELEGRAM_BOT_TOKEN" not in env
    assert env["SMTP_CA_FILE"] == "/etc/ca.pem"  # a setting of its own, not a secret file


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason=".venv-rasa absent (make install)")
def test_rasa_entrypoint_runs_on_rasas_python():
    result = subprocess.run(
        [str(RASA_PYTHON), str(RASA_ENTRY_PATH), "--print"], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgresql+psycopg://u@db:5432/a",
             "ACTION_SERVER_URL": "http://a:5055/webhook", "REDIS_URL": "redis://r:6379/0",
             "RABBITMQ_URL": "amqp://u:p@mq:5672/%2F"})
    assert result.returncode == 0, result.stderr
    assert "endpoints.production.yml" in result.stdout and "RASA_RABBITMQ_PASSWORD" in result.stdout


def run_app_entry(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The app entrypoint with a stand-in ``python`` that prints its environment."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "python").write_text("#!/bin/sh\nenv\n")
    (fake / "python").chmod(0o755)
    return subprocess.run(["sh", str(APP_ENTRY), *args], capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{fake}:/usr/bin:/bin", **env})


def test_app_entrypoint_reads_secret_files(tmp_path):
    (tmp_path / "token").write_text("s3cret-token\n")
    result = run_app_entry(tmp_path, "actions", ACTION_SERVER_TOKEN_FILE=str(tmp_path / "token"),
                           SMTP_CA_FILE="/etc/ca.pem")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "ACTION_SERVER_TOKEN=s3cret-token" in lines
    assert "SMTP_CA_FILE=/etc/ca.pem" in lines and not any(x.startswith("ACTION_SERVER_TOKEN_FILE") for x in lines)


def test_app_entrypoint_stops_on_an_unreadable_secret(tmp_path):
    result = run_app_entry(tmp_path, "bot", TELEGRAM_BOT_TOKEN_FILE=str(tmp_path / "missing"))
    assert result.returncode == 2 and "TELEGRAM_BOT_TOKEN_FILE" in result.stderr


def test_app_entrypoint_refuses_an_unknown_process(tmp_path):
    assert run_app_entry(tmp_path, "nope").returncode == 2


def test_app_entrypoint_starts_modules_that_exist():
    text = APP_ENTRY.read_text()
    modules = re.findall(r"python -m ([\w.]+)", text)
    assert {"bot", "stack.action_server", "akto_data.leads.worker", "web"} <= set(modules)
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def test_app_entrypoint_check_imports_every_process():
    result = subprocess.run(["sh", str(APP_ENTRY), "check"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
