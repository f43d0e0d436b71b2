"""What adapters build on to speak HTTP to a provider, split by role the way httpx splits
itself (`_answers`, `_upstream`, `_tokens`, `_memo`, `_multipart`, `_urls`, `_context`);
import from here, not from the private modules."""

from providers.http._answers import CLIENT_HEADERS, MAX_ANSWER_BYTES, Answer
from providers.http._context import ProviderContext
from providers.http._memo import Memo, MemoryMemo
from providers.http._multipart import upload_form
from providers.http._tokens import Token, TokenCell, TokenShare, renewing, share_nothing
from providers.http._upstream import (
    Call,
    Upstream,
    ignore_call,
    message_of,
    parse_retry_after,
    status_error,
    transport_error,
)
from providers.http._urls import checked_base, normalize_base, usable_url

__all__ = [
    "CLIENT_HEADERS",
    "MAX_ANSWER_BYTES",
    "Answer",
    "Call",
    "Memo",
    "MemoryMemo",
    "ProviderContext",
    "Token",
    "TokenCell",
    "TokenShare",
    "Upstream",
    "checked_base",
    "ignore_call",
    "message_of",
    "normalize_base",
    "parse_retry_after",
    "renewing",
    "share_nothing",
    "status_error",
    "transport_error",
    "upload_form",
    "usable_url",
]
