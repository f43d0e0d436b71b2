# syntax=docker/dockerfile:1
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir gateway providers simulators \
    && touch gateway/__init__.py providers/__init__.py simulators/__init__.py \
    && pip install . \
    && pip uninstall --yes media-gateway \
    && rm -rf gateway providers simulators

COPY gateway ./gateway
COPY providers ./providers
COPY simulators ./simulators
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home gateway

USER 10001
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

# JSON logs from the first line; `uvicorn gateway.main:app` serves the same app.
CMD ["python", "-m", "gateway", "--host", "0.0.0.0", "--port", "8000"]
