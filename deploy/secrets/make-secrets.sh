#!/usr/bin/env bash
# Writes the secret files deploy/compose.yaml reads (one per secret) and
# deploy/.env (RabbitMQ's password, for Compose's interpolation). Existing files are
# kept: run it again after deleting one to make a new one. Nothing here goes into git
# (deploy/.gitignore). The Telegram token and the SMTP password cannot be made up: put
# them in telegram_bot_token and smtp_password yourself (an empty smtp_password = no login).
#
# Kubernetes: the same files make the Secret of deploy/k8s/:
#   kubectl -n akto create secret generic assistant-secrets --from-file=deploy/secrets/
set -euo pipefail
cd "$(dirname "$0")"
# Compose (without Swarm) bind-mounts secret files as they are, and the containers run
# as uid 10001: the files are readable (0644) inside this folder, which only its owner
# can enter (0700), so other users of the host cannot read them.
chmod 700 .
umask 022
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
keep_or() { [ -s "$1" ] || printf '%s' "$2" > "$1"; }

keep_or postgres_password "$(random)"
keep_or rabbitmq_password "$(random)"
for name in rasa_auth_token action_server_token lead_links_secret console_secret webhook_secret; do
    keep_or "$name" "$(random)"
done
# Passwords from token_urlsafe need no escaping in a URL.
keep_or database_url "postgresql+psycopg://assistant:$(cat postgres_password)@postgres:5432/assistant"
keep_or rabbitmq_url "amqp://assistant:$(cat rabbitmq_password)@rabbitmq:5672/%2F"
[ -e telegram_bot_token ] || : > telegram_bot_token
[ -e smtp_password ] || : > smtp_password
(umask 077 && printf 'RABBITMQ_PASSWORD=%s\n' "$(cat rabbitmq_password)" > ../.env)
echo "secrets in $(pwd); fill in telegram_bot_token (and smtp_password) before 'compose up'"
[ -s telegram_bot_token ] || echo "telegram_bot_token est vide : le bot ne démarrera pas en webhook" >&2
