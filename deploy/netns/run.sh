#!/usr/bin/env bash
# The production topology across several "hosts" simulated on this machine with network
# namespaces (issue 14, section 5). Each host is a namespace with its own address on one
# bridge; nothing listens on the machine's own interfaces, and the services reach each
# other only through the bridge, by address, as they would across machines:
#
#   akto-data    10.77.0.10   PostgreSQL, Redis and RabbitMQ of its own (new, throw-away)
#   akto-rasa1   10.77.0.21   Rasa server 1  (deploy/images/rasa-entrypoint.py, as in the image)
#   akto-rasa2   10.77.0.22   Rasa server 2
#   akto-app     10.77.0.30   schema + content import, action server (app-entrypoint.sh)
#   akto-edge    10.77.0.40   HAProxy balancing the two Rasa servers (REST channel on :5005)
#
#   deploy/netns/run.sh up       # creates, starts, waits until healthy; prints the entry point
#   deploy/netns/run.sh down     # stops everything, deletes the namespaces and the bridge
#   deploy/netns/run.sh status
#
# The processes are the ones the images run (same entrypoints), from this tree's .venv and
# .venv-rasa instead of containers: no image registry or container runtime is needed.
# Needs root, iproute2 (ip netns), haproxy, redis-server, PostgreSQL's server binaries and
# rabbitmq-server (Debian packages), and `make install` done (venvs and the model).
# NETNS_PREFIX (default 10.77.0) changes the subnet, NETNS_NAME (default akto) the names'
# prefix (tests/e2e/test_netns.py uses its own), NETNS_STATE the state folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
NET=${NETNS_PREFIX:-10.77.0}
N=${NETNS_NAME:-akto}
STATE=${NETNS_STATE:-/var/tmp/$N-netns}
BRIDGE=$N-br0
declare -A ADDR=([$N-data]=$NET.10 [$N-rasa1]=$NET.21 [$N-rasa2]=$NET.22 [$N-app]=$NET.30 [$N-edge]=$NET.40)
HOSTS=("$N-data" "$N-rasa1" "$N-rasa2" "$N-app" "$N-edge")
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

say() { echo "[netns] $*"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

start_bg() {  # start_bg <name> <namespace> <command...>: detached, logged, pid kept
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" setsid "$@" > "$STATE/log/$name.log" 2>&1 < /dev/null &
    echo $! > "$STATE/pid/$name"
}

wait_for() {  # wait_for <label> <seconds> <command...>
    local label=$1 timeout=$2; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            say "pas prêt après ${timeout} s : $label (journaux : $STATE/log)"
            return 1
        fi
        sleep 1
    done
    say "prêt : $label"
}

http_ok() { in_ns $N-edge python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)" "$1"; }

check_tools() {
    local missing=()
    [ "$(id -u)" = 0 ] || missing+=("root")
    ip netns list >/dev/null 2>&1 || missing+=("ip netns")
    for tool in haproxy redis-server redis-cli rabbitmq-server setsid; do command -v $tool >/dev/null || missing+=("$tool"); done
    [ -x "$PG_BIN/initdb" ] || missing+=("postgresql (initdb)")
    [ -x .venv/bin/python ] && [ -x .venv-rasa/bin/python ] || missing+=("make install (.venv, .venv-rasa)")
    if [ ${#missing[@]} -gt 0 ]; then
        say "impossible ici : ${missing[*]}"
        exit 3
    fi
}

network_up() {
    if ip -br link | grep -q "^$N-"; then
        say "interfaces $N-* encore présentes : run.sh down d'abord"
        exit 1
    fi
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    local ns i=0
    for ns in "${HOSTS[@]}"; do
        i=$((i + 1))
        ip netns add "$ns"
        ip link add "$N-v$i" type veth peer name eth0 netns "$ns"
        ip link set "$N-v$i" master "$BRIDGE" up
        in_ns "$ns" ip addr add "${ADDR[$ns]}/24" dev eth0
        in_ns "$ns" ip link set eth0 up
        in_ns "$ns" ip link set lo up
    done
}

data_up() {
    local data=${ADDR[$N-data]}
    mkdir -p "$STATE/pg" "$STATE/rabbitmq"
    chown postgres "$STATE/pg"
    su postgres -s /bin/sh -c "$PG_BIN/initdb -A trust -U postgres -D '$STATE/pg/data'" > "$STATE/log/initdb.log"
    echo "host all all $NET.0/24 trust" >> "$STATE/pg/data/pg_hba.conf"
    start_bg postgres $N-data su postgres -s /bin/sh -c \
        "exec $PG_BIN/postgres -D '$STATE/pg/data' -c listen_addresses='$data' -c unix_socket_directories='$STATE/pg'"
    # No password: endpoints.production.yml's lock store has none (url, port, db); the
    # bridge is private to this machine, so protected mode (loopback only) is turned off.
    start_bg redis "$N-data" redis-server --bind "$data" --port 6379 --save "" --appendonly no --protected-mode no
    # RabbitMQ of its own: node, data and logs under $STATE; the guest user may connect
    # from the other hosts (it is loopback-only by default).
    # Debian's rabbitmq-server switches to the rabbitmq user (keeping these variables).
    printf 'loopback_users = none\nlisteners.tcp.default = %s:5672\n' "$data" > "$STATE/rabbitmq/rabbitmq.conf"
    echo '[].' > "$STATE/rabbitmq/enabled_plugins"
    chown -R rabbitmq "$STATE/rabbitmq"
    start_bg rabbitmq $N-data env RABBITMQ_NODENAME=akto@localhost \
        RABBITMQ_CONFIG_FILE="$STATE/rabbitmq/rabbitmq.conf" RABBITMQ_MNESIA_BASE="$STATE/rabbitmq/mnesia" \
        RABBITMQ_LOG_BASE="$STATE/rabbitmq/log" RABBITMQ_ENABLED_PLUGINS_FILE="$STATE/rabbitmq/enabled_plugins" \
        rabbitmq-server
    wait_for "PostgreSQL $data:5432" 60 in_ns $N-data "$PG_BIN/pg_isready" -q -h "$data" -p 5432
    su postgres -s /bin/sh -c "$PG_BIN/psql -q -h $data -U postgres -c 'create database assistant'" >/dev/null
    wait_for "Redis $data:6379" 30 in_ns $N-data redis-cli -h "$data" ping
    wait_for "RabbitMQ $data:5672" 120 in_ns $N-edge python3 -c \
        "import socket; socket.create_connection(('$data', 5672), 2)"
}

common_env() {
    local data=${ADDR[$N-data]}
    echo DATABASE_URL="postgresql+psycopg://postgres@$data:5432/assistant" \
        REDIS_URL="redis://$data:6379/0" RABBITMQ_URL="amqp://guest:guest@$data:5672/%2F" \
        ACTION_SERVER_URL="http://${ADDR[$N-app]}:5055/webhook" \
        ACTION_SERVER_TOKEN="$(cat "$STATE/action_server_token")" RASA_AUTH_TOKEN="$(cat "$STATE/rasa_auth_token")" \
        ASSISTANT_VAR_DIR="$STATE/var"
}

app_up() {
    # shellcheck disable=SC2046
    in_ns $N-app env $(common_env) PATH="$ROOT/.venv/bin:$PATH" sh deploy/images/app-entrypoint.sh init \
        > "$STATE/log/init.log" 2>&1
    # shellcheck disable=SC2046
    start_bg actions $N-app env $(common_env) PATH="$ROOT/.venv/bin:$PATH" SANIC_HOST="${ADDR[$N-app]}" \
        ACTION_SERVER_PORT=5055 sh deploy/images/app-entrypoint.sh actions
}

rasa_up() {
    local model
    model=$(.venv/bin/python -c 'from stack.model import model_path; print(model_path())')
    [ -f "$model" ] || { say "pas de modèle ($model) : make model"; exit 3; }
    for ns in $N-rasa1 $N-rasa2; do
        # shellcheck disable=SC2046
        start_bg "${ns#"$N"-}" "$ns" env $(common_env) RASA_MODEL="$model" RASA_PORT=5005 TICKET_LOCK_LIFETIME=10 \
            .venv-rasa/bin/python deploy/images/rasa-entrypoint.py run
    done
}

edge_up() {
    # The balancer's configuration is the topology's own (stack.topology.haproxy_config:
    # health checks, leastconn, retries, redispatch, retry-on), bound to the edge's address
    # instead of 127.0.0.1.
    .venv/bin/python - "$STATE" "${ADDR[$N-edge]}" "${ADDR[$N-rasa1]}" "${ADDR[$N-rasa2]}" > "$STATE/haproxy.cfg" <<'PY'
import sys
from stack.topology import haproxy_config
state, edge, rasa1, rasa2 = sys.argv[1:]
config = haproxy_config(rasa_listen=5005, admin_socket=f"{state}/haproxy.sock",
                        rasa_servers=[("rasa1", f"http://{rasa1}:5005"), ("rasa2", f"http://{rasa2}:5005")])
print(config.replace("bind 127.0.0.1:5005", f"bind {edge}:5005"))
PY
    grep -q "bind ${ADDR[$N-edge]}:5005" "$STATE/haproxy.cfg"
    start_bg haproxy "$N-edge" haproxy -db -f "$STATE/haproxy.cfg"
}

up() {
    check_tools
    if ip netns list | grep -q "^$N-"; then
        say "déjà lancé ($STATE) : run.sh down d'abord"
        exit 1
    fi
    rm -rf "$STATE"
    mkdir -p "$STATE/log" "$STATE/pid" "$STATE/var"
    chmod 755 "$STATE"
    python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$STATE/rasa_auth_token"
    python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$STATE/action_server_token"
    chmod 600 "$STATE"/*_token
    network_up
    data_up
    rasa_up          # Rasa takes the longest: start both before the rest
    app_up
    edge_up
    wait_for "actions ${ADDR[$N-app]}:5055" 90 http_ok "http://${ADDR[$N-app]}:5055/health"
    wait_for "rasa1 ${ADDR[$N-rasa1]}:5005" 400 http_ok "http://${ADDR[$N-rasa1]}:5005/"
    wait_for "rasa2 ${ADDR[$N-rasa2]}:5005" 400 http_ok "http://${ADDR[$N-rasa2]}:5005/"
    wait_for "HAProxy ${ADDR[$N-edge]}:5005" 30 http_ok "http://${ADDR[$N-edge]}:5005/"
    say "topologie prête : REST http://${ADDR[$N-edge]}:5005/webhooks/rest/webhook (depuis l'hôte ou un espace $N-*)"
}

down() {
    local pidfile pid
    for pidfile in "$STATE"/pid/*; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 2
    for pidfile in "$STATE"/pid/*; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
    # Anything left inside a namespace (RabbitMQ's epmd, say) goes with it.
    for ns in "${HOSTS[@]}"; do
        if ip netns list | grep -q "^$ns\b"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
            ip netns del "$ns"
        fi
    done
    ip link del "$BRIDGE" 2>/dev/null || true
    # The kernel deletes a namespace's devices asynchronously: wait until they are gone, so
    # an `up` right after does not find their names taken.
    local i
    for i in $(seq 1 50); do
        ip -br link | grep -q "^$N-" || break
        sleep 0.2
    done
    say "arrêté, espaces de noms supprimés (journaux gardés dans $STATE/log)"
}

status() {
    ip netns list | grep "^$N-" || { say "rien ne tourne"; return 0; }
    for ns in "${HOSTS[@]}"; do
        echo "$ns ${ADDR[$ns]}: $(ip netns pids "$ns" 2>/dev/null | wc -l) processus"
    done
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up | down | status"; exit 2 ;;
esac
