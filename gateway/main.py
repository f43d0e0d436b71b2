"""The ASGI app: `uvicorn gateway.main:app`."""

from gateway.web.app import create_app

app = create_app()
