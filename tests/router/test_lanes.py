"""Tests of router.server.lanes: a request's shape, and the `when:` conditions checked against it.

The flags are checked on every captured Claude Code request (tests/fixtures/claude-code), so the
`background` rule stays tied to what Claude Code really sends; images, web search and long
context, which the captures do not have, on synthetic requests.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from router.anthropic.decode import decode_request
from router.errors import ConfigError
from router.server.lanes import NO_CONDITIONS, SHAPE_KEYS, Conditions, Shape, parse_conditions
from router.settings import expand_env
from router.tokens import IMAGE_TOKENS, estimate_input_tokens
from tests.conftest import claude_code_requests

FIXTURES = claude_code_requests()
IDS = [f"{path.parent.name}/{path.name}" for path in FIXTURES]
BACKGROUND = {"nonessential/02-title-generation-haiku.json"}
"""The captured background calls; every other capture is a main-loop turn."""
PATH = "routes[2].when"


def compact(path: Path) -> bytes:
    """The fixture as Claude Code sent it: compact JSON (the files are indented for reading)."""
    return orjson.dumps(json.loads(path.read_bytes()))


def shape_of(data: dict[str, Any]) -> Shape:
    body = orjson.dumps(data)
    return Shape.of(decode_request(body), len(body))


def request(*content: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 1024, "messages": [{"role": "user", "content": list(content)}],
            **fields}


def text(value: str = "hello") -> dict[str, Any]:
    return {"type": "text", "text": value}


def image(data: str = "iVBORw0KGgo=") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}


BASH = {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}


# ---------------------------------------------------------------- the captured Claude Code requests


def test_the_captures_hold_one_background_call() -> None:
    """A new capture must be classified here before the rule is trusted with it."""
    assert len(IDS) == 11 and BACKGROUND <= set(IDS)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_captured_shape(path: Path) -> None:
    body = compact(path)
    shape = Shape.of(decode_request(body), len(body))
    background = f"{path.parent.name}/{path.name}" in BACKGROUND
    assert shape.background is background
    assert shape.tools is not background and shape.thinking is not background
    assert not shape.images and not shape.web_search


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_claude_codes_client_web_search_tool_is_not_web_search(path: Path) -> None:
    data = json.loads(path.read_bytes())
    names = {tool["name"] for tool in data["tools"]}
    assert ("WebSearch" in names) is bool(data["tools"])
    assert not shape_of(data).web_search


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_captured_requests_against_conditions(path: Path) -> None:
    shape = Shape.of(decode_request(compact(path)), len(compact(path)))
    background = f"{path.parent.name}/{path.name}" in BACKGROUND
    expected = {
        Conditions(background=True): background,
        Conditions(background=False, thinking=True, tools=True): not background,
        Conditions(tools=False): background,
        Conditions(thinking=False): background,
        Conditions(images=True): False,
        Conditions(images=False, web_search=False): True,
        Conditions(web_search=True): False,
        Conditions(tokens_over=3_000): not background,  # main turns: 13-17 KB, 3.3-4.3k tokens
        Conditions(long_context=True): not background,
        Conditions(long_context=False, background=True): background,
        Conditions(tokens_over=1_000_000): False,
        NO_CONDITIONS: True,
    }
    assert {c: c.matches(shape, long_context_tokens=3_000) for c in expected} == expected


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_estimate_tracks_router_tokens_on_main_turns(path: Path) -> None:
    body = compact(path)
    request_ = decode_request(body)
    if not request_.tools:
        pytest.skip("a 600-byte call is mostly framing, which router.tokens does not count")
    ratio = Shape.of(request_, len(body)).estimated_tokens / estimate_input_tokens(request_)
    assert 0.9 <= ratio <= 1.2


# ---------------------------------------------------------------- synthetic shapes


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (None, False),
        ({"type": "disabled"}, False),
        ({"type": "adaptive"}, True),
        ({"type": "enabled", "budget_tokens": 2048}, True),
    ],
)
def test_thinking(thinking: dict[str, Any] | None, expected: bool) -> None:
    fields = {"thinking": thinking} if thinking else {}
    shape = shape_of(request(text(), tools=[BASH], **fields))
    assert shape.thinking is expected and shape.background is False


def test_images_anywhere() -> None:
    assert shape_of(request(text(), image())).images
    url = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    assert shape_of(request(url)).images
    history = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": [text("screenshot"), image()]}
    nested = {"model": "m", "max_tokens": 10, "tools": [BASH],
              "messages": [{"role": "user", "content": "go"}, history, {"role": "user", "content": [result]}]}
    assert shape_of(nested).images
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
    assert not shape_of(request(text(), pdf)).images
    assert not shape_of(request(text())).images


def test_web_search_server_tool() -> None:
    assert shape_of(request(text(), tools=[WEB_SEARCH])).web_search
    assert shape_of(request(text(), tools=[{**WEB_SEARCH, "type": "web_search_20260101"}])).web_search
    assert shape_of(request(text(), tools=[{"type": "custom_search_1", "name": "web_search"}])).web_search
    assert not shape_of(request(text(), tools=[{"type": "bash_20250124", "name": "bash"}])).web_search
    client_tool = {"name": "web_search", "input_schema": {"type": "object"}}
    assert not shape_of(request(text(), tools=[client_tool])).web_search  # the client runs it: any backend will do
    assert shape_of(request(text(), tools=[WEB_SEARCH])).tools


def test_background_is_a_toolless_call_without_thinking() -> None:
    assert shape_of(request(text())).background
    assert shape_of(request(text(), thinking={"type": "disabled"})).background
    assert not shape_of(request(text(), tools=[BASH])).background
    assert not shape_of(request(text(), thinking={"type": "adaptive"})).background
    assert not shape_of(request(text(), tools=[WEB_SEARCH])).background


# ---------------------------------------------------------------- the estimate


def test_a_150_kb_text_body_estimates_about_a_quarter_of_its_characters() -> None:
    words = "the router reads each request once and routes it by shape\n"
    messages: list[dict[str, Any]] = []
    chars = 0
    while chars < 150_000:
        body = words * 50
        messages += [{"role": "user", "content": body}, {"role": "assistant", "content": "ok"}]
        chars += len(body) + 2
    shape = shape_of({"model": "m", "max_tokens": 10, "messages": messages[:-1]})
    assert 0.7 <= shape.estimated_tokens / (chars / 4) <= 1.3


def test_base64_images_count_a_fixed_cost_not_their_length() -> None:
    data = base64.b64encode(bytes(range(256)) * 3000).decode()  # about 1 MB of base64
    assert len(data) > 1_000_000
    shape = shape_of(request(text("what is in this picture?"), image(data)))
    assert IMAGE_TOKENS <= shape.estimated_tokens < IMAGE_TOKENS + 200
    history = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": [image(data), image(data)]}
    nested = shape_of({"model": "m", "max_tokens": 10, "tools": [BASH],
                       "messages": [{"role": "user", "content": "go"}, history, {"role": "user", "content": [result]}]})
    assert 2 * IMAGE_TOKENS <= nested.estimated_tokens < 2 * IMAGE_TOKENS + 200


def test_reasoning_signatures_are_not_input_text() -> None:
    signature = "A" * 200_000
    history = {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": signature},
                                                 text("done")]}
    shape = shape_of({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}, history,
                                                                   {"role": "user", "content": "again"}]})
    assert shape.estimated_tokens < 200


def test_without_a_body_the_estimate_comes_from_router_tokens() -> None:
    decoded = decode_request(orjson.dumps(request(text("x" * 4000), image())))
    assert Shape.of(decoded, 0).estimated_tokens == estimate_input_tokens(decoded)


def test_long_context_uses_the_threshold_the_caller_gives() -> None:
    shape = shape_of(request(text("x" * 400_000)))  # about 100k tokens
    assert Conditions(long_context=True).matches(shape, long_context_tokens=64_000)
    assert not Conditions(long_context=True).matches(shape, long_context_tokens=200_000)
    assert Conditions(long_context=False).matches(shape, long_context_tokens=200_000)
    assert Conditions(tokens_over=99_000).matches(shape, long_context_tokens=1)
    assert not Conditions(tokens_over=101_000).matches(shape, long_context_tokens=1)
    assert not Conditions(tokens_over=60_000, long_context=True).matches(shape, long_context_tokens=200_000)


class _NoEstimate(Shape):
    """A shape whose estimate must not be looked at."""

    __slots__ = ()

    @property
    def estimated_tokens(self) -> int:
        raise AssertionError("estimated without a token condition")


def test_the_estimate_is_only_read_for_token_conditions() -> None:
    shape = _NoEstimate(thinking=True, images=False, web_search=False, tools=True, background=False)
    assert Conditions(thinking=True, tools=True).matches(shape, 1)
    assert not Conditions(images=True, tokens_over=5).matches(shape, 1)  # a failed flag stops it first
    with pytest.raises(AssertionError):
        Conditions(thinking=True, tokens_over=5).matches(shape, 1)


# ---------------------------------------------------------------- parsing `when:`


def test_shape_keys() -> None:
    assert SHAPE_KEYS == {"tokens_over", "long_context", "thinking", "images", "web_search", "tools", "background"}


def test_parse_reads_only_shape_keys() -> None:
    section = yaml.safe_load("{tier: opus, model: 'gpt-*', thinking: true, images: no, tokens_over: 60_000}")
    assert parse_conditions(section, PATH) == Conditions(thinking=True, images=False, tokens_over=60_000)
    assert parse_conditions({"tier": "opus"}, PATH) == NO_CONDITIONS
    assert parse_conditions({"tier": "opus"}, PATH).empty
    assert not parse_conditions({"background": False}, PATH).empty


def test_parse_every_key() -> None:
    section = {key: True for key in SHAPE_KEYS - {"tokens_over"}} | {"tokens_over": 1}
    assert parse_conditions(section, PATH) == Conditions(1, True, True, True, True, True, True)


BOOL = "expected true or false, got "
TOKENS = "expected a positive whole number of tokens such as 60000, got "


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("thinking", "yes", BOOL + "'yes'"),
        ("images", 1, BOOL + "1"),
        ("background", None, BOOL + "None"),
        ("long_context", "true", BOOL + "'true'"),
        ("web_search", [True], BOOL + "[True]"),
        ("tools", 0, BOOL + "0"),
        ("tokens_over", 0, TOKENS + "0"),
        ("tokens_over", -5, TOKENS + "-5"),
        ("tokens_over", True, TOKENS + "True"),
        ("tokens_over", "60k", TOKENS + "'60k'"),
        ("tokens_over", 1.5, TOKENS + "1.5"),
        ("tokens_over", None, TOKENS + "None"),
    ],
)
def test_parse_errors(key: str, value: object, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_conditions({"tier": "opus", key: value}, PATH)
    assert str(info.value) == f"routes[2].when.{key}: {problem}"
    assert (info.value.path, info.value.problem) == (f"{PATH}.{key}", problem)


def test_values_from_the_environment_are_not_shown() -> None:
    section = expand_env({"thinking": "${LANE_THINKING}"}, {"LANE_THINKING": "true"}, PATH)
    assert isinstance(section, dict)
    with pytest.raises(ConfigError) as info:
        parse_conditions(section, PATH)
    assert str(info.value) == f"{PATH}.thinking: expected true or false, got a string from the environment (not shown)"


# ---------------------------------------------------------------- describe


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (NO_CONDITIONS, ""),
        (
            Conditions(thinking=True, images=True, tokens_over=60000, tools=False),
            "thinking, images, tokens > 60000, not tools",
        ),
        (Conditions(background=True), "background"),
        (Conditions(long_context=True, web_search=True), "long context, web search"),
        (Conditions(long_context=False, background=False), "not long context, not background"),
        (Conditions(tokens_over=1000), "tokens > 1000"),
    ],
)
def test_describe(conditions: Conditions, expected: str) -> None:
    assert conditions.describe() == expected
    assert conditions.empty is (expected == "")
