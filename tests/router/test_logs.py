"""Logging: secrets never reach a log line; debug logs every event in and out; one access line per request."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from router.server.logs import configure_logging, redact
from tests.conftest import Harness, body
from tests.support.scripted import text_reply

SECRETS = [
    ("Authorization: Bearer abcdefghijklmnop123", "abcdefghijklmnop123"),
    ('{"access_token": "at-123456789", "refresh_token": "rt-987654321"}', "at-123456789"),
    ('{"access_token": "at-123456789", "refresh_token": "rt-987654321"}', "rt-987654321"),
    ("key=sk-or-v1-0123456789abcdef", "sk-or-v1-0123456789abcdef"),
    ("api_key: hunter2hunter2", "hunter2hunter2"),
    ("x-api-key: my-key-value", "my-key-value"),
    ("id token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl", "eyJzdWIiOiIxMjMifQ"),
]


@pytest.mark.parametrize(("line", "secret"), SECRETS)
def test_redact_removes_secrets(line: str, secret: str) -> None:
    assert secret not in redact(line)
    assert "[redacted]" in redact(line)


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "POST /v1/messages tier=opus status=200 in=12 out=3 tokens were counted"
    assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("debug", stream)
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_tracebacks_and_arguments_are_redacted_too(captured: io.StringIO) -> None:
    log = logging.getLogger("providers.test")
    try:
        raise httpx.HTTPStatusError("refused Bearer tok-abcdefghijkl", request=httpx.Request("GET", "http://x"),
                                    response=httpx.Response(401))
    except httpx.HTTPError:
        log.exception("upstream said %s", '{"refresh_token": "rt-abcdefghijk"}')
    text = captured.getvalue()
    assert "tok-abcdefghijkl" not in text and "rt-abcdefghijk" not in text
    assert "Traceback" in text and "upstream said" in text


async def test_debug_logs_each_event_in_and_out_and_one_access_line(harness: Harness, captured: io.StringIO) -> None:
    harness.scripted.queue(text_reply("hi there"))
    await harness.http.post("/v1/messages", json=body(stream=True), headers={"x-api-key": "sk-client-secret-123"})
    text = captured.getvalue()
    assert "event in  TextDelta(text='hi there')" in text
    assert "event out b'event: content_block_delta" in text
    access = [line for line in text.splitlines() if "router.access" in line]
    assert len(access) == 1
    for part in ("tier=opus", "route=scripted/big-model:high", "provider=scripted", "model=big-model",
                 "status=200", "in=11", "out=7"):
        assert part in access[0]
    assert "sk-client-secret-123" not in text


async def test_count_tokens_writes_an_access_line_too(harness: Harness, captured: io.StringIO) -> None:
    harness.scripted.count = 1234
    await harness.http.post("/v1/messages/count_tokens", json=body("claude-sonnet-5"))
    (line,) = [line for line in captured.getvalue().splitlines() if "router.access" in line]
    assert "POST /v1/messages/count_tokens tier=sonnet" in line and "status=200 in=1234" in line
