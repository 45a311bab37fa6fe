# The Django API: gunicorn, migrations at start (api-entrypoint.sh), static files
# collected at build and served by WhiteNoise. Build from the repository root:
#   docker build -f docker/api.Dockerfile .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=false

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY manage.py ./
COPY api/ api/
# The retry backoff shared with the realtime server and peer/ (standard library only).
COPY signaling/__init__.py signaling/backoff.py signaling/
COPY web/ web/
COPY docker/api-entrypoint.sh /usr/local/bin/watercooler-api-entrypoint
# Django's own assets (admin, browsable API, Swagger UI) into /app/staticfiles.
RUN python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 --no-create-home watercooler
USER watercooler
EXPOSE 8000
ENTRYPOINT ["watercooler-api-entrypoint"]
# Workers: WEB_CONCURRENCY (gunicorn's own variable); more flags: GUNICORN_CMD_ARGS.
CMD ["gunicorn", "api.wsgi:application", "--bind=0.0.0.0:8000", "--access-logfile=-", \
     "--forwarded-allow-ips=*"]
