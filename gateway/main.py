"""The ASGI app: `uvicorn gateway.main:app`."""

from gateway.wiring.app import create_app

app = create_app()
