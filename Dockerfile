# The media gateway. Build: `make image` (docker, podman or buildah).
# PYTHON_IMAGE: any Debian-based image with python3 and its venv module.
ARG PYTHON_IMAGE=python:3.12-slim

# --- build: dependencies from the hashed lock, then the project's own wheel -------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

# Only the locks: a source or README change does not reinstall any dependency.
COPY deploy/requirements.lock deploy/build.lock ./
RUN python3 -m venv /opt/gateway \
    && /opt/gateway/bin/pip install --require-hashes --no-deps -r requirements.lock \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r build.lock

# The wheel, built offline with the locked setuptools (no build isolation download).
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY providers ./providers
COPY simulators ./simulators
RUN /opt/build/bin/pip wheel --no-build-isolation --no-deps --wheel-dir /wheels . \
    && /opt/gateway/bin/pip install --no-deps /wheels/*.whl \
    && /opt/gateway/bin/python -m pip uninstall --quiet --yes pip \
    && /opt/gateway/bin/python -m compileall -q /opt/gateway/lib

# --- run: the virtual environment only; no source tree, no build tools, no pip --------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin gateway
COPY --from=build /opt/gateway /opt/gateway

ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000 \
    GATEWAY_WORKERS=1
# Uploads past 1 MiB are spooled to /tmp: with a read-only root, mount a tmpfs there.
USER 10001:10001
EXPOSE 8000

# Kept by docker and by `podman build --format docker` / `buildah bud --format docker`.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os,sys,urllib.request as u; sys.exit(0 if u.urlopen(f\"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8000')}/healthz\", timeout=2).status == 200 else 1)"]

# JSON logs from the first line; host, port and workers from GATEWAY_HOST/PORT/WORKERS.
CMD ["python3", "-m", "gateway"]
