# syntax=docker/dockerfile:1
# One image for the three Cloud Run workloads, each with its own arguments (deploy/terraform/modules/cloud_run):
#   API service:    abb serve --host 0.0.0.0          (the default; PORT from Cloud Run, ABB_WORKERS processes)
#   Celery worker:  abb worker --pool threads ...
#   migration job:  abb migrate
#
# The base is pinned by digest so that a build is repeatable and a tag move cannot change what ships.
# Dependabot (.github/dependabot.yml, package-ecosystem "docker") opens a pull request when the
# python:3.11-slim-bookworm tag moves to a new digest; by hand:
#   docker buildx imagetools inspect python:3.11-slim-bookworm   # then paste the index digest into both FROMs

# ---- builder: resolves nothing, installs exactly requirements.lock into a venv, then the package ----
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers live here only, for any dependency that ships no wheel for this platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . \
    && abb --help >/dev/null

# ---- runtime: the venv, the interpreter and nothing to build with ----
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS runtime
LABEL org.opencontainers.image.title="africa-business-bridge" \
      org.opencontainers.image.description="Africa Business Bridge API, Celery worker and migration job"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ABB_ENV=production \
    ABB_LOG_JSON=true \
    ABB_VAR_DIR=/app/var \
    PORT=8080 \
    ABB_WORKERS=2
RUN groupadd --system --gid 10001 abb \
    && useradd --system --uid 10001 --gid abb --home-dir /app --shell /usr/sbin/nologin abb \
    && mkdir -p /app/var \
    && chown abb:abb /app/var
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# Liveness only (the process answers); readiness with its dependencies is Cloud Run's startup probe on /health/ready.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8080')}/health/live\", timeout=2)"]
ENTRYPOINT ["abb"]
CMD ["serve", "--host", "0.0.0.0"]
