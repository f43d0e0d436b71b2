"""The request for a URL the gateway downloads and uploads itself."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from pydantic import BaseModel

from gateway.pipeline.checks import files_request
from gateway.pipeline.fetch import Fetcher
from gateway.pipeline.intake import SendOrder, Upload
from gateway.telemetry import timed
from providers import Capabilities, MediaRequest
from providers.errors import ProviderError

log = logging.getLogger("gateway.service")


@contextlib.asynccontextmanager
async def fetched_request(
    order: SendOrder,
    url: str,
    caps: Capabilities,
    target: BaseModel,
    *,
    fetcher: Fetcher,
    max_upload_bytes: int,
    stream_from: int | None,
) -> AsyncIterator[MediaRequest]:
    """The request for the URL's file, downloaded for the block. With `stream_from`, a
    file its server declares at least that long is sent on while it still downloads
    (`gateway.pipeline.downloading`): a send that failed because the download did gets the
    download's error, not the provider's."""
    limit = min(max_upload_bytes, caps.max_file_bytes or max_upload_bytes)
    async with contextlib.AsyncExitStack() as opened:
        with timed("fetch"):
            download = await opened.enter_async_context(
                fetcher.opened(url, limit=limit, stream_from=stream_from)
            )
        upload = Upload(
            filename=download.filename,
            content_type=order.fields.file_type or download.content_type,
            size=download.size,
            stream=download.file,  # type: ignore[arg-type]
            live=download.live,
        )
        try:
            yield files_request(order, [upload], caps, target, max_upload_bytes=max_upload_bytes)
        except ProviderError:
            if download.live is not None and download.live.failure is not None:
                raise download.live.failure from None  # the URL's fault, not the provider's
            raise
        if download.live is not None:
            log.info("download sent on as it arrived", extra={"bytes": download.size})
