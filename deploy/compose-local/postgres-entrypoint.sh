#!/bin/sh
# What the official postgres image does with the variables deploy/compose.yaml sets:
# a cluster made on first start (UTF-8; password from POSTGRES_PASSWORD_FILE, scram), the
# database POSTGRES_DB owned by POSTGRES_USER, then the server on every interface.
set -eu
mkdir -p "$PGDATA" /run/postgresql
chown postgres "$PGDATA" /run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    cp "$POSTGRES_PASSWORD_FILE" /tmp/pwfile && chown postgres /tmp/pwfile
    su postgres -s /bin/sh -c "initdb -D '$PGDATA' -U '$POSTGRES_USER' --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8" >/dev/null
    rm -f /tmp/pwfile
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    su postgres -s /bin/sh -c "pg_ctl -D '$PGDATA' -w -o '-c listen_addresses=' start" >/dev/null
    su postgres -s /bin/sh -c "psql -q -U '$POSTGRES_USER' -d postgres -c 'create database \"$POSTGRES_DB\"'"
    su postgres -s /bin/sh -c "pg_ctl -D '$PGDATA' -w stop" >/dev/null
fi
exec su postgres -s /bin/sh -c "exec postgres -D '$PGDATA' -c listen_addresses='*'"
