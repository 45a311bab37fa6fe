#!/bin/sh
# The API container: apply migrations (unless MIGRATE_ON_START=false), optionally seed
# the demo data (SEED_DEMO=true), then run the command: gunicorn by default.
set -eu
if [ "${MIGRATE_ON_START:-true}" = "true" ]; then
    python manage.py migrate --noinput
fi
if [ "${SEED_DEMO:-false}" = "true" ]; then
    python manage.py seed_demo
fi
exec "$@"
