"""`python -m gateway`: check the configuration, then serve with JSON logs from the first
line on, a header deadline and a concurrency cap (see gateway.wiring.server)."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile

import prometheus_client
import uvicorn

from gateway.pipeline.clients import key_hash
from gateway.wiring.build import preflight
from gateway.wiring.logs import configure_logging
from gateway.wiring.server import GuardedHttpToolsProtocol
from gateway.wiring.settings import StartupError, get_settings
from gateway.wiring.standalone import run_worker
from providers import discover


def event_loop(workers: int) -> str:
    """The loop that measured best (bench/README.md). One worker: asyncio's, which accepts
    every waiting connection at once; under uvloop, when many connections open together the
    last ones wait (p99 at 32 connections 10x p50, 1.5x with asyncio's). Several workers:
    uvloop, because asyncio's greedy accept gives one worker a whole burst of connections
    while the others idle (two workers: 1,826 req/s on uvloop, 690 on asyncio's loop)."""
    if workers > 1 and importlib.util.find_spec("uvloop") is not None:
        return "uvloop"
    return "asyncio"


def hash_key() -> int:
    """Print the SHA-256 of the key read on stdin (one line; the newline is not part of it),
    so an operator never writes a key into the clients file."""
    key = sys.stdin.readline().rstrip("\r\n")
    if len(key) < 16:
        print("a client key must be at least 16 characters", file=sys.stderr)
        return 2
    print(key_hash(key))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        choices=["hash-key", "worker"],
        help="hash-key: read a client key on stdin, print its SHA-256 for GATEWAY_CLIENTS_FILE; "
        "worker: run only the worker (provider events applied, webhooks posted), sharing "
        "GATEWAY_REDIS_URL with the gateways (--port: serve its /metrics there)",
    )
    parser.add_argument("--host", help="default GATEWAY_HOST, else 127.0.0.1")
    parser.add_argument("--port", type=int, help="default GATEWAY_PORT, else 8000")
    parser.add_argument("--workers", type=int, help="default GATEWAY_WORKERS, else 1")
    parser.add_argument(
        "--openapi", action="store_true", help="print the OpenAPI document and exit"
    )
    args = parser.parse_args()
    if args.command == "hash-key":
        sys.exit(hash_key())
    if args.openapi:
        from gateway.wiring.app import create_app

        print(json.dumps(create_app().openapi(), indent=2, ensure_ascii=False))
        return
    try:
        settings = get_settings()
        configure_logging(settings.log_level)
        specs = discover()
        checked = preflight(settings, specs)
        if args.command == "worker" and settings.redis_url is None:
            raise StartupError(
                "the worker alone needs GATEWAY_REDIS_URL: without Redis the events and "
                "webhooks live in each gateway process, whose own worker handles them"
            )
    except StartupError as exc:
        # One line that names the variable and the fix, never a value, and no traceback.
        configure_logging("INFO")
        logging.getLogger("gateway").critical("gateway cannot start: %s", exc)
        sys.exit(2)
    if args.command == "worker":
        if args.port:
            prometheus_client.start_http_server(args.port, addr=args.host or settings.host)
        asyncio.run(run_worker(settings, specs, checked))
        return
    workers = args.workers or settings.workers
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics here; /metrics sums them (gateway.telemetry).
        samples = tempfile.mkdtemp(prefix="gateway-metrics-")
        atexit.register(shutil.rmtree, samples, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = samples
    uvicorn.run(
        "gateway.main:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        http=GuardedHttpToolsProtocol,
        loop=event_loop(workers),
        log_config=None,
        access_log=False,
        server_header=False,
        # In-flight sends get this long after SIGTERM (and the not-ready delay before it).
        timeout_graceful_shutdown=int(settings.drain_s),
    )


if __name__ == "__main__":
    main()
