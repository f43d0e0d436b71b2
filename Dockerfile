# The media gateway. Build: `make image` (docker, podman or buildah).
# PYTHON_IMAGE: any Debian-based image with python3 and its venv module.
ARG PYTHON_IMAGE=python:3.12-slim

# --- build: uv.lock's packages, then the project's own wheel, into /opt/gateway ------------
FROM ${PYTHON_IMAGE} AS build
# uv, from PyPI, in the build stage only: it installs only what uv.lock says (hashes
# checked), into /opt/gateway, with the image's own python3 (it never downloads one) and
# the image's certificate store.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/gateway \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_SYSTEM_CERTS=1
WORKDIR /src

# Only the lock first: a source or README change does not reinstall any dependency. uv
# itself is the version uv.lock holds (the dev group's), its wheels checked by their hashes.
COPY pyproject.toml uv.lock ./
RUN python3 -c "import tomllib; uv = next(p for p in tomllib.load(open('uv.lock', 'rb'))['package'] if p['name'] == 'uv'); print('uv==' + uv['version'], *('--hash=' + w['hash'] for w in uv['wheels']))" > uv.txt \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --quiet --require-hashes -r uv.txt \
    && /opt/uv/bin/uv sync --frozen --no-dev --no-install-project

# The project itself, as a wheel (not editable), built by the pinned setuptools.
COPY README.md ./
COPY gateway ./gateway
COPY providers ./providers
COPY simulators ./simulators
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-editable

# --- run: the virtual environment only; no source tree, no uv, no build tools, no pip ---
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
