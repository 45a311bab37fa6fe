# A realtime node: `python watercooler.py` configured from the environment
# (realtime-entrypoint.sh). Build from the repository root:
#   docker build -f docker/realtime.Dockerfile .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what signaling/ imports, at the versions pinned in requirements.txt (no Django,
# no aiortc): tests/deploy checks this list against signaling's imports.
COPY requirements.txt ./
RUN grep -E '^(tornado|PyJWT|prometheus-client|redis|python-json-logger|orjson|uvloop)==' requirements.txt > realtime.txt \
    && pip install -r realtime.txt

COPY watercooler.py ./
COPY signaling/ signaling/
COPY docker/realtime-entrypoint.sh /usr/local/bin/watercooler-realtime-entrypoint

RUN useradd --system --uid 10001 --no-create-home watercooler
USER watercooler
EXPOSE 8080
ENTRYPOINT ["watercooler-realtime-entrypoint"]
