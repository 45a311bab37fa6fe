#!/bin/sh
# A realtime node in a container. watercooler.py reads REALTIME_SECRET,
# REALTIME_ALLOWED_ORIGINS, TURN_SECRET, TURN_URLS and TURN_TTL itself; the options it
# only takes as flags come from the environment here (docs/operations.md).
set -eu
for url in $(printf '%s' "${REALTIME_ICE_SERVERS:-}" | tr ',' ' '); do
    set -- "$@" "--ice-server=$url"
done
exec python watercooler.py --address=0.0.0.0 --port="${REALTIME_PORT:-8080}" \
    --broker="${REALTIME_BROKER:-memory://}" "$@"
