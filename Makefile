# Watercooler — the two commands of the README are `make run` and `make test`.
# Both build the virtualenv themselves; nothing needs installing by hand.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS_URL ?= redis://127.0.0.1:6379/0
DJANGO_PORT ?= 8000
REALTIME_PORT ?= 8080
CLUSTER_PORT ?= 8000

.PHONY: run cluster test test-sqlite test-postgres test-js lint venv system-deps demo bench bench-full clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the browser tests and the cluster need (root on these machines).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  echo "installing Debian nginx for make cluster and its tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light) >/dev/null; }

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

# Django on 127.0.0.1:$(DJANGO_PORT) and the realtime server on :$(REALTIME_PORT).
# Ctrl-C stops both (they share the terminal's process group; the trap catches stragglers).
run: demo
	@echo "Board:    http://127.0.0.1:$(DJANGO_PORT)/   API: http://127.0.0.1:$(DJANGO_PORT)/api/"
	@echo "Realtime: ws://127.0.0.1:$(REALTIME_PORT)/<sprint>/"
	@trap 'kill 0 2>/dev/null; exit 0' INT TERM; \
	$(PY) watercooler.py --port $(REALTIME_PORT) --debug & \
	$(PY) manage.py runserver 127.0.0.1:$(DJANGO_PORT) & \
	wait

# The production shape without Docker (docker/compose.yaml's services on this machine):
# Redis at $(REDIS_URL), Django under gunicorn, two realtime nodes on the Redis broker,
# nginx in front on http://127.0.0.1:$(CLUSTER_PORT)/. Ctrl-C stops it all.
cluster: $(STAMP) system-deps
	$(PY) docker/cluster.py --port $(CLUSTER_PORT) --redis-url $(REDIS_URL)

# TypeScript (pinned in package.json / package-lock.json) type-checks web/'s JSDoc.
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

lint: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy api signaling peer
	node_modules/.bin/tsc -p tsconfig.json

# The realtime, peer, cluster and deploy suites and the browser suite on the embedded
# default (SQLite + in-memory broker, with Redis where a test says so); the database-backed
# suites (api, integration) on the real PostgreSQL, plus the SQLite-only checks of `make run`.
# A missing PostgreSQL or Redis is a failure, never a skip.
test: $(STAMP) system-deps lint test-js test-sqlite test-postgres

# The browser suite runs in its own process: Playwright's sync API keeps an event loop
# running in the main thread, which the asyncio suites cannot share.
test-sqlite: $(STAMP)
	$(VENV)/bin/pytest tests --ignore=tests/web --ignore=tests/api --ignore=tests/integration
	$(VENV)/bin/pytest tests/api/test_seed_demo.py tests/api/test_migrations.py tests/api/test_web_root.py
	$(VENV)/bin/pytest tests/web

# The suites that touch the database, on PostgreSQL (the realtime-only suites have no
# database and ran above; the browser suite drives the board on SQLite).
test-postgres: $(STAMP)
	DATABASE_URL=$(PG_URL) $(VENV)/bin/pytest tests/api tests/integration -m "not browser"

test-js:
	@if ls web/tests/*.test.js >/dev/null 2>&1; then node --test web/tests/; fi

# Benchmarks (bench/README.md): their own pinned deps on top of the dev ones. `make bench`
# is the quick run (a few minutes, bench/results/quick/, not committed); `make bench-full`
# writes the committed report bench/results/REPORT.md (10 to 20 minutes).
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PIP) install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench --quick

bench-full: $(BENCH_STAMP)
	$(PY) -m bench --full

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache db.sqlite3 test-artifacts
