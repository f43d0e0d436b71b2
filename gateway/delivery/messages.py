"""Messages seen from the sends and from the callers: a delivering send creates its message
(`accepted`), makes sure its provider posts the message's events, and the client that sent
it reads it back (`GET /messages/{message_id}`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pydantic import BaseModel

from gateway import tracing
from gateway.delivery.subscriptions import Subscriptions
from gateway.errors import NotFoundError, StoreUnavailableError
from gateway.pipeline.clients import Caller, Client
from gateway.pipeline.service import Sent
from gateway.state.messages import Message, MessageStore
from gateway.telemetry import MESSAGE_TRANSITIONS

log = logging.getLogger("gateway.messages")


class Messages:
    """The messages of the delivering sends (`gateway.pipeline.service.OnDelivered`)."""

    def __init__(
        self,
        store: MessageStore,
        subscriptions: Subscriptions,
        partitions: dict[str, Callable[[BaseModel], str] | None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._partitions = partitions
        self._clock = clock

    async def delivered(self, sent: Sent, client: Client, scope: str, target: BaseModel) -> None:
        """Record the message of a send that delivered; never fails the send (it was made):
        a store that cannot be reached is logged, and the message is not kept."""
        delivery = sent.delivery
        if delivery.message_id is None:
            return
        partition = self._partitions.get(sent.provider)
        self._subscriptions.ensure(
            sent.provider, partition(target) if partition else sent.provider, target
        )
        message = Message(
            message_id=delivery.message_id,
            provider=sent.provider,
            to=delivery.recipient,
            media_id=delivery.media_id,
            media_type=sent.media_type.value,
            created_at=self._clock(),
            client=client.name,
            scope=scope,
            sandbox=sent.sandbox,
            webhook=client.webhook is not None,
            trace=tracing.carrier(),  # the send's trace, for its webhooks (when traces are on)
        )
        try:
            changed = await self._store.create(message)
        except StoreUnavailableError:
            log.error(
                "message not recorded: shared state unreachable",
                extra={"message_id": delivery.message_id},
            )
            return
        MESSAGE_TRANSITIONS.labels(sent.provider, "accepted").inc()
        for status in changed:
            MESSAGE_TRANSITIONS.labels(sent.provider, status).inc()

    async def get(self, message_id: str, caller: Caller) -> Message:
        """The message, if the caller sent it (else 404, as for an unknown id)."""
        message = await self._store.get(message_id) if len(message_id) <= 256 else None
        if message is None or not message.belongs_to(caller.client.name, caller.scope):
            raise NotFoundError(f"No message {message_id[:256]!r} for this client.")
        return message
