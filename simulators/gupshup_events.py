"""The Gupshup simulator's message events: its apps' subscriptions, and the version-3
events that follow each message it sent (see simulators.gupshup for the triggers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from providers.base import EventSink

log = logging.getLogger("simulators.gupshup")

# A `to` that makes the message fail after `sent`: its code, title and details.
FAILING_RECIPIENTS: dict[str, tuple[int, str, str]] = {
    "10000131047": (
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    "10000131026": (131026, "Message undeliverable", "Unable to deliver message."),
    "10000001002": (1002, "Number does not exist on WhatsApp", "Number not on WhatsApp."),
    "10000001012": (1012, "User is opted out", "The user has opted out of messages."),
    "10000131053": (
        131053,
        "Media upload error",
        "Downloading the media from the link failed (HTTP 403).",
    ),
    "10000130429": (130429, "Rate limit hit", "Cloud API message throughput reached."),
    "10000131000": (131000, "Something went wrong", "Unknown error."),
}
ATTEMPTS = 5
MODES = frozenset({"ENQUEUED", "SENT", "DELIVERED", "READ", "FAILED", "MESSAGE", "OTHERS"})


@dataclass
class Subscribed:
    """One subscription of an app, as Gupshup lists it."""

    id: str
    tag: str
    url: str
    modes: list[str]
    version: int
    meta: dict[str, str]

    def listed(self, app_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "appId": app_id,
            "tag": self.tag,
            "url": self.url,
            "modes": self.modes,
            "mode": len(self.modes),
            "version": self.version,
            "meta": json.dumps(self.meta),
            "active": True,
        }


@dataclass
class Events:
    """Subscriptions per app, and the events scheduled for the messages sent; `step_s` is
    the time between two events of one message."""

    step_s: float = 0.3
    subscriptions: dict[str, list[Subscribed]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    _sink: EventSink | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None

    def connect(self, sink: EventSink) -> None:
        """Post every event to `sink` too (a sandboxed gateway, in the process)."""
        self._sink = sink

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._client is not None:
            await self._client.aclose()

    def subscribe(self, app_id: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`POST /partner/app/{appId}/subscription`: the answer's status and body."""
        tag, url = str(form.get("tag") or ""), str(form.get("url") or "")
        modes = [m.strip().upper() for m in str(form.get("modes") or "").split(",") if m.strip()]
        try:
            meta = json.loads(str(form.get("meta") or "{}"))
        except ValueError:
            meta = None
        version = str(form.get("version") or "")
        if (
            not tag
            or not url.startswith(("http://", "https://"))
            or not modes
            or not set(modes) <= MODES
            or version not in ("2", "3")
            or not isinstance(meta, dict)
        ):
            return 400, {"status": "error", "message": "Invalid subscription"}
        mine = self.subscriptions.setdefault(app_id, [])
        if any(s.tag == tag for s in mine):
            return 400, {"status": "error", "message": "Duplicate tag"}
        entry = Subscribed(
            secrets.token_hex(8),
            tag,
            url,
            modes,
            int(version),
            {str(k): str(v) for k, v in meta.items()},
        )
        mine.append(entry)
        return 200, {"status": "success", "subscription": entry.listed(app_id)}

    def listed(self, app_id: str) -> dict[str, Any]:
        mine = self.subscriptions.get(app_id, [])
        return {"status": "success", "subscriptions": [s.listed(app_id) for s in mine]}

    def message_sent(self, app_id: str, to: str, gs_id: str) -> None:
        """Schedule the events of a message just accepted."""
        task = asyncio.get_running_loop().create_task(self._follow(app_id, to, gs_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, app_id: str, to: str, gs_id: str) -> None:
        wamid = f"wamid.{secrets.token_hex(16)}"
        steps: list[tuple[str, dict[str, Any]]] = [("enqueued", {})]
        failing = FAILING_RECIPIENTS.get(to)
        steps.append(
            ("sent", {"conversation": {"expiration_timestamp": int(time.time()) + 86_400}})
        )
        if failing is None:
            steps += [("delivered", {}), ("read", {})]
        else:
            code, title, details = failing
            error = {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
            }
            steps.append(("failed", {"errors": [error]}))
        for status, extra in steps:
            if status != "enqueued":
                await asyncio.sleep(self.step_s)
            now = time.time()
            # Milliseconds on enqueued, seconds on the others (as Gupshup sends them).
            stamp = int(now * 1000) if status == "enqueued" else int(now)
            event = {"gs_id": gs_id, "id": wamid, "recipient_id": to, "status": status}
            await self._post(app_id, status, {**event, "timestamp": stamp, **extra})

    async def _post(self, app_id: str, status: str, event: dict[str, Any]) -> None:
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "gs_app_id": app_id,
                "entry": [
                    {
                        "id": "sandbox-waba",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {"messaging_product": "whatsapp", "statuses": [event]},
                            }
                        ],
                    }
                ],
            }
        ).encode()
        if self._sink is not None:
            try:
                await self._sink(body)
            except Exception:
                log.exception("the gateway refused a sandbox event")
        for subscription in self.subscriptions.get(app_id, []):
            if subscription.version == 3 and status.upper() in subscription.modes:
                await self._deliver(subscription, body)

    async def _deliver(self, subscription: Subscribed, body: bytes) -> None:
        """Post to a subscribed URL with its meta as headers (10 s to answer, as Gupshup
        waits); a failed post is tried again after a short interval, as Gupshup does, up
        to `ATTEMPTS` times in all."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(10.0, pool=None),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            )
        headers = {**subscription.meta, "Content-Type": "application/json"}
        for attempt in range(ATTEMPTS):
            try:
                answer = await self._client.post(subscription.url, content=body, headers=headers)
                status: int | str = answer.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.log.append({"call": "event", "url": subscription.url, "status": status})
            if isinstance(status, int) and 200 <= status < 300:
                return
            await asyncio.sleep(0.5 * (attempt + 1))
        self.log.append({"call": "event_dropped", "url": subscription.url})
