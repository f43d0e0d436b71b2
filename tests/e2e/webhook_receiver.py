"""A client app's webhook endpoint, as a real HTTP server on loopback: it records every
post it gets, answers what a test scripts (500 twice, then 200), and can go down and come back
on the same port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import free_port


@dataclass(frozen=True)
class Post:
    """One post the receiver got, and what it answered."""

    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """The receiver; `answers` maps a message id to the statuses its posts get first."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/media"
        self.posts: list[Post] = []
        self.answers: dict[str, list[int]] = {}
        self.fail_ratio_every = 0  # with n > 0, every n-th post is answered 500
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._lock:
                    receiver.posts.append(Post(headers, body, status))

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, body: bytes) -> int:
        try:
            message_id = json.loads(body)["data"]["message_id"]
        except (ValueError, KeyError, TypeError):
            return 400
        with self._lock:
            planned = self.answers.get(message_id)
            if planned:
                return planned.pop(0)
            if self.fail_ratio_every and (len(self.posts) + 1) % self.fail_ratio_every == 0:
                return 500
        return 200

    def of(self, message_id: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.json["data"]["message_id"] == message_id]

    def wait(self, until: Callable[[], bool], seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until():
                return
            time.sleep(0.05)
        raise AssertionError(f"the receiver did not get what was awaited; it got {len(self.posts)}")


def verified(post: Post, secret: str) -> Any:
    """The post's body, verified as Standard Webhooks says (raises if the signature is bad)."""
    return Webhook(secret).verify(post.body, post.headers)
