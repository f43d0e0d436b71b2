"""The values that cross the provider contract for message events: what a provider's
event callback said about a message it delivered, and the state of its subscription."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class EventKind(StrEnum):
    """What one event in a provider's callback is; the statuses the gateway keeps, and the
    kinds it only counts (`enqueued` is no status; a check or an unknown kind is ignored)."""

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    ENQUEUED = "enqueued"
    CHECK = "check"  # a connectivity check: answered 200, nothing else
    OTHER = "other"  # a kind the gateway does not use (deleted, a user's message...)


# The error codes of a failed message (the contract's list), the provider's code kept beside.
ErrorCode = Literal[
    "outside_service_window",
    "undeliverable",
    "not_on_whatsapp",
    "opted_out",
    "media_failed",
    "rate_limited",
    "provider_error",
]


@dataclass(frozen=True)
class EventError:
    """Why a message failed: the contract's code, and the provider's own code and words."""

    code: ErrorCode
    provider_code: str | None
    title: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class StatusEvent:
    """One event about one message. `message_id` is the id the send answered (Gupshup's
    `gs_id`), `alias` another id of the same message (WhatsApp's `wamid`), either may be
    missing; `at` is the provider's time in Unix seconds."""

    kind: EventKind
    message_id: str | None = None
    alias: str | None = None
    at: float = 0.0
    error: EventError | None = None


@dataclass(frozen=True)
class Subscription:
    """Whether one part of a provider (a Gupshup app) sends its events to the gateway."""

    state: Literal["subscribed", "failed"]
    reason: str | None = None
