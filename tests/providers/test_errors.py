"""The provider error tree: errors are built complete and never changed once raised."""

from __future__ import annotations

import pytest

from providers import errors as pe


@pytest.mark.parametrize(
    ("status", "sent", "unknown"),
    [
        (None, True, True),
        (500, True, True),
        (200, True, True),
        (400, True, False),
        (None, False, False),
    ],
)
def test_a_failure_after_an_upload_is_a_new_error_with_its_media_id(
    status: int | None, sent: bool, unknown: bool
) -> None:
    failed = pe.ProviderFailedError(
        "post failed", provider="kaizala", stage=pe.Stage.POST, status=status, request_sent=sent
    )
    delivering = failed.after_upload("MR1", delivering=True)
    assert type(delivering) is pe.ProviderFailedError
    assert (delivering.media_id, delivering.outcome_unknown) == ("MR1", unknown)
    assert (delivering.detail, delivering.status, delivering.stage) == (
        "post failed",
        status,
        pe.Stage.POST,
    )
    # The error raised first is left as it was.
    assert (failed.media_id, failed.outcome_unknown) == (None, False)
    # A failure of another call after the upload (a token refresh) keeps the media id only.
    assert failed.after_upload("MR1", delivering=False).outcome_unknown is False
