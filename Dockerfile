# The web, worker and beat image. Production settings come from the environment.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# postgresql-client is bookworm's, major version 15: docker-compose.yml runs the
# postgres:15 server to match, because pg_dump (manage.py backup) refuses a newer server.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk postgresql-client-15 gettext \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 trial
WORKDIR /app
COPY pyproject.toml README.md ./
COPY trial ./trial
COPY questionnaires ./questionnaires
COPY randomization ./randomization
COPY followup ./followup
COPY analysis ./analysis
RUN pip install .
COPY . .
# Production settings refuse to load without real-looking keys; these exist only
# for this step (random, never stored in the image) and are no deployment's keys.
RUN export DJANGO_DEBUG=false \
      DJANGO_SECRET_KEY="build-only-$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
      RANDOMIZATION_KEYS="build-only-$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
      AUDIT_KEYS="build-only-$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
 && python manage.py compilemessages --ignore=.venv \
 && python manage.py collectstatic --noinput \
 && chown -R trial:trial /app
USER trial
EXPOSE 8000
CMD ["gunicorn", "trial.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
