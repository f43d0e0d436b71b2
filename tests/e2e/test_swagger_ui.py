"""A real headless Chromium uses Swagger UI with every outside request blocked."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import samples
from tests.e2e.conftest import API_KEY, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
# Flags for a root, offline machine: no sandbox, no background calls home.
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    """A page that can only reach loopback: anything else (a CDN) is blocked and noted."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    page.blocked = []

    def only_the_gateway(route: Any) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_gateway)
    page.messages = []
    page.on("console", lambda message: page.messages.append(message.text))
    yield page
    context.close()


def open_send_media(page: Any, stack: Stack, base_url: str | None = None) -> Any:
    page.goto(f"{base_url or stack.sandbox.url}/docs")
    operation = page.locator("#operations-media-sendMedia")
    operation.wait_for(timeout=15_000)
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    return operation


def field(operation: Any, name: str, kind: str = "input[type=text]") -> Any:
    return operation.locator(
        f'.opblock-section-request-body tr[data-property-name="{name}"] {kind}'
    )


def choose_file(operation: Any, path: Path) -> None:
    """What a person does: "Add … item" under file, then pick the file in the new input."""
    field(operation, "file", ".json-schema-form-item-add").click()
    field(operation, "file", "input[type=file]").last.set_input_files(str(path))


def execute(operation: Any) -> tuple[str, str]:
    """Click Execute; return the status and body that Swagger UI shows for that very call."""
    with operation.page.expect_response(lambda r: r.url.endswith("/send-media")) as answer:
        operation.locator("button.execute").click()
    request_id = answer.value.headers["x-request-id"]
    # The body block comes first; the headers block below it shows the id too.
    body = operation.locator(
        ".live-responses-table .response-col_description pre", has_text=request_id
    ).first
    body.wait_for(timeout=15_000)
    status = operation.locator(".live-responses-table .response .response-col_status").first
    return status.inner_text().strip(), body.inner_text()


def test_docs_render_offline_with_the_operation(page: Any, stack: Stack) -> None:
    open_send_media(page, stack)
    assert page.locator(".opblock-summary-path", has_text="/send-media").is_visible()
    assert page.locator("button.authorize").is_visible()
    assert page.blocked == []  # every asset came from the gateway itself


def test_docs_are_served_locked_down_and_keep_no_key_in_the_browser(
    page: Any, stack: Stack
) -> None:
    answer = page.goto(f"{stack.sandbox.url}/docs")
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    directives = dict(
        d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";")
    )
    assert "'unsafe-inline'" not in directives["script-src"]
    assert (headers["x-content-type-options"], headers["x-frame-options"]) == ("nosniff", "DENY")
    page.locator("#operations-media-sendMedia").wait_for(timeout=15_000)
    page.locator("button.authorize").first.click()
    page.locator(".auth-container input").first.fill("a-key-typed-into-the-page")
    page.locator(".auth-btn-wrapper button.authorize").click()
    stored = page.evaluate("JSON.stringify(Object.assign({}, window.localStorage))")
    assert "a-key-typed-into-the-page" not in stored
    # The page runs under that policy: nothing it needs was refused.
    assert not [m for m in page.messages if "Content Security Policy" in m], page.messages


def test_person_sends_a_url_to_gupshup_from_the_form_as_it_first_appears(
    page: Any, stack: Stack
) -> None:
    operation = open_send_media(page, stack)
    # The form starts with no file item: nothing to remove before sending a URL.
    assert field(operation, "file", "input[type=file]").count() == 0
    field(operation, "provider", "select").select_option("gupshup")
    field(operation, "url").fill("https://example.com/brochure.pdf")
    status, body = execute(operation)
    assert status == "200", body
    assert '"provider": "gupshup"' in body
    assert '"media_type": "document"' in body
    assert '"sandbox": true' in body
    assert page.blocked == []


def test_person_sends_a_png_to_kaizala_and_a_url_to_gupshup(
    page: Any, stack: Stack, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(samples.png())
    operation = open_send_media(page, stack)

    field(operation, "provider", "select").select_option("kaizala")
    field(operation, "group_id").fill("team@1")
    field(operation, "caption").fill("from Swagger UI")
    choose_file(operation, photo)
    status, body = execute(operation)
    assert status == "200", body
    assert '"media_type": "image"' in body
    assert '"media_id": "kz-media-' in body

    field(operation, "file", ".json-schema-form-item-remove").first.click()
    field(operation, "provider", "select").select_option("gupshup")
    for name in ("group_id", "caption"):
        field(operation, name).fill("")
    field(operation, "url").fill("https://example.com/brochure.pdf")
    field(operation, "app_id").fill("demo-app")
    status, body = execute(operation)
    assert status == "200", body
    assert '"provider": "gupshup"' in body
    assert '"media_type": "document"' in body
    assert page.blocked == []


def test_errors_show_as_problem_documents(page: Any, stack: Stack) -> None:
    operation = open_send_media(page, stack)
    field(operation, "provider", "select").select_option("kaizala")
    status, body = execute(operation)  # neither file nor url, no group
    assert status == "422"
    assert '"code": "validation_error"' in body


def test_authorize_button_sends_the_api_key(page: Any, stack: Stack, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(samples.png())
    operation = open_send_media(page, stack, stack.gateway.url)
    field(operation, "provider", "select").select_option("kaizala")
    field(operation, "group_id").fill("team@1")
    choose_file(operation, photo)
    status, body = execute(operation)
    assert status == "401", body
    assert '"code": "unauthorized"' in body

    page.locator("button.authorize").first.click()
    page.locator(".auth-container input").fill(API_KEY)
    page.locator(".auth-container button.authorize").click()
    page.locator("button.btn-done").click()
    status, body = execute(operation)
    assert status == "200", body
    assert '"media_id": "kz-media-' in body


def test_person_delivers_a_png_to_a_whatsapp_user_through_gupshup(
    page: Any, stack: Stack, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(samples.png(4, 3))
    operation = open_send_media(page, stack)
    field(operation, "provider", "select").select_option("gupshup")
    field(operation, "to").fill("919876543210")
    field(operation, "caption").fill("from Swagger UI")
    choose_file(operation, photo)
    status, body = execute(operation)
    assert status == "200", body
    assert '"provider": "gupshup"' in body
    assert re.search(r'"message_id": "[0-9a-f]{8}-[0-9a-f]{4}-', body), body
    assert page.blocked == []
