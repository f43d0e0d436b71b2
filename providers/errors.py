"""Errors raised by provider adapters.

    ProviderError                       a call to a provider did not give a usable answer
    ├── PermanentProviderError          the request is wrong for this provider: do not retry it
    │   ├── ProviderRejectedError       the provider refused the request (400, 404, other 4xx)
    │   ├── ProviderAuthError           the gateway's own credentials were refused (401, 403)
    │   ├── MediaRejectedError          the provider does not accept this media (415)
    │   └── MediaTooLargeError          the media is over the provider's limit (413)
    └── TransientProviderError          the same request may succeed later
        ├── RateLimitedError            the provider throttled the call (429)
        ├── ProviderFailedError         5xx, or an answer the adapter cannot read
        ├── ProviderTimeoutError        no answer within the deadline
        └── ProviderUnavailableError    the provider could not be reached

TargetError is not a provider failure: an adapter raises it, before any call, when the
request's target fields are wrong for how it is configured (the caller's mistake, a 422).

Every error carries the provider, the stage that failed (None when the gateway refused before
any call: an open circuit, the outbound rate limit) and, when the provider answered,
its status and message. The gateway turns them into problem documents; adapters never do.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """The step of a send that failed (or, outside a send, a provider's subscription)."""

    AUTH = "auth"
    UPLOAD = "upload"
    POST = "post"
    SEND = "send"
    SUBSCRIBE = "subscribe"


class TargetError(ValueError):
    """The request is one this provider cannot serve, found before any call: a target it
    is not configured for, or media it would refuse. `status` is the answer's: 422 (the
    request is wrong), 413 (too large for it) or 415 (a type it does not take)."""

    def __init__(self, field: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


class ProviderError(Exception):
    """A call to a provider did not give a usable answer. Built complete where it is
    raised and never changed after: an adapter that knows more (the media id it had
    uploaded, that the failed call was the delivering one) raises `after_upload`'s copy."""

    def __init__(
        self,
        detail: str,
        *,
        provider: str,
        stage: Stage | None,
        status: int | None = None,
        message: str | None = None,
        retry_after: int | None = None,
        media_id: str | None = None,
        request_sent: bool = True,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.provider = provider
        self.stage = stage
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.media_id = media_id
        # Whether the call may have reached the provider: False for one refused before it
        # left (a connection never opened, a spent deadline, an open circuit).
        self.request_sent = request_sent
        # The failed call was the one that delivers (a Kaizala post, a Gupshup send) and
        # the provider may have acted on it: retrying could deliver twice.
        self.outcome_unknown = outcome_unknown

    def after_upload(self, media_id: str, *, delivering: bool) -> ProviderError:
        """This failure, built anew, with the media id an upload had already given and,
        when the failed call was the delivering one, whether its outcome is unknown."""
        return type(self)(
            self.detail,
            provider=self.provider,
            stage=self.stage,
            status=self.status,
            message=self.message,
            retry_after=self.retry_after,
            media_id=media_id,
            request_sent=self.request_sent,
            outcome_unknown=delivering and may_have_acted(self),
        )


def may_have_acted(error: ProviderError) -> bool:
    """Whether the provider may have acted on the failed call: it was sent, and no answer
    said it was refused (a timeout, a dropped connection, a 5xx, or an unreadable 200)."""
    if not error.request_sent:
        return False
    return error.status is None or error.status >= 500 or 200 <= error.status < 300


class PermanentProviderError(ProviderError):
    """The provider will refuse this request however often it is sent."""


class ProviderRejectedError(PermanentProviderError):
    """The provider refused the request as invalid for it."""


class ProviderAuthError(PermanentProviderError):
    """The gateway's own provider credentials were refused, after one token refresh."""


class MediaRejectedError(PermanentProviderError):
    """The provider does not accept this media type."""


class MediaTooLargeError(PermanentProviderError):
    """The media is larger than the provider accepts."""


class TransientProviderError(ProviderError):
    """The provider failed in a way that a later retry may not meet."""


class RateLimitedError(TransientProviderError):
    """The provider throttled the call; `retry_after` says for how many seconds."""


class ProviderFailedError(TransientProviderError):
    """The provider failed (5xx) or answered with something the adapter cannot read."""


class ProviderTimeoutError(TransientProviderError):
    """The provider gave no complete answer within the deadline."""


class ProviderUnavailableError(TransientProviderError):
    """The provider could not be reached at all."""
