#!/bin/sh
# One app image, one process per container: the first argument picks it.
# Each is the same module `make run` starts (stack/services.py), so a container runs
# exactly what runs on one machine; only where it listens differs (set in the image).
set -eu
cd "$(dirname "$0")/../.."   # /app in the image
# Secrets come as files (Compose secrets, Kubernetes secret volumes): NAME_FILE=/path sets
# NAME to the file's content, so no secret sits in the container's configuration. Only
# these names (SMTP_CA_FILE, say, is a setting of its own); same list in rasa-entrypoint.py.
SECRET_NAMES="DATABASE_URL REDIS_URL RABBITMQ_URL RASA_AUTH_TOKEN ACTION_SERVER_TOKEN TELEGRAM_BOT_TOKEN
WEBHOOK_SECRET LEAD_LINKS_SECRET CONSOLE_SECRET SMTP_PASSWORD CONSOLE_ADMIN_PASSWORD"
for name in $SECRET_NAMES; do
    eval "file=\${${name}_FILE:-}"
    [ -n "$file" ] || continue
    if [ ! -r "$file" ]; then
        echo "${name}_FILE : fichier illisible ($file)" >&2
        exit 2
    fi
    eval "$name=\$(cat \"\$file\")"
    export "$name"
    unset "${name}_FILE"
done
process=${1:-help}
[ $# -gt 0 ] && shift
case "$process" in
    bot)        exec python -m bot "$@" ;;                       # Telegram, webhook mode when WEBHOOK_URL is set
    actions)    exec python -m stack.action_server --host "${SANIC_HOST:-0.0.0.0}" --port "${ACTION_SERVER_PORT:-5055}" "$@" ;;
    worker)     exec python -m akto_data.leads.worker "$@" ;;    # lead outbox + status page (LEAD_LINKS_PORT)
    console)    exec python -m web "$@" ;;                       # staff console + CFA portal (CONSOLE_PORT)
    # One-shot, before the others: schema up to date and content/ imported as make run does
    # (never overwrites a version published from the console).
    init)       exec python -c 'from akto_data.catalogue.importer import domain_topics
from akto_data.catalogue.publishing import sync_at_start
from akto_data.db import create_schema, session_scope
from akto_data.settings import CONTENT_DIR
create_schema()
with session_scope() as session:
    print(sync_at_start(session, CONTENT_DIR, domain_topics()), flush=True)' ;;
    create-admin) exec python -m web create-admin "$@" ;;
    check)      exec python -c 'import bot, actions, akto_data, web, stack.action_server; print("ok")' ;;
    help|*)     echo "usage: bot | actions | worker | console | init | create-admin --email … --name … | check"
                [ "$process" = help ] && exit 0 || exit 2 ;;
esac
