# syntax=docker/dockerfile:1
# Multi-stage build: wheels (requirements-mysql.txt: the runtime requirements plus the
# MySQL driver) are built in a builder with compilers and the MySQL client headers; the
# runtime image has only the shared client library (libmariadb3), runs as a non-root
# user and serves with gunicorn. The settings module is set here, never defaulted:
# manage.py, rakuten.wsgi and rakuten.celery fall back to rakuten.settings.local.
FROM python:3.11-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config \
       default-libmysqlclient-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt requirements-mysql.txt ./
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements-mysql.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    DJANGO_SETTINGS_MODULE=rakuten.settings.production \
    ML_ARTIFACTS_DIR=/data/ml \
    DJANGO_MEDIA_ROOT=/data/media \
    DJANGO_STATIC_ROOT=/app/staticfiles
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system app && useradd --system --gid app --home /app app \
    && mkdir -p /data/ml /data/media && chown -R app:app /data
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/* && rm -rf /wheels
WORKDIR /app
COPY --chown=app:app . .
# collectstatic needs a secret to import the settings; this one is thrown away.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
USER app
EXPOSE 8000
CMD ["gunicorn", "rakuten.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--timeout", "60"]
