"""`python -m gateway`: serve the gateway with JSON logs from the first line on."""

from __future__ import annotations

import argparse
import json

import uvicorn

from gateway.logs import configure_logging
from gateway.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--openapi", action="store_true", help="print the OpenAPI document and exit"
    )
    args = parser.parse_args()
    if args.openapi:
        from gateway.app import create_app

        print(json.dumps(create_app().openapi(), indent=2, ensure_ascii=False))
        return
    configure_logging(get_settings().log_level)
    uvicorn.run(
        "gateway.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
