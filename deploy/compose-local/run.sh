#!/usr/bin/env bash
# Runs deploy/compose.yaml itself on this machine with podman-compose (Debian's 1.0.3),
# where no image registry can be reached and no Docker daemon exists:
#
#   deploy/compose-local/run.sh up      # builds the stand-ins, starts, then the checks below
#   deploy/compose-local/run.sh check   # through the balancer as the bot: greeting, a custom action,
#                                       # a retried message_id, events in PostgreSQL and RabbitMQ,
#                                       # the console, then rasa-1 killed: answered by rasa-2
#   deploy/compose-local/run.sh down
#
# What differs from a real host, and why (everything else is the Compose file as is):
# - the public images (postgres, redis, rabbitmq, haproxy) are stand-ins built from
#   Debian's packages (standins.Containerfile);
# - the two bots are left out: they would call Telegram's servers, which this machine must
#   not reach (the REST channel is driven through the balancer instead, as the bot does);
# - published ports move to 127.0.0.1:19050-19052 (other engineers' consoles use 8080), and
#   the balancer's Rasa port is published so the checks can reach it;
# - SMTP_HOST is 127.0.0.1 (no lead is sent; nothing leaves the machine);
# - podman runs with runc and lowered ulimits (this VM's crun refuses its cgroups and
#   raised rlimits), and without memory limits (same reason);
# - podman-compose 1.0.3 does not wait for health conditions: the data services, then
#   `init`, then the rest are started in that order by this script.
# The project is akto-local; its copy, secrets and volumes live in $STATE
# (default /var/tmp/akto-compose).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
STATE=${COMPOSE_STATE:-/var/tmp/akto-compose}
PROJECT=akto-local
export CONTAINERS_CONF=$STATE/containers.conf
mkdir -p "$STATE"
printf '[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n' \
    > "$CONTAINERS_CONF"
say() { echo "[compose] $*"; }
compose() { (cd "$STATE" && podman-compose -p "$PROJECT" -f compose.yaml "$@"); }

prepare() {
    mkdir -p "$STATE/secrets"
    cp -r deploy/haproxy "$STATE/"
    cp deploy/secrets/make-secrets.sh "$STATE/secrets/"
    bash "$STATE/secrets/make-secrets.sh" >/dev/null 2>&1
    python3 - "$ROOT/deploy/compose.yaml" "$STATE/compose.yaml" <<'PY'
import sys
import yaml

source, target = sys.argv[1:]
compose = yaml.safe_load(open(source))
services = compose["services"]
for name in ("bot-1", "bot-2"):
    del services[name]
standins = {"postgres": "postgres", "redis": "redis", "rabbitmq": "rabbitmq", "balancer": "haproxy"}
for name, service in services.items():
    if name in standins:
        service["image"] = f"localhost/akto/standin-{standins[name]}:latest"
    service.pop("deploy", None)
    env = service.get("environment") or {}
    if "SMTP_HOST" in env:
        env["SMTP_HOST"] = "127.0.0.1"
    for dependency in list(service.get("depends_on") or {}):
        if dependency.startswith("bot-"):
            del service["depends_on"][dependency]
services["balancer"]["ports"] = ["127.0.0.1:19050:5005"]
services["console"]["ports"] = ["127.0.0.1:19051:8080"]
services["worker"]["ports"] = ["127.0.0.1:19052:8090"]
compose["secrets"] = {k: v for k, v in compose["secrets"].items() if k not in ("telegram_bot_token", "webhook_secret")}
yaml.safe_dump(compose, open(target, "w"), sort_keys=False)
PY
    # The haproxy stand-in has no bots to balance: their backend stays, with no server up.
}

wait_for() {  # wait_for <label> <seconds> <command...>
    local label=$1 timeout=$2 start=$SECONDS; shift 2
    until "$@" >/dev/null 2>&1; do
        if [ $((SECONDS - start)) -ge "$timeout" ]; then say "pas prêt après ${timeout} s : $label"; return 1; fi
        sleep 2
    done
    say "prêt en $((SECONDS - start)) s : $label"
}

up() {
    for image in app rasa; do
        podman image exists "localhost/akto/$image:latest" || { say "image $image absente : deploy/images/build.sh"; exit 3; }
    done
    for standin in postgres redis rabbitmq haproxy; do
        podman image exists "localhost/akto/standin-$standin:latest" && continue
        buildah bud --isolation chroot --layers --build-arg BASE=localhost/akto/debian-base:bookworm \
            --ignorefile deploy/images/app.containerignore --target "$standin" \
            -f deploy/compose-local/standins.Containerfile -t "localhost/akto/standin-$standin:latest" . >/dev/null
    done
    prepare
    compose up -d postgres redis rabbitmq >/dev/null 2>&1
    wait_for postgres 90 podman exec "${PROJECT}_postgres_1" pg_isready -U assistant -d assistant
    wait_for redis 30 podman exec "${PROJECT}_redis_1" redis-cli ping
    wait_for rabbitmq 120 podman exec "${PROJECT}_rabbitmq_1" rabbitmq-diagnostics -q ping
    compose up -d --no-deps init >/dev/null 2>&1   # (a plain `up init` stays attached to every log)
    podman wait "${PROJECT}_init_1" >/dev/null
    podman logs "${PROJECT}_init_1" > "$STATE/init.log" 2>&1
    grep -q "réponses FAQ\|inchangé\|version" "$STATE/init.log" && say "init : schéma et contenu importés" \
        || { say "init a échoué :"; tail -5 "$STATE/init.log"; exit 1; }
    compose up -d >/dev/null 2>&1
    wait_for "rasa-1 et rasa-2 derrière le répartiteur (127.0.0.1:19050)" 600 \
        curl -sf http://127.0.0.1:19050/
    for name in rasa-1 rasa-2; do
        wait_for "$name" 300 podman exec "${PROJECT}_${name}_1" python -c \
            "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5005/', timeout=3)"
    done
    wait_for console 60 curl -sf http://127.0.0.1:19051/health
}

check() {  # what an operator would look at, through the balancer as the bot talks to Rasa
    local fail=0 sender="compose-$RANDOM" first
    ok() { say "ok    $*"; }
    ko() { say "ÉCHEC $*"; fail=1; }
    send() {  # send <sender> <message> <message_id>
        curl -s -X POST http://127.0.0.1:19050/webhooks/rest/webhook -H 'content-type: application/json' \
            -d "{\"sender\": \"$1\", \"message\": \"$2\", \"message_id\": \"$3\"}"
    }
    [[ $(send "$sender" slt m1) == *"Ici c'est ma place"* ]] && ok "accueil via HAProxy" || ko "accueil"
    send "$sender" /ask_recruiting_jobs m2 >/dev/null
    first=$(send "$sender" martinique m3)
    [[ $first == *"recrutent en Martinique"* ]] && ok "métiers qui recrutent (actions derrière HAProxy)" || ko "métiers : $first"
    [ "$(send "$sender" martinique m3)" = "$first" ] && ok "message_id renvoyé : mêmes réponses" || ko "message_id renvoyé"
    local events queued
    events=$(podman exec "${PROJECT}_postgres_1" psql -U assistant -d assistant -Atc \
        "select count(*) from events where sender_id = '$sender'" 2>/dev/null)
    [ "${events:-0}" -gt 0 ] && ok "$events événements dans PostgreSQL" || ko "aucun événement dans PostgreSQL"
    queued=$(podman exec "${PROJECT}_rabbitmq_1" rabbitmqctl -q list_queues name messages 2>/dev/null \
        | awk '$1 == "rasa_events" {print $2}')
    [ "${queued:-0}" -gt 0 ] && ok "$queued événements sur RabbitMQ" || ko "aucun événement sur RabbitMQ"
    curl -sf http://127.0.0.1:19051/health >/dev/null && ok "console /health" || ko "console"
    podman kill "${PROJECT}_rasa-1_1" >/dev/null
    local answered=0 i
    for i in 1 2 3 4 5 6; do
        [[ $(send "compose-down-$i-$RANDOM" slt "d$i") == *"Ici c'est ma place"* ]] && answered=$((answered + 1))
    done
    [ $answered = 6 ] && ok "rasa-1 tué : 6/6 messages répondus par rasa-2" || ko "rasa-1 tué : $answered/6 répondus"
    podman start "${PROJECT}_rasa-1_1" >/dev/null 2>&1   # (podman warns that systemd runs no health checks here)
    return $fail
}

case ${1:-} in
    up) up && check ;;
    check) check ;;
    down) [ -f "$STATE/compose.yaml" ] && compose down -v >/dev/null 2>&1
          podman network rm "${PROJECT}_internal" "${PROJECT}_edge" >/dev/null 2>&1 || true
          say "arrêté" ;;
    ps) compose ps ;;
    *) echo "usage: $0 up | check | down | ps"; exit 2 ;;
esac
