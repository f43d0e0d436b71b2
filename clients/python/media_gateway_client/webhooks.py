"""Verifying the gateway's webhooks (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
`webhook-signature`), with the `standardwebhooks` package."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["WebhookVerificationError", "verify_webhook"]


def verify_webhook(
    secrets: str | Sequence[str], headers: Mapping[str, str], body: bytes | str
) -> dict[str, Any]:
    """The webhook's payload once its signature verified with one of `secrets` (your
    client's `whsec_…` secret; the old and the new one during a rotation), its timestamp
    within 5 minutes; raises `WebhookVerificationError` otherwise. Pass the body exactly as
    received, before any JSON parsing. Keep `webhook-id` to drop a repeat: a webhook is sent
    at least once."""
    wanted = {"webhook-id", "webhook-timestamp", "webhook-signature"}
    lowered = {k.lower(): v for k, v in headers.items() if k.lower() in wanted}
    failure = WebhookVerificationError("no secret given")
    for secret in [secrets] if isinstance(secrets, str) else secrets:
        try:
            payload: dict[str, Any] = Webhook(secret).verify(body, lowered)
        except WebhookVerificationError as exc:
            failure = exc
            continue
        return payload
    raise failure
