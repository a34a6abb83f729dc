"""The production topology on this machine: several Rasa servers behind HAProxy.

Rasa's standard distributed setup (README, "Production topology"):

- a PostgreSQL tracker store shared by every Rasa server (``DATABASE_URL``, also our tables);
- a Redis lock store (``REDIS_URL``): one conversation handled by one server at a time
  (``rasa_components/serving/locks.py``; ``TICKET_LOCK_LIFETIME``, default 10 s here);
- ``rasa_servers`` Rasa servers, each on its own port, all started with our launcher line
  (``RASA_WITH_TOKEN``: our serving components, idempotent REST channel);
- ``action_servers`` action servers (behind the balancer too when there are several, since
  Rasa's ``action_endpoint`` names one URL);
- Rasa's pika event broker on RabbitMQ (``RABBITMQ_URL``): every event published;
- HAProxy (Debian's package) in front: health checks on Rasa's ``/``, ``option redispatch``
  and ``retries`` (a connection refused or a server dying mid-request goes to another
  server; the idempotent channel makes the second try safe), ``leastconn`` so every server
  works. Its configuration is written into the run's log folder; its runtime API (a Unix
  socket, mode 600) lets a model load take one server out of rotation at a time.

Every address is a setting (``RASA_URL`` = the balancer, ``RASA_SERVER_URLS``,
``ACTION_SERVER_URL``, ``ACTION_SERVER_URLS``), so the same pieces can sit on several
machines; started here, unset server addresses get ports the OS picks.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import httpx
from sqlalchemy.engine import make_url

from akto_data.settings import Settings, load_settings, var_dir
from stack.services import Service, Stack, StartupError, _http_ok

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
#: Seconds a killed server's lock keeps its chat waiting (renewed while a server lives).
DEFAULT_LOCK_LIFETIME = "10"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port(url: str, default: int) -> int:
    return urlparse(url).port or default


def haproxy_config(*, rasa_listen: int, rasa_servers: list[tuple[str, str]], admin_socket: str,
                   actions_listen: int | None = None, action_servers: list[tuple[str, str]] | None = None) -> str:
    """HAProxy's configuration: the Rasa balancer (and the action servers' when several).

    Why these lines: health checks every second on Rasa's ``/`` (no token needed), a server
    is out after 2 failures and back after 2 successes; ``retries 3`` with ``option
    redispatch 1`` sends a refused connection to another server at once; ``retry-on
    conn-failure empty-response`` also re-sends a request whose server closed the
    connection without answering (killed mid-request): our channel processes a message id
    at most once, so the second server answers it with the first's replies if they were
    saved. Timeouts above the bot's own (60 s read) so the bot decides when to give up.
    """
    def servers(entries: list[tuple[str, str]]) -> str:
        return "\n".join(f"    server {name} {urlparse(url).hostname}:{_port(url, 80)} check"
                         for name, url in entries)

    config = f"""# Written by stack/topology.py at each start: edit the code, not this file.
global
    maxconn 4096
    stats socket {admin_socket} mode 600 level admin
    log stdout format raw local0 notice

defaults
    mode http
    log global
    option dontlognull
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    timeout queue 30s
    timeout http-request 10s
    retries 3
    option redispatch 1
    default-server inter 1s fall 2 rise 2

frontend rasa
    bind 127.0.0.1:{rasa_listen}
    default_backend rasa

backend rasa
    balance leastconn
    option httpchk GET /
    http-check expect status 200
    retry-on conn-failure empty-response
{servers(rasa_servers)}
"""
    if actions_listen is not None and action_servers:
        config += f"""
frontend actions
    bind 127.0.0.1:{actions_listen}
    default_backend actions

backend actions
    balance leastconn
    option httpchk GET /health
    http-check expect status 200
    retry-on conn-failure
{servers(action_servers)}
"""
    return config


def balancer_command(address: str, command: str, timeout: float = 5.0) -> str:
    """One command of HAProxy's runtime API at ``address`` (``unix:/path`` or ``host:port``)."""
    if address.startswith("unix:") or address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = address.removeprefix("unix:")
    else:
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host or "127.0.0.1", int(port))
    with sock:
        sock.settimeout(timeout)
        sock.connect(target)
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def balancer_servers(address: str) -> dict[str, dict[str, str]]:
    """``show stat`` of the balancer: ``"backend/server" -> {status, scur, ...}``."""
    lines = balancer_command(address, "show stat").splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    rows = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        row = dict(zip(header, line.split(",")))
        if row.get("svname") not in ("FRONTEND", "BACKEND"):
            rows[f"{row['pxname']}/{row['svname']}"] = row
    return rows


def wait_balancer(address: str, server: str, up: bool = True, timeout: float = 60.0) -> None:
    """Until the balancer sees ``server`` (``backend/name``) UP (or not UP)."""
    deadline = time.monotonic() + timeout
    while True:
        status = balancer_servers(address).get(server, {}).get("status", "")
        if status.startswith("UP") == up:
            return
        if time.monotonic() > deadline:
            raise StartupError(f"le répartiteur voit {server} {status or 'absent'} après {timeout:.0f} s")
        time.sleep(0.2)


def drain(address: str, server: str, timeout: float = 60.0) -> None:
    """Take ``server`` out of rotation and wait until it has no request left."""
    balancer_command(address, f"set server {server} state drain")
    deadline = time.monotonic() + timeout
    while balancer_servers(address).get(server, {}).get("scur", "0") not in ("0", ""):
        if time.monotonic() > deadline:
            break  # what is still running gets its answer anyway: Rasa finishes it before loading
        time.sleep(0.1)


def undrain(address: str, server: str, timeout: float = 60.0) -> None:
    balancer_command(address, f"set server {server} state ready")
    wait_balancer(address, server, up=True, timeout=timeout)


@dataclass
class Topology:
    """The running topology (see the module docstring)."""

    url: str
    settings: Settings
    stack: Stack
    rasa_urls: list[str]
    action_urls: list[str]
    balancer_admin: str
    log_dir: Path
    _definitions: dict[str, Callable[[], Service]] = field(default_factory=dict, repr=False)

    def service(self, name: str) -> Service:
        for service in self.stack.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def balancer_name(self, name: str) -> str:
        """HAProxy's ``backend/server`` of a service (``rasa-1`` -> ``rasa/rasa-1``)."""
        return f"{'rasa' if name.startswith('rasa') else 'actions'}/{name}"

    def kill(self, name: str) -> None:
        """SIGKILL that service (no restart)."""
        service = self.service(name)
        if service.process is not None and service.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()
        self.stack.services.remove(service)

    def restart(self, name: str, *, kill: bool = True) -> None:
        """SIGKILL (or SIGTERM) that service, start it again, wait until it and the balancer say it is up."""
        with suppress(KeyError):
            if kill:
                self.kill(name)
            else:
                self.stack.stop(self.service(name))
        self.stack.start(self._definitions[name]())
        self.stack.wait_healthy(timeout=300)
        if name.startswith(("rasa-", "actions-")):  # behind the balancer: back in rotation
            wait_balancer(self.balancer_admin, self.balancer_name(name))

    def restart_postgres(self, timeout: float = 60.0) -> None:
        """Restart the machine's PostgreSQL cluster and wait until it accepts connections.

        Shared by every engineer's tests on this machine: use it once, last.
        """
        versions = sorted(os.listdir("/etc/postgresql"))
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
                       check=True, capture_output=True, timeout=timeout)
        wait_postgres(self.settings.database_url, timeout)


def wait_postgres(database_url: str, timeout: float = 60.0) -> None:
    import psycopg

    url = make_url(database_url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                                 password=url.password, dbname=url.database, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def topology_problems(settings: Settings) -> list[str]:
    """What is missing for the topology, in the operator's words (French, like make run)."""
    problems = []
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        problems.append("DATABASE_URL doit être une base PostgreSQL (postgresql+psycopg://…)")
    if not settings.redis_url:
        problems.append("REDIS_URL manque (magasin de verrous partagé par les serveurs Rasa)")
    if not settings.rabbitmq_url:
        problems.append("RABBITMQ_URL manque (courtier d'événements de Rasa)")
    if not Path(HAPROXY).exists():
        problems.append("HAProxy manque : apt-get install -y haproxy (make install le fait)")
    return problems


def prepare_database(settings: Settings) -> None:
    """Schema and catalogue in the topology's database, as ``make run`` does for the embedded one."""
    from akto_data.catalogue.importer import domain_topics
    from akto_data.catalogue.publishing import sync_at_start
    from akto_data.db import create_schema, get_engine, session_scope
    from akto_data.settings import CONTENT_DIR

    engine = get_engine(settings.database_url)
    create_schema(engine)
    with session_scope(engine) as session:
        sync_at_start(session, CONTENT_DIR, domain_topics())


@contextmanager
def running_topology(model: Path, *, rasa_servers: int = 2, action_servers: int = 1,
                     settings: Settings | None = None, log_dir: Path | None = None,
                     on_ready: Callable[[Service], None] | None = None) -> Iterator[Topology]:
    """Start the topology, yield it once every server is up in the balancer, stop everything on exit.

    ``settings`` (default: the environment's) gives the data services (``DATABASE_URL`` on
    PostgreSQL, ``REDIS_URL``, ``RABBITMQ_URL``), the balancer's address (``RASA_URL``) and,
    with several action servers, the actions balancer's (``ACTION_SERVER_URL``).
    """
    settings = settings or load_settings()
    problems = topology_problems(settings)
    if problems:
        raise StartupError("topologie de production impossible : " + " ; ".join(problems))
    if rasa_servers < 1 or action_servers < 1:
        raise StartupError("il faut au moins un serveur Rasa et un serveur d'actions")
    log_dir = log_dir or var_dir() / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    admin_dir = Path(tempfile.mkdtemp(prefix="akto-lb-"))  # short path: a Unix socket's is limited to 107 bytes
    admin_socket = str(admin_dir / "admin.sock")

    balancer_url = settings.rasa_url.rstrip("/")
    rasa_urls = list(settings.rasa_server_urls[:rasa_servers])
    rasa_urls += [f"http://127.0.0.1:{free_port()}" for _ in range(rasa_servers - len(rasa_urls))]
    if action_servers == 1 and not settings.action_server_urls:
        action_urls = [settings.action_server_url.removesuffix("/webhook")]
    else:
        action_urls = list(settings.action_server_urls[:action_servers])
        action_urls += [f"http://127.0.0.1:{free_port()}" for _ in range(action_servers - len(action_urls))]
    settings = replace(settings, rasa_servers=rasa_servers, rasa_server_urls=tuple(rasa_urls),
                       action_servers=action_servers, action_server_urls=tuple(action_urls),
                       balancer_admin=f"unix:{admin_socket}")
    prepare_database(settings)

    extra_env = {"TICKET_LOCK_LIFETIME": os.environ.get("TICKET_LOCK_LIFETIME") or DEFAULT_LOCK_LIFETIME,
                 "RASA_SERVER_URLS": ",".join(rasa_urls), "BALANCER_ADMIN": f"unix:{admin_socket}"}
    config_path = log_dir / "haproxy.cfg"
    config_path.write_text(haproxy_config(
        rasa_listen=_port(balancer_url, 5005), rasa_servers=[(f"rasa-{i}", u) for i, u in enumerate(rasa_urls, 1)],
        admin_socket=admin_socket,
        actions_listen=_port(settings.action_server_url, 5055) if action_servers > 1 else None,
        action_servers=[(f"actions-{i}", u) for i, u in enumerate(action_urls, 1)]))

    with Stack(settings, log_dir=log_dir, extra_env=extra_env) as stack:
        topology = Topology(url=balancer_url, settings=stack.settings, stack=stack, rasa_urls=rasa_urls,
                            action_urls=action_urls, balancer_admin=f"unix:{admin_socket}", log_dir=log_dir)
        defs = topology._definitions
        for i, url in enumerate(action_urls, 1):
            name = "actions" if action_servers == 1 else f"actions-{i}"
            defs[name] = partial(stack.action_server, url=f"{url}/webhook", name=name)
        for i, url in enumerate(rasa_urls, 1):
            defs[f"rasa-{i}"] = partial(stack.rasa_server, model, url=url, name=f"rasa-{i}")
        defs["balancer"] = lambda: Service(
            "balancer", [HAPROXY, "-db", "-f", str(config_path)],
            lambda s: _http_ok(f"{balancer_url}/"), where=f"{balancer_url} (HAProxy, {config_path})")
        try:
            for name in [n for n in defs if n.startswith("actions")]:
                stack.start(defs[name]())
            for name in [n for n in defs if n.startswith("rasa-")]:
                stack.start(defs[name]())
            stack.start(defs["balancer"]())
            stack.wait_healthy(timeout=400, on_ready=on_ready)
            for i in range(1, rasa_servers + 1):
                wait_balancer(topology.balancer_admin, f"rasa/rasa-{i}")
            if action_servers > 1:
                for i in range(1, action_servers + 1):
                    wait_balancer(topology.balancer_admin, f"actions/actions-{i}")
            yield topology
        finally:
            stack.stop()
            shutil.rmtree(admin_dir, ignore_errors=True)


def status_of(url: str, token: str | None) -> dict[str, object]:
    """Rasa's ``/status`` of one server (its model id and file)."""
    response = httpx.get(f"{url}/status", params={"token": token or ""}, timeout=10)
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result
