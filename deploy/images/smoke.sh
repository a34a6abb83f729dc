#!/usr/bin/env bash
# Runs the two images built by build.sh against this machine's PostgreSQL, Redis and
# RabbitMQ (production endpoints: PostgreSQL tracker store, Redis lock store, pika event
# broker), with podman and host networking, and talks to Rasa as the bot does:
#
#   deploy/images/smoke.sh
#
# Checks: `rasa --version`; the app image imports every process; `init` migrates and
# imports content/; the action server refuses a call without its token; Rasa's /status
# refuses one without its token; the greeting; the recruiting list of Martinique (a custom
# action on the app image's action server); a retried message_id answered with the same
# replies; the events in PostgreSQL and on RabbitMQ. Everything it made is removed at the end.
#
# podman here: `--runtime runc` and lowered ulimits (crun refuses this VM's hybrid cgroups
# and raised rlimits without CAP_SYS_RESOURCE).
# SMOKE_DB (default test_deploy, dropped and recreated), SMOKE_REDIS_DB (5), SMOKE_PORT (19005:
# the action server; Rasa on the next one), SMOKE_QUEUE (deploy_rasa_events).
set -euo pipefail
DB=${SMOKE_DB:-test_deploy}
REDIS_DB=${SMOKE_REDIS_DB:-5}
ACTIONS_PORT=${SMOKE_PORT:-19005}
RASA_PORT=$((ACTIONS_PORT + 1))
QUEUE=${SMOKE_QUEUE:-deploy_rasa_events}
TAG=${IMAGE_TAG:-latest}
PODMAN=(podman --runtime runc)
RUN=("${PODMAN[@]}" run --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
work=$(mktemp -d)
fail=0

say() { echo "[smoke] $*"; }
ok() { say "ok    $*"; }
ko() { say "ÉCHEC $*"; fail=1; }
cleanup() {
    "${PODMAN[@]}" rm -f deploy-smoke-rasa deploy-smoke-actions >/dev/null 2>&1 || true
    rabbitmqctl -q delete_queue "$QUEUE" >/dev/null 2>&1 || true
    rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$QUEUE\">>), false, <<\"smoke\">>)." \
        >/dev/null 2>&1 || true
    redis-cli -n "$REDIS_DB" flushdb >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

psql -q -h 127.0.0.1 -U postgres -c "drop database if exists $DB" -c "create database $DB" >/dev/null
python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$work/rasa_auth_token"
python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$work/action_server_token"
printf 'postgresql+psycopg://postgres@127.0.0.1:5432/%s' "$DB" > "$work/database_url"
printf 'amqp://guest:guest@127.0.0.1:5672/%%2F' > "$work/rabbitmq_url"
chmod 755 "$work"; chmod 644 "$work"/*
ENV=(-v "$work:/run/secrets:ro"
     -e DATABASE_URL_FILE=/run/secrets/database_url -e RABBITMQ_URL_FILE=/run/secrets/rabbitmq_url
     -e RASA_AUTH_TOKEN_FILE=/run/secrets/rasa_auth_token -e ACTION_SERVER_TOKEN_FILE=/run/secrets/action_server_token
     -e REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB" -e ACTION_SERVER_URL="http://127.0.0.1:$ACTIONS_PORT/webhook"
     -e RASA_EVENTS_QUEUE="$QUEUE" -e RASA_EVENTS_EXCHANGE="$QUEUE")

version=$("${RUN[@]}" --rm "localhost/akto/rasa:$TAG" --version 2>/dev/null | grep -E '^(Rasa Version|Python Version)' | tr -s ' ')
[[ $version == *"3.6.21"*"3.10.13"* ]] && ok "rasa --version : ${version//$'\n'/, }" || ko "rasa --version : $version"
[ "$("${RUN[@]}" --rm "localhost/akto/app:$TAG" check 2>/dev/null)" = ok ] && ok "app check" || ko "app check"
"${RUN[@]}" --rm "${ENV[@]}" "localhost/akto/app:$TAG" init > "$work/init.log" 2>&1 && ok "app init" || ko "app init ($(tail -1 "$work/init.log"))"

"${RUN[@]}" -d --name deploy-smoke-actions "${ENV[@]}" -e SANIC_HOST=127.0.0.1 -e ACTION_SERVER_PORT="$ACTIONS_PORT" \
    "localhost/akto/app:$TAG" actions >/dev/null
"${RUN[@]}" -d --name deploy-smoke-rasa "${ENV[@]}" -e RASA_PORT="$RASA_PORT" "localhost/akto/rasa:$TAG" run >/dev/null
started=$SECONDS
until curl -sf "http://127.0.0.1:$RASA_PORT/" >/dev/null; do
    if [ $((SECONDS - started)) -gt 400 ] || [ -z "$("${PODMAN[@]}" ps -q --filter name=deploy-smoke-rasa)" ]; then
        ko "Rasa pas prêt"; "${PODMAN[@]}" logs deploy-smoke-rasa 2>&1 | tail -20; exit 1
    fi
    sleep 2
done
ok "Rasa prêt en $((SECONDS - started)) s"

code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$ACTIONS_PORT/webhook" -d '{}')
[ "$code" = 401 ] && ok "actions sans jeton : 401" || ko "actions sans jeton : $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RASA_PORT/status")
[ "$code" = 401 ] && ok "Rasa /status sans jeton : 401" || ko "Rasa /status sans jeton : $code"

send() {  # send <message> <message_id>
    curl -s -X POST "http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook" -H 'content-type: application/json' \
        -d "{\"sender\": \"deploy-smoke\", \"message\": \"$1\", \"message_id\": \"$2\"}"
}
[[ $(send slt m1) == *"Ici c'est ma place"* ]] && ok "accueil" || ko "accueil"
send /ask_recruiting_jobs m2 >/dev/null
first=$(send martinique m3)
[[ $first == *"recrutent en Martinique"* ]] && ok "métiers qui recrutent (action personnalisée)" || ko "métiers : $first"
[ "$(send martinique m3)" = "$first" ] && ok "message_id renvoyé : mêmes réponses" || ko "message_id renvoyé"
events=$(psql -h 127.0.0.1 -U postgres "$DB" -Atc "select count(*) from events where sender_id = 'deploy-smoke'")
[ "$events" -gt 0 ] && ok "$events événements dans PostgreSQL" || ko "aucun événement dans PostgreSQL"
queued=$(rabbitmqctl -q list_queues name messages 2>/dev/null | awk -v q="$QUEUE" '$1 == q {print $2}')
[ "${queued:-0}" -gt 0 ] && ok "$queued événements sur RabbitMQ ($QUEUE)" || ko "aucun événement sur RabbitMQ"
exit $fail
