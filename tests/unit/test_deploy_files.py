"""Static checks of the deployment files (deploy/compose.yaml, deploy/k8s, HAProxy).

No Docker daemon or cluster is needed: these read the files and compare them with
what the code reads. What they catch is what would only show once deployed: a
setting misspelt (silently ignored, the default 127.0.0.1 or SQLite used instead), a
setting the code needs left unset, a secret written in clear, a bot secret handed to
another process, an address or port that names no service, a secret file that
make-secrets.sh never writes. The schema checks (docker-compose config,
kubernetes-validate, haproxy -c) are in deploy/validate.sh (`make deploy-check`).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from akto_data.settings import PROJECT_ROOT
from stack.services import BOT_ONLY_ENV

DEPLOY = PROJECT_ROOT / "deploy"
CODE_DIRS = ("akto_data", "bot", "actions", "web", "stack", "rasa_components")
READ_PATTERNS = (
    r"environ\.get\(\s*['\"]([A-Z][A-Z0-9_]+)['\"]",
    r"environ\[\s*['\"]([A-Z][A-Z0-9_]+)['\"]\s*\]",
    r"getenv\(\s*['\"]([A-Z][A-Z0-9_]+)['\"]",
    r"_env_(?:int|float|urls)\(\s*['\"]([A-Z][A-Z0-9_]+)['\"]",
    r"persistent_secret\(\s*['\"]([A-Z][A-Z0-9_]+)['\"]",
)
#: Read by the entrypoints themselves (deploy/images), not by our Python packages.
ENTRYPOINT_SETTINGS = {"RASA_PORT", "ACTION_SERVER_PORT", "RASA_MODEL"}
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASS")


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RASA_ENTRY = load_module(DEPLOY / "images" / "rasa-entrypoint.py", "rasa_entrypoint")


def names_read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in READ_PATTERNS:
                names.update(re.findall(pattern, text))
    for endpoints in PROJECT_ROOT.glob("endpoints*.yml"):
        names.update(re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", endpoints.read_text()))
    return names | ENTRYPOINT_SETTINGS


KNOWN = names_read_by_code()


def secret_file_names() -> set[str]:
    """The files deploy/secrets/make-secrets.sh writes."""
    script = (DEPLOY / "secrets" / "make-secrets.sh").read_text()
    names = set(re.findall(r"keep_or (\w+)", script))
    for loop in re.findall(r"for name in ([\w ]+); do", script):
        names.update(loop.split())
    names.update(re.findall(r"\[ -e (\w+) \]", script))
    return names


def with_secret_files(env: dict[str, Any], folder: Path) -> dict[str, str]:
    """``env`` with every NAME_FILE pointing at a file holding a plausible value."""
    samples = {"DATABASE_URL": "postgresql+psycopg://assistant:pw@postgres:5432/assistant",
               "RABBITMQ_URL": "amqp://assistant:pw@rabbitmq:5672/%2F", "REDIS_URL": "redis://redis:6379/0"}
    resolved: dict[str, str] = {}
    for key, value in env.items():
        if key.endswith("_FILE"):
            path = folder / key
            path.write_text(samples.get(key[:-5], "x" * 32))
            value = str(path)
        resolved[key] = str(value)
    return resolved


# -- Compose ------------------------------------------------------------------------------

COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if str(s.get("image", "")).startswith("localhost/akto/")}
RASA = {name: s for name, s in OURS.items() if "/rasa" in s["image"]}
APP = {name: s for name, s in OURS.items() if "/app" in s["image"]}


def given(service: dict[str, Any]) -> dict[str, str]:
    """The settings a service gets: NAME_FILE counts as NAME (the entrypoints read the file)."""
    env = {str(k): str(v) for k, v in (service.get("environment") or {}).items()}
    return {k[:-5] if k[:-5] in RASA_ENTRY.SECRET_NAMES and k.endswith("_FILE") else k: v for k, v in env.items()}


def test_compose_runs_the_whole_topology():
    commands = [tuple(s.get("command") or ()) for s in APP.values()]
    assert len(RASA) >= 2, "deux serveurs Rasa au moins"
    for process in ("actions", "bot", "worker", "console", "init"):
        assert (process,) in commands, process
    assert {"postgres", "redis", "rabbitmq", "balancer"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_compose_setting_is_one_the_code_reads(name):
    """A misspelt name is silently ignored and the embedded default (127.0.0.1, SQLite) used."""
    unknown = {k for k in (OURS[name].get("environment") or {}) if k not in KNOWN
               and not (k.endswith("_FILE") and k[:-5] in RASA_ENTRY.SECRET_NAMES)}
    assert not unknown, f"{name}: variables lues par aucun code : {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_secret_in_clear_in_compose(name):
    for key, value in (SERVICES[name].get("environment") or {}).items():
        value = str(value)
        if any(word in key for word in SECRET_WORDS) and not key.endswith("_FILE"):
            assert value.startswith("${") and value.endswith("}"), f"{name}.{key} en clair"
        if "://" in value:
            assert "@" not in urlsplit(value).netloc, f"{name}.{key} : identifiants dans l'URL"


@pytest.mark.parametrize("name", sorted(OURS))
def test_bot_secrets_reach_the_bots_only(name):
    settings = given(OURS[name])
    secrets = {s if isinstance(s, str) else s["source"] for s in OURS[name].get("secrets") or ()}
    is_bot = OURS[name].get("command") == ["bot"]
    for variable in BOT_ONLY_ENV:
        assert (variable in settings) == is_bot, f"{name}: {variable}"
        assert (variable.lower() in secrets) == is_bot, f"{name}: secret {variable.lower()}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_secret_files_are_declared_mounted_and_made(name):
    declared = COMPOSE["secrets"]
    made = secret_file_names()
    mounted = {s if isinstance(s, str) else s["source"] for s in OURS[name].get("secrets") or ()}
    for key, value in (OURS[name].get("environment") or {}).items():
        if key.endswith("_FILE"):
            assert key[:-5] in RASA_ENTRY.SECRET_NAMES, f"{name}.{key}: l'entrypoint ne lit pas ce fichier"
            secret = str(value).removeprefix("/run/secrets/")
            assert secret in mounted, f"{name}: {secret} non monté"
            assert declared[secret]["file"] == f"./secrets/{secret}"
            assert secret in made, f"make-secrets.sh n'écrit pas {secret}"
    assert {Path(s["file"]).name for s in declared.values()} <= made


@pytest.mark.parametrize("name", sorted(RASA))
def test_rasa_gets_every_variable_of_its_endpoints(name, tmp_path):
    """endpoints.production.yml's ${VAR}, given or derived by the entrypoint (as the launcher does)."""
    env = with_secret_files(RASA[name]["environment"], tmp_path)
    derived = RASA_ENTRY.rasa_env(env)
    wanted = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", (PROJECT_ROOT / "endpoints.production.yml").read_text()))
    assert not wanted - set(derived), f"{name}: manquent {sorted(wanted - set(derived))}"
    assert RASA_ENTRY.rasa_command(derived, [])[RASA_ENTRY.rasa_command(derived, []).index("--endpoints") + 1] \
        .endswith("endpoints.production.yml")


REQUIRED = {
    "bot": {"DATABASE_URL", "REDIS_URL", "RASA_URL", "TELEGRAM_BOT_TOKEN", "WEBHOOK_URL", "WEBHOOK_SECRET"},
    "actions": {"DATABASE_URL", "ACTION_SERVER_TOKEN"},
    "worker": {"DATABASE_URL", "LEAD_LINKS_SECRET", "LEAD_LINKS_BASE_URL", "SMTP_HOST", "SMTP_SECURITY"},
    "console": {"DATABASE_URL", "CONSOLE_SECRET", "CONSOLE_HTTPS", "PORTAL_BASE_URL", "RASA_URL"},
    "init": {"DATABASE_URL"},
}


@pytest.mark.parametrize("name", sorted(APP))
def test_each_process_has_the_settings_it_needs_in_production(name):
    """Unset, these fall back to one machine's defaults: SQLite, random per-process keys, 127.0.0.1."""
    process = APP[name]["command"][0]
    missing = REQUIRED[process] - set(given(APP[name]))
    assert not missing, f"{name}: {sorted(missing)}"


def listening_port(name: str) -> set[int]:
    """Ports a Compose service listens on, from its settings or HAProxy's binds."""
    if name == "balancer":
        return {int(p) for p in re.findall(r"^\s*bind :(\d+)", HAPROXY, re.M)}
    env = given(SERVICES[name])
    ports = {"rasa": "RASA_PORT", "actions": "ACTION_SERVER_PORT", "bot": "WEBHOOK_PORT",
             "worker": "LEAD_LINKS_PORT", "console": "CONSOLE_PORT"}
    command = (SERVICES[name].get("command") or ["rasa"])[0]
    return {int(env[ports[command]])} if ports.get(command) in env else set()


HAPROXY = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_address_names_a_service_that_listens_there(name):
    defaults = {"postgres": {5432}, "redis": {6379}, "rabbitmq": {5672}}
    for key, value in given(OURS[name]).items():
        if "://" not in value or key.endswith(("BASE_URL", "WEBHOOK_URL")):
            continue  # public addresses, outside Compose
        parts = urlsplit(value)
        assert parts.hostname in SERVICES, f"{name}.{key} → {parts.hostname}"
        assert parts.port in (defaults.get(parts.hostname) or listening_port(parts.hostname)), f"{name}.{key}"


def test_haproxy_backends_are_compose_services_on_their_ports():
    servers = re.findall(r"^\s*server (\S+) ([\w-]+):(\d+)", HAPROXY, re.M)
    assert servers
    for label, host, port in servers:
        assert label == host and host in SERVICES, host
        assert int(port) in listening_port(host), f"{host}:{port}"
    assert {h for _, h, _ in servers} >= set(RASA), "chaque serveur Rasa derrière le répartiteur"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_health_checks_and_dependencies(name):
    service = SERVICES[name]
    if service.get("restart") != "no":
        assert "healthcheck" in service, f"{name} sans healthcheck"
    for dependency in service.get("depends_on") or {}:
        assert dependency in SERVICES, f"{name} dépend de {dependency}"


def test_only_the_edge_is_published_and_on_loopback():
    for name, service in SERVICES.items():
        for port in service.get("ports") or ():
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} publié sur toutes les interfaces"
        if name in RASA or name in {"postgres", "redis", "rabbitmq"}:
            assert service["networks"] == ["internal"], f"{name} hors du réseau interne"
    assert COMPOSE["networks"]["internal"]["internal"] is True


# -- Kubernetes ---------------------------------------------------------------------------

K8S = DEPLOY / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
OBJECTS = [doc for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
           for doc in yaml.safe_load_all(path.read_text()) if doc]
WORKLOADS = [o for o in OBJECTS if o["kind"] in ("Deployment", "StatefulSet", "Job")]
CONFIGMAPS = {o["metadata"]["name"]: o["data"] for o in OBJECTS if o["kind"] == "ConfigMap"}
K8S_SERVICES = {o["metadata"]["name"]: o for o in OBJECTS if o["kind"] == "Service"}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workload["spec"]["template"]["spec"]["containers"])


def container_env(container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        env.update(CONFIGMAPS[source["configMapRef"]["name"]])
    env.update({e["name"]: e.get("value", "<ref>") for e in container.get("env") or ()})
    return env


def ours(workload: dict[str, Any]) -> bool:
    return any(c["image"].startswith("localhost/akto/") for c in containers(workload))


def test_kustomization_lists_every_manifest():
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == files


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if ours(w)], ids=lambda w: w["metadata"]["name"])
def test_k8s_settings_are_known_and_secrets_are_files(workload):
    made = secret_file_names()
    for container in containers(workload):
        env = container_env(container)
        unknown = {k for k in env if k not in KNOWN and not (k.endswith("_FILE") and k[:-5] in RASA_ENTRY.SECRET_NAMES)}
        assert not unknown, f"{workload['metadata']['name']}: {sorted(unknown)}"
        mounts = {m["mountPath"] for m in container.get("volumeMounts") or ()}
        for key, value in env.items():
            if key.endswith("_FILE"):
                assert value.startswith("/run/secrets/") and "/run/secrets" in mounts, key
                assert value.removeprefix("/run/secrets/") in made, value
            if any(word in key for word in SECRET_WORDS) and not key.endswith("_FILE"):
                pytest.fail(f"{key} en clair dans {workload['metadata']['name']}")
        is_bot = container["args"] == ["bot"]
        for variable in BOT_ONLY_ENV:
            assert (variable in {k.removesuffix("_FILE") for k in env}) == is_bot, variable


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if ours(w)], ids=lambda w: w["metadata"]["name"])
def test_k8s_processes_have_their_production_settings(workload, tmp_path):
    for container in containers(workload):
        env = {k.removesuffix("_FILE") if k.endswith("_FILE") else k for k in container_env(container)}
        if container["image"].endswith("/rasa:latest"):
            derived = RASA_ENTRY.rasa_env(with_secret_files(container_env(container), tmp_path))
            wanted = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)\}", (PROJECT_ROOT / "endpoints.production.yml").read_text()))
            assert not wanted - set(derived)
        else:
            assert not REQUIRED[container["args"][0]] - env, container["args"]


def test_k8s_services_select_pods_and_name_their_ports():
    for name, service in K8S_SERVICES.items():
        selected = [w for w in WORKLOADS if service["spec"]["selector"].items()
                    <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert selected, f"le Service {name} ne sélectionne rien"
        port_names = {p.get("name") for w in selected for c in containers(w) for p in c.get("ports") or ()}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"{name}: {port['targetPort']}"


def k8s_port(host: str) -> set[int]:
    return {p["port"] for p in K8S_SERVICES[host]["spec"]["ports"]} if host in K8S_SERVICES else set()


def test_k8s_addresses_name_services_and_their_ports():
    for config in CONFIGMAPS.values():
        for key, value in config.items():
            if "://" in value and not key.endswith(("BASE_URL", "WEBHOOK_URL")):
                parts = urlsplit(value)
                assert parts.port in k8s_port(str(parts.hostname)), f"{key} → {value}"
    for workload in WORKLOADS:
        for container in containers(workload):
            names = {p.get("name") for p in container.get("ports") or ()}
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                check = container.get(probe) or {}
                for kind in ("httpGet", "tcpSocket"):
                    if kind in check:
                        assert check[kind]["port"] in names, f"{workload['metadata']['name']} {probe}"


def test_k8s_ingress_backends_exist():
    ingress = next(o for o in OBJECTS if o["kind"] == "Ingress")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            ports = {p["name"] for p in K8S_SERVICES[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in ports


def test_k8s_rasa_is_reachable_only_from_bot_and_console():
    """Rasa's REST webhook has no authentication."""
    policy = next(o for o in OBJECTS if o["kind"] == "NetworkPolicy"
                  and o["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": "rasa"})
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]["values"]
    assert set(allowed) == {"bot", "console"}


def test_k8s_every_process_of_ours_may_reach_the_data_services():
    """The data services answer pods labelled part-of: assistant only: a pod without it cannot work."""
    policy = next(o for o in OBJECTS if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "data-from-assistant")
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    for workload in WORKLOADS:
        if ours(workload):
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert allowed.items() <= labels.items(), workload["metadata"]["name"]
