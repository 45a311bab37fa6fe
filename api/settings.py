"""Django settings for Watercooler, read from the environment (12-factor).

Every setting has a development default so that `make run` needs no configuration.
Defaults marked DEV ONLY must be overridden in production. Over 300 lines because every
setting carries its documentation beside it; the sections below are independent.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str) -> str:
    """The environment variable `name`, or `default` when unset or empty."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    """`1/true/yes/on` (any case) are true, `0/false/no/off` false; unset gives `default`."""
    value = os.environ.get(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_float(name: str, default: float) -> float:
    return float(env_str(name, str(default)))


def env_count(name: str, default: int) -> int:
    """A whole number >= 0."""
    value = env_str(name, str(default)).strip()
    if not value.isdecimal():
        raise ImproperlyConfigured(f"{name} must be a whole number >= 0, not {value!r}")
    return int(value)


_RATE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate like `10/minute`; `off` disables it (None)."""
    value = env_str(name, default).strip().lower()
    if value == "off":
        return None
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must look like 10/minute (or be off), "
                                   f"not {value!r}")
    return value


BASE_DIR = Path(__file__).resolve().parent.parent  # the repository root

# --- Core -------------------------------------------------------------------------------

# SECRET_KEY: Django's signing key (sessions, CSRF). DEV ONLY default.
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
# DEBUG: true by default for development; set DEBUG=false in production.
DEBUG = env_bool("DEBUG", True)
# ALLOWED_HOSTS: comma-separated host names Django answers for.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# CSRF_TRUSTED_ORIGINS: comma-separated origins allowed to POST with session auth
# (needed behind a TLS-terminating proxy); empty by default.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# SITE_URL: scheme + host for absolute links built outside a request
# (management commands, the admin's events are built inside a request and use its host).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# A site served over HTTPS sends its session and CSRF cookies over HTTPS only: a board
# login starts a session, which must not leak over plain HTTP.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SITE_URL.startswith("https://")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets served by us: no CDN needed
    "api.board",
    "api.realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # NUL in headers and cookies; under /api/: NUL in the path or query, long query
    # values, bodies over the limit (api/middleware.py).
    "api.middleware.ApiInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Remembers the request's scheme + host so links in outbox events match the API's.
    "api.links.RequestOriginMiddleware",
]

ROOT_URLCONF = "api.urls"
WSGI_APPLICATION = "api.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

# DATABASE_URL: e.g. postgres://user:pass@host:5432/name (psycopg 3). Default: SQLite file
# db.sqlite3 at the repository root. CONN_MAX_AGE: seconds to keep connections (default 0).
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(env_str("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE: a write transaction takes the lock at BEGIN, so concurrent writers (the
    # dev server's threads, the delivery thread) wait for each other instead of failing
    # with "database is locked" when a read lock is upgraded.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
    # Tests run a live server and the delivery thread beside the test thread. Django's
    # default in-memory test database uses SQLite's shared cache, whose table locks fail
    # at once ("database table is locked") instead of waiting; a file waits (timeout).
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"watercooler-test-{os.getpid()}.sqlite3")
    }
# DATABASE_TEST_NAME: name of the test database (default Django's "test_<NAME>"), so
# parallel test runs on one PostgreSQL server need not clash.
if os.environ.get("DATABASE_TEST_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n -------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
# TIME_ZONE: the zone "today" is judged in (a sprint has ended when its end date < today).
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and the browser client ------------------------------------------------

# Django's own assets (admin, browsable API) under /static/, collected into STATIC_ROOT
# by `manage.py collectstatic` for production and served by WhiteNoise.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed but not hashed: no manifest is needed, so tests and DEBUG=false runs work
    # without collectstatic.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# WEB_ROOT: the browser client (plain ES modules, no build step). WhiteNoise serves it at
# the site root: `/` is web/index.html and `/app.js` is web/app.js. Paths WhiteNoise does
# not find fall through to Django (so /api/ and /admin/ are unaffected, and `/` is a 404
# until web/index.html exists).
WHITENOISE_ROOT = Path(env_str("WEB_ROOT", str(BASE_DIR / "web")))
WHITENOISE_INDEX_FILE = True
# Serve app static files (admin, DRF) through the finders too, so nothing breaks before
# `collectstatic` has run (WhiteNoise then warns "No directory at .../staticfiles/").
WHITENOISE_USE_FINDERS = True

# --- REST API ---------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes unauthenticated requests 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.board.pagination.BoardPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "api.ordering.StrictOrderingFilter",
    ],
    # DRF's three, bounded (api/parsers.py): nesting depth, NUL, lone surrogates, 1e999.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser", "api.parsers.FormParser",
                               "api.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.error_body_exception_handler",
    # Rates per client, counted in the cache (CACHE_URL): 429 with Retry-After over them.
    "DEFAULT_THROTTLE_CLASSES": ["api.board.throttling.AnonThrottle",
                                 "api.board.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "60/minute"),
        "user": env_rate("API_THROTTLE_USER", "3000/minute"),
        "login": env_rate("API_THROTTLE_LOGIN", "10/minute"),  # POST /api/token/, per IP
    },
    # API_NUM_PROXIES: reverse proxies in front of Django that append to X-Forwarded-For
    # (1 behind the compose/`make cluster` nginx). 0 trusts only the socket's address, so
    # a client cannot pick its own throttle bucket with a forged header.
    "NUM_PROXIES": env_count("API_NUM_PROXIES", 0),
}

# CACHE_URL: where throttle counts live. Default: this process's memory (fine for one
# process); set redis://host:port/db when several processes or containers serve the API.
CACHE_URL = env_str("CACHE_URL", "locmem://")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CACHE_URL}}
elif CACHE_URL == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be locmem:// or redis://..., not {CACHE_URL!r}")

# How to authorize, shown at the top of /api/docs/ (Markdown). The paths are the URL table's.
API_DOCS_DESCRIPTION = """\
Scrum board: sprints, tasks, users, realtime tickets. The realtime contract (websocket
frames, drag state, events) is `docs/protocol.md` in the repository.

**This page and the schema are open; every operation needs a login.** Two ways:

* **A session.** Logged in on the [board](/) (or [log in here](/api/auth/login/?next=/api/docs/)),
  this browser's session cookie goes with every request you try out below; nothing to
  do. Writes carry the CSRF token of this page.
* **A token.** `POST /api/token/` with `{"username": "…", "password": "…"}` answers
  `{"token": "<key>"}`. Click **Authorize** and enter `Token <key>` under *tokenAuth*
  (the word `Token`, a space, the key). Scripts send the same
  `Authorization: Token <key>` header.

Logging out on the board ends the session (here, the browsable API at [/api/](/api/)
and the admin too) and keeps the token: it is the user's one API key.
"""

SPECTACULAR_SETTINGS = {
    "TITLE": "Watercooler API",
    "DESCRIPTION": API_DOCS_DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page are open (they hold no data), so a new user can read
    # them and log in from there; the operations they describe still need a login.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # persistAuthorization: a token entered under Authorize survives a reload (kept in
    # this origin's localStorage, which the board's logout clears).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True,
                            "displayRequestDuration": True},
    # Every operation's error responses, by rule (api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "api.schema.add_error_responses"],
}
# API_MAX_BODY_BYTES: the largest request body (default 1 MiB); larger ones get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_count("API_MAX_BODY_BYTES", 1_048_576)

# --- Realtime (docs/protocol.md) --------------------------------------------------------

# REALTIME_URL: where Django POSTs events (`<REALTIME_URL>/events/`).
REALTIME_URL = env_str("REALTIME_URL", "http://127.0.0.1:8080").rstrip("/")
# REALTIME_PUBLIC_URL: websocket base handed to clients in tickets (`<...>/<sprint>/`).
REALTIME_PUBLIC_URL = env_str("REALTIME_PUBLIC_URL", "ws://127.0.0.1:8080").rstrip("/")
# REALTIME_SECRET: shared with the realtime server; signs tickets and event posts.
# DEV ONLY default.
REALTIME_SECRET = env_str("REALTIME_SECRET", "dev-realtime-secret-change-me")
# REALTIME_TOKEN_TTL: seconds a ticket is valid for connecting (default 3600).
REALTIME_TOKEN_TTL = int(env_str("REALTIME_TOKEN_TTL", "3600"))
# REALTIME_TIMEOUT: seconds for one POST /events/ (default 2).
REALTIME_TIMEOUT = env_float("REALTIME_TIMEOUT", 2.0)
# REALTIME_RETRY_MAX: cap in seconds of the delivery retry backoff (default 5).
REALTIME_RETRY_MAX = env_float("REALTIME_RETRY_MAX", 5.0)
# REALTIME_DELIVERY_THREAD: deliver events from a daemon thread in each web process
# (default true). Set false when a separate `manage.py deliver_events` does it.
REALTIME_DELIVERY_THREAD = env_bool("REALTIME_DELIVERY_THREAD", True)
# OUTBOX_RETENTION_DAYS: delivered events older than this are pruned (default 7). Until
# then they can fill a realtime server's gap (after it lost its history).
OUTBOX_RETENTION_DAYS = env_float("OUTBOX_RETENTION_DAYS", 7)
# EVENT_LOG_RETENTION_DAYS: how long committed events stay readable in the event log,
# GET /api/sprints/<id>/events/ (default 30); a client further behind refetches. Events are
# pruned once both this and OUTBOX_RETENTION_DAYS have passed.
EVENT_LOG_RETENTION_DAYS = env_float("EVENT_LOG_RETENTION_DAYS", 30)
# METRICS_ALLOWED_IPS: comma-separated addresses or networks (CIDR) allowed to read
# Django's GET /metrics (the outbox backlog); default loopback only. Judged on the
# socket's address: a request forwarded by a proxy (X-Forwarded-For) is always refused.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
try:
    METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(item, strict=False)
                                for item in METRICS_ALLOWED_IPS]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from None

# --- Logging ----------------------------------------------------------------------------

# LOG_FORMAT: `text` (default) or `json` (one JSON object per line, for a log collector;
# the realtime server takes the same variable).
LOG_FORMAT = env_str("LOG_FORMAT", "text").lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "{levelname}{name}{message}", "style": "{", "timestamp": True,
                 "rename_fields": {"levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "loggers": {
        "api": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
        # server errors (500s, with their traceback) in the same stream and format
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
