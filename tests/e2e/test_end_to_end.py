"""The real gateway over real HTTP against the simulators running as separate servers."""

from __future__ import annotations

import json
import os
import select
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import API_KEY, SECRETS, SLOW_S, Server, Stack

pytestmark = pytest.mark.e2e


def recording_client(server: Server, seen: list[str] | None = None) -> httpx.Client:
    """A client with the API key; with `seen`, every answer's headers and body go in it."""

    def record(response: httpx.Response) -> None:
        response.read()
        if seen is not None:
            seen.append(f"{response.headers}\n{response.text}")

    return httpx.Client(
        base_url=server.url,
        headers={"X-API-Key": API_KEY},
        timeout=60,
        event_hooks={"response": [record]},
    )


@pytest.fixture
def gw(stack: Stack) -> Iterator[httpx.Client]:
    with recording_client(stack.gateway) as client:
        yield client


@pytest.fixture
def guarded(stack: Stack) -> Iterator[httpx.Client]:
    with recording_client(stack.guarded) as client:
        yield client


def sim_log(server: Server) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{server.url}/_sandbox/log").json()
    return entries


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def send_file(
    client: httpx.Client, provider: str, target: dict[str, str], file: tuple[str, bytes, str]
) -> httpx.Response:
    return client.post("/send-media", data={"provider": provider, **target}, files={"file": file})


MEDIA = [
    ("image", ("photo.png", samples.png(), "image/png")),
    ("audio", ("voice.mp3", samples.mp3(), "audio/mpeg")),
    ("document", ("report.pdf", samples.pdf(), "application/pdf")),
    ("video", ("clip.mp4", samples.mp4(), "video/mp4")),
]


@pytest.mark.parametrize(("media_type", "file"), MEDIA)
def test_kaizala_each_media_type(
    gw: httpx.Client, stack: Stack, media_type: str, file: tuple[str, bytes, str]
) -> None:
    response = send_file(
        gw, "kaizala", {"group_id": "e2e-group@1", "caption": f"a {media_type}"}, file
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media_type"] == media_type
    post = sim_log(stack.kaizala_sim)[-1]
    assert post["call"] == "post"
    assert post["path"].endswith("/v1/groups/e2e-group@1/actions")
    assert post["body"] == {
        "actionType": media_type.capitalize(),
        "actionBody": {"mediaResource": body["media_id"], "caption": f"a {media_type}"},
    }
    upload = sim_log(stack.kaizala_sim)[-2]
    assert upload["files"] == [[file[0], file[2], len(file[1])]]


@pytest.mark.parametrize(("media_type", "file"), MEDIA)
def test_gupshup_each_media_type(
    gw: httpx.Client, stack: Stack, media_type: str, file: tuple[str, bytes, str]
) -> None:
    response = send_file(gw, "gupshup", {}, file)
    assert response.status_code == 200, response.text
    assert response.json()["media_type"] == media_type
    assert response.json()["media_id"].isdigit()
    entry = sim_log(stack.gupshup_sim)[-1]
    assert (entry["app"], entry["file_type"], entry["filename"], entry["size"]) == (
        "e2e-app",
        file[2],
        file[0],
        len(file[1]),
    )


def test_kaizala_album(gw: httpx.Client, stack: Stack) -> None:
    files = [("file", (f"p{i}.png", samples.png(i + 1, i + 1), "image/png")) for i in range(3)]
    response = gw.post(
        "/send-media", data={"provider": "kaizala", "group_id": "e2e-group@1"}, files=files
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_type"] == "album"
    upload, post = sim_log(stack.kaizala_sim)[-2:]
    assert len(upload["files"]) == 3
    assert post["body"]["actionType"] == "Album"


def test_kaizala_by_url_is_downloaded_and_uploaded(gw: httpx.Client, stack: Stack) -> None:
    response = gw.post(
        "/send-media",
        json={"provider": "kaizala", "group_id": "g@1", "url": f"{stack.origin}/photo.png"},
    )
    assert response.status_code == 200, response.text
    upload = sim_log(stack.kaizala_sim)[-2]
    assert upload["files"] == [["photo.png", "image/png", len(samples.png())]]


def test_kaizala_by_url_checks_the_downloaded_bytes(gw: httpx.Client, stack: Stack) -> None:
    response = gw.post(
        "/send-media",
        json={"provider": "kaizala", "group_id": "g@1", "url": f"{stack.origin}/fake.png"},
    )
    problem(response, 415, "unsupported_media_type")


def test_gupshup_by_url_is_passed_on(gw: httpx.Client, stack: Stack) -> None:
    url = "https://cdn.example.com/files/brochure.pdf"
    # A multipart form with only text fields, as `curl -F provider=gupshup -F url=...` sends.
    response = gw.post("/send-media", files=[("provider", (None, "gupshup")), ("url", (None, url))])
    assert response.status_code == 200, response.text
    entry = sim_log(stack.gupshup_sim)[-1]
    assert (entry["url"], entry["file_type"]) == (url, "application/pdf")


# ---- every error code of the contract ----


def test_validation_error(gw: httpx.Client) -> None:
    response = gw.post("/send-media", files=[("provider", (None, "kaizala"))])
    body = problem(response, 422, "validation_error")
    assert {e["field"] for e in body["errors"]} >= {"group_id", "file"}


def test_unauthorized(stack: Stack) -> None:
    for headers in ({}, {"X-API-Key": "nope-nope-nope-nope"}):
        response = httpx.post(f"{stack.gateway.url}/send-media", headers=headers, json={})
        problem(response, 401, "unauthorized")


def test_unsupported_media_type_from_the_gateway(gw: httpx.Client, stack: Stack) -> None:
    before = len(sim_log(stack.kaizala_sim))
    body = problem(
        send_file(gw, "kaizala", {"group_id": "g@1"}, ("x.png", samples.pdf(), "image/png")),
        415,
        "unsupported_media_type",
    )
    assert body["provider"] is None
    assert len(sim_log(stack.kaizala_sim)) == before  # nothing went upstream


def test_unsupported_media_type_from_kaizala(gw: httpx.Client) -> None:
    body = problem(
        send_file(
            gw, "kaizala", {"group_id": "g@1"}, ("sandbox-415.png", samples.png(), "image/png")
        ),
        415,
        "unsupported_media_type",
    )
    assert (body["provider"], body["provider_status"], body["stage"]) == ("kaizala", 415, "upload")


def test_payload_too_large_from_gupshup(gw: httpx.Client) -> None:
    body = problem(
        send_file(gw, "gupshup", {"app_id": "sandbox-413"}, ("a.png", samples.png(), "image/png")),
        413,
        "payload_too_large",
    )
    assert body["provider_message"] == "File size exceeds the maximum limit!"


@pytest.mark.parametrize(
    ("provider", "target", "status", "code", "message"),
    [
        (
            "gupshup",
            {"app_id": "sandbox-400"},
            400,
            "provider_rejected",
            "Only CAPI apps allowed to generate media ID",
        ),
        (
            "gupshup",
            {"app_id": "sandbox-500"},
            502,
            "provider_error",
            "Unable to upload requested Media",
        ),
        ("gupshup", {"app_id": "sandbox-429"}, 429, "rate_limited", "Too Many Requests"),
        (
            "gupshup",
            {"app_id": "sandbox-401"},
            502,
            "provider_auth_failed",
            "Authentication Failed",
        ),
        ("kaizala", {"group_id": "sandbox-429@1"}, 429, "rate_limited", "Too many requests"),
        (
            "kaizala",
            {"group_id": "sandbox-401@1"},
            502,
            "provider_auth_failed",
            "Access token is invalid or expired",
        ),
        (
            "kaizala",
            {"group_id": "sandbox-404@1"},
            400,
            "provider_rejected",
            "Simulated 404 for group sandbox-404@1",
        ),
        ("kaizala", {"group_id": "sandbox-garbage@1"}, 502, "provider_error", None),
    ],
)
def test_provider_errors(
    gw: httpx.Client,
    provider: str,
    target: dict[str, str],
    status: int,
    code: str,
    message: str | None,
) -> None:
    body = problem(
        send_file(gw, provider, target, ("a.png", samples.png(), "image/png")), status, code
    )
    assert body["provider"] == provider
    assert body["provider_message"] == message
    # A Kaizala post answered unreadably may have been posted: its outcome is unknown.
    unknown = provider == "kaizala" and code == "provider_error"
    assert body.get("outcome") == ("unknown" if unknown else None)
    assert body["retryable"] is (code in ("rate_limited", "provider_error") and not unknown)


def test_rate_limited_keeps_retry_after(gw: httpx.Client) -> None:
    response = send_file(
        gw, "kaizala", {"group_id": "sandbox-429@1"}, ("a.png", samples.png(), "image/png")
    )
    assert response.headers["retry-after"] == "7"
    assert response.json()["media_id"].startswith("kz-media-")


def test_provider_timeout(gw: httpx.Client) -> None:
    response = send_file(
        gw, "kaizala", {"group_id": "sandbox-slow@1"}, ("a.png", samples.png(), "image/png")
    )
    assert response.elapsed.total_seconds() < SLOW_S
    body = problem(response, 504, "provider_timeout")
    assert body["stage"] == "post"
    # The post was sent and never answered: Kaizala may have posted it.
    assert (body["outcome"], body["retryable"]) == ("unknown", False)


def test_provider_unavailable(guarded: httpx.Client) -> None:
    body = problem(
        send_file(guarded, "gupshup", {}, ("a.png", samples.png(), "image/png")),
        503,
        "provider_unavailable",
    )
    assert body["retryable"] is True


@pytest.mark.parametrize(
    "url",
    [
        "{origin}/photo.png",
        "http://localhost:{port}/photo.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/photo.png",
        "http://0x7f000001:{port}/photo.png",
    ],
)
def test_url_not_allowed(guarded: httpx.Client, stack: Stack, url: str) -> None:
    target = url.format(origin=stack.origin, port=stack.origin.rsplit(":", 1)[1])
    body = problem(
        guarded.post("/send-media", json={"provider": "kaizala", "group_id": "g@1", "url": target}),
        422,
        "url_not_allowed",
    )
    assert body["provider"] is None


def test_url_fetch_failed(gw: httpx.Client, stack: Stack) -> None:
    response = gw.post(
        "/send-media",
        json={"provider": "kaizala", "group_id": "g@1", "url": f"{stack.origin}/missing.png"},
    )
    assert "HTTP 404" in problem(response, 422, "url_fetch_failed")["detail"]


# ---- token refresh, endpoint moves ----


def test_token_refresh_after_revocation(gw: httpx.Client, stack: Stack) -> None:
    send_file(gw, "kaizala", {"group_id": "g@1"}, ("a.png", samples.png(), "image/png"))
    auth_calls = sum(1 for e in sim_log(stack.kaizala_sim) if e["call"] == "auth")
    httpx.post(f"{stack.kaizala_sim.url}/_sandbox/revoke").raise_for_status()
    response = send_file(gw, "kaizala", {"group_id": "g@1"}, ("a.png", samples.png(), "image/png"))
    assert response.status_code == 200, response.text
    assert sum(1 for e in sim_log(stack.kaizala_sim) if e["call"] == "auth") == auth_calls + 1


def test_endpoint_move_is_followed_and_remembered(gw: httpx.Client, stack: Stack) -> None:
    httpx.post(f"{stack.kaizala_sim.url}/_sandbox/move").raise_for_status()
    before = len(sim_log(stack.kaizala_sim))
    first = send_file(gw, "kaizala", {"group_id": "g@1"}, ("a.png", samples.png(), "image/png"))
    assert first.status_code == 200, first.text
    second = send_file(gw, "kaizala", {"group_id": "g@1"}, ("a.png", samples.png(), "image/png"))
    assert second.status_code == 200, second.text
    calls = sim_log(stack.kaizala_sim)[before:]
    uploads = [e["path"] for e in calls if e["call"] == "upload"]
    # The 308 itself is answered before the body is read, so only accepted uploads are logged.
    assert len(uploads) == 2
    assert all(path.startswith("/moved-") for path in uploads)
    posts = [e["path"] for e in calls if e["call"] == "post"]
    assert all(path.startswith("/moved-") for path in posts)


def test_a_move_at_the_action_post_keeps_the_base_for_later_sends(
    gw: httpx.Client, stack: Stack
) -> None:
    """sandbox-moved@1 moves the endpoint at the post, with `@` sent as %40 (items 12, 13)."""
    png = ("a.png", samples.png(), "image/png")
    for _ in range(2):  # each send with the trigger moves once, and succeeds
        moved = send_file(gw, "kaizala", {"group_id": "sandbox-moved@1"}, png)
        assert moved.status_code == 200, moved.text
    before = len(sim_log(stack.kaizala_sim))
    after = send_file(gw, "kaizala", {"group_id": "6a4f8c1e-0000-4000-8000-000000000000@1"}, png)
    assert after.status_code == 200, after.text
    calls = sim_log(stack.kaizala_sim)[before:]
    # Exactly one upload and one post: no pending move was left for this unrelated send,
    # and its upload went to the new base, not to ".../actions/v1/media".
    assert [e["call"] for e in calls] == ["upload", "post"], calls
    assert calls[0]["path"].startswith("/moved-")
    assert calls[0]["path"].endswith("/v1/media")
    assert "/actions" not in calls[0]["path"]


def test_non_ascii_urls_reach_gupshup_normalised(gw: httpx.Client, stack: Stack) -> None:
    response = gw.post(
        "/send-media", json={"provider": "gupshup", "url": "https://bücher.example/prospekt.pdf"}
    )
    assert response.status_code == 200, response.text
    passed = [e for e in sim_log(stack.gupshup_sim) if e.get("url")][-1]
    assert passed["url"] == "https://xn--bcher-kva.example/prospekt.pdf"


# ---- size limit ----


def raw_request(
    url: str, head: bytes, body_chunks: Iterator[bytes] | None = None
) -> tuple[bytes, int]:
    """Sends `head`, then chunks until the server answers; returns the answer and bytes sent."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        for chunk in body_chunks or ():
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: stop sending, as a real client would
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    return answer, sent


def test_two_gigabytes_declared_are_refused_before_reading(stack: Stack) -> None:
    head = (
        b"POST /send-media HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + API_KEY.encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 2147483648\r\n\r\n"
    )
    answer, _ = raw_request(stack.gateway.url, head)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == "payload_too_large"


def test_streamed_body_over_the_limit_is_cut_off(stack: Stack) -> None:
    head = (
        b"POST /send-media HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + API_KEY.encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=zz\r\nTransfer-Encoding: chunked\r\n\r\n"
    )

    def chunks() -> Iterator[bytes]:
        part = b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
        yield b"%x\r\n%s\r\n" % (len(part), part)
        block = b"\x00" * (1 << 20)
        for _ in range(2048):  # up to 2 GiB, never all sent
            yield b"%x\r\n%s\r\n" % (len(block), block)

    answer, sent = raw_request(stack.gateway.url, head, chunks())
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 200 * (1 << 20)  # stopped near the 100 MiB cap, not at 2 GiB


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="needs Linux /proc to read peak memory"
)
def test_hundred_megabytes_are_streamed_not_held(gw: httpx.Client, stack: Stack) -> None:
    size = 100 * 1000 * 1000
    with tempfile.TemporaryFile() as big:
        big.write(samples.png())
        big.truncate(size)
        big.seek(0)
        before = peak_rss_kib(stack.gateway.process.pid)
        response = gw.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("big.png", big, "image/png")},
        )
    assert response.status_code == 200, response.text
    assert sim_log(stack.kaizala_sim)[-2]["files"] == [["big.png", "image/png", size]]
    grown_mib = (peak_rss_kib(stack.gateway.process.pid) - before) / 1024
    assert grown_mib < 40, (
        f"the gateway's peak memory grew by {grown_mib:.0f} MiB for a 100 MB file"
    )


# ---- nothing secret ever leaves the gateway, on any path ----


def test_no_secret_in_any_response_or_log_line(stack: Stack) -> None:
    seen: list[str] = []
    png = {"file": ("a.png", samples.png(), "image/png")}
    pdf = {"file": ("a.pdf", samples.pdf(), "application/pdf")}
    with recording_client(stack.gateway, seen) as gw, recording_client(stack.guarded, seen) as gd:
        assert gw.post(
            "/send-media", data={"provider": "kaizala", "group_id": "g@1"}, files=png
        ).is_success
        assert gw.post("/send-media", data={"provider": "gupshup"}, files=pdf).is_success
        url = {"provider": "gupshup", "url": f"{stack.origin}/report.pdf"}
        assert gw.post("/send-media", json=url).is_success
        httpx.post(f"{stack.kaizala_sim.url}/_sandbox/revoke")
        httpx.post(f"{stack.gupshup_sim.url}/_sandbox/revoke")
        # Both adapters fetch new tokens after the revocation.
        assert gw.post(
            "/send-media", data={"provider": "kaizala", "group_id": "g@1"}, files=png
        ).is_success
        assert gw.post("/send-media", data={"provider": "gupshup"}, files=pdf).is_success
        for group in ("sandbox-400@1", "sandbox-401@1", "sandbox-500@1", "sandbox-429@1"):
            gw.post("/send-media", data={"provider": "kaizala", "group_id": group}, files=png)
        for app in ("sandbox-400", "sandbox-401", "sandbox-500"):
            gw.post("/send-media", data={"provider": "gupshup", "app_id": app}, files=pdf)
        gd.post("/send-media", data={"provider": "gupshup"}, files=pdf)  # unreachable
        gd.post(
            "/send-media",
            json={"provider": "kaizala", "group_id": "g", "url": "http://127.0.0.1/a.png"},
        )
        gw.post("/send-media", headers={"X-API-Key": "wrong-key-0123456789"}, files=png)
    issued = httpx.get(f"{stack.kaizala_sim.url}/_sandbox/tokens").json()
    gs_issued = httpx.get(f"{stack.gupshup_sim.url}/_sandbox/tokens").json()
    secrets = [
        *SECRETS.values(),
        *issued["access_tokens"],
        *gs_issued["partner_tokens"],
        *gs_issued["app_tokens"],
    ]
    assert len(secrets) > len(SECRETS)  # tokens were really issued and used
    assert len(seen) == 15
    for server in (stack.gateway, stack.guarded):
        log = server.log_text()
        lines = [line for line in log.splitlines() if line.strip()]
        assert lines
        for line in lines:
            entry = json.loads(line)  # one JSON object per line, nothing else
            assert "level" in entry
            assert "Traceback" not in line
        for secret in secrets:
            assert secret not in log, f"a secret is in {server.name}'s log"
    for text in seen:
        for secret in secrets:
            if secret == API_KEY:
                continue  # the caller's own key is in its own request, never in an answer
            assert secret not in text
        assert API_KEY not in text


# ---- delivery through Gupshup ----


def test_a_png_is_uploaded_and_delivered_through_gupshup(gw: httpx.Client, stack: Stack) -> None:
    response = gw.post(
        "/send-media",
        data={"provider": "gupshup", "to": "919876543210", "caption": "Site photo"},
        files={"file": ("photo.png", samples.png(), "image/png")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert uuid.UUID(body["message_id"])  # Gupshup's own message id, not a wamid
    sent = [e for e in sim_log(stack.gupshup_sim) if e["call"] == "message"][-1]
    assert sent["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": "image",
        "image": {"id": body["media_id"], "caption": "Site photo"},
    }


@pytest.mark.parametrize(
    ("to", "status", "code", "outcome"),
    [
        ("10000000400", 400, "provider_rejected", None),
        ("10000000401", 502, "provider_auth_failed", None),
        ("10000000429", 429, "rate_limited", None),
        ("10000000500", 502, "provider_error", "unknown"),
        ("10000000504", 504, "provider_timeout", "unknown"),
    ],
)
def test_every_send_step_error_is_mapped(
    gw: httpx.Client, to: str, status: int, code: str, outcome: str | None
) -> None:
    response = gw.post(
        "/send-media",
        data={"provider": "gupshup", "to": to},
        files={"file": ("photo.png", samples.png(), "image/png")},
    )
    body = problem(response, status, code)
    assert (body["stage"], body.get("outcome")) == ("send", outcome)
    assert body["media_id"].isdigit()


def test_a_second_identical_send_reuses_the_media_id(gw: httpx.Client, stack: Stack) -> None:
    image = samples.png(9, 7)  # bytes no other test sends

    def deliver() -> dict[str, Any]:
        response = gw.post(
            "/send-media",
            data={"provider": "gupshup", "to": "919876543210"},
            files={"file": ("photo.png", image, "image/png")},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    uploads_before = sum(1 for e in sim_log(stack.gupshup_sim) if e["call"] == "media")
    first, second = deliver(), deliver()
    uploads = sum(1 for e in sim_log(stack.gupshup_sim) if e["call"] == "media") - uploads_before
    assert uploads == 1
    assert (second["media_id"], second["media_reused"]) == (first["media_id"], True)
    messages = [e for e in sim_log(stack.gupshup_sim) if e["call"] == "message"][-2:]
    assert [m["body"]["image"]["id"] for m in messages] == [first["media_id"]] * 2


def test_the_capability_map_agrees_with_what_send_media_does(gw: httpx.Client) -> None:
    described = gw.get("/providers").json()["providers"]
    assert {name: p["mode"] for name, p in described.items()} == {
        "kaizala": "live",
        "gupshup": "live",
    }
    samples_by_type = {
        ctype: (name, data)
        for name, ctype, data, _ in samples.KAIZALA_FILES + samples.GUPSHUP_FILES
    }
    targets = {"kaizala": {"group_id": "map@1"}, "gupshup": {}}
    tried = 0
    for provider, support in described.items():
        listed = {m for s in support["media_types"].values() for m in s["mime_types"]}
        for mime in sorted(listed & samples_by_type.keys()):
            name, data = samples_by_type[mime]
            for _ in range(3):  # the gateway keeps Gupshup's 10 a second: wait when told
                response = gw.post(
                    "/send-media",
                    data={"provider": provider, **targets[provider]},
                    files={"file": (name, data, mime)},
                )
                if response.status_code != 429:
                    break
                time.sleep(float(response.headers["retry-after"]))
            assert response.status_code == 200, (provider, mime, response.text)
            tried += 1
        unlisted = sorted(samples_by_type.keys() - listed)
        assert unlisted, provider
        for mime in unlisted:
            name, data = samples_by_type[mime]
            refused = gw.post(
                "/send-media",
                data={"provider": provider, **targets[provider]},
                files={"file": (name, data, mime)},
            )
            assert refused.status_code == 415, (provider, mime, refused.text)
    assert tried >= 20
