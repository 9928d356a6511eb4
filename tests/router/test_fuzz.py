"""Property-based fuzzing of `POST /v1/messages` and `POST /v1/messages/count_tokens` (hypothesis).

Bodies are the captured Claude Code requests (tests/fixtures/claude-code) mutated field by field
(dropped, replaced, retyped, emptied, duplicated, extra fields, hostile blocks, JSON nested
thousands deep, megabyte strings), shape-aware and fully random JSON, and raw bytes (truncated,
invalid UTF-8, null bytes, junk), sent with varied content types and headers to the real app,
routed by rules with a lane for every request-shape condition, against the scripted fake
upstream. Whatever arrives, the router answers a valid reply or a 4xx Anthropic-shaped error:
never a 500, never an ERROR record or a traceback in its log, never a hang (each request is
bounded), and /health still answers afterwards. One more property feeds what decoding accepts
to each built-in provider's translation (no I/O), which must build its backend's JSON or refuse
with a router error. Named edge cases and the regressions the fuzzing found follow the properties.

The default run generates about 400 bodies in all, so the suite stays fast. For the full run
(docs/reliability.md), set SWITCHYARD_FUZZ_EXAMPLES to the number of bodies the app's properties
send in all (the translation property adds 5%):

    SWITCHYARD_FUZZ_EXAMPLES=10000 python -m pytest -q -s -p no:cacheprovider tests/router/test_fuzz.py

(`-s` shows how many bodies each property sent.) Hypothesis keeps no example database here, so
nothing is written into the repository; a failure prints the falsifying case and a
`@reproduce_failure` blob that replays it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from providers.codex.translate import build_payload as codex_payload
from providers.kiro.translate import build_payload as kiro_payload
from providers.openrouter.translate import build_payload as openrouter_payload
from router.anthropic.decode import decode_request
from router.conversation import Request
from router.errors import RequestError, RouterError
from router.route import Route
from router.server.runtime import Runtime
from tests.conftest import CLASSES, Harness, body, claude_code_requests, make_config
from tests.support.live import served
from tests.support.sse import checked

TOTAL = int(os.environ.get("SWITCHYARD_FUZZ_EXAMPLES", "400"))
"""Bodies the app's properties send in all (each property gets a fixed share); the translation
property checks another 5% on top."""

REQUEST_TIMEOUT = 60.0
"""Seconds one request may take before it counts as a hang (generous: bodies reach 40 MB)."""

MESSAGES, COUNT = "/v1/messages", "/v1/messages/count_tokens"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
}
"""The 4xx statuses a client may get, with the Anthropic error type each goes with."""

MAX_MESSAGE = 1000
"""The longest error message a client may get: errors name what is wrong, they do not echo megabytes back."""

CONFIG = """
server: {retries: 1}
providers: {scripted: {label: primary}, other: {}}
routes:
  - when: {background: true}
    use: other/small-model
  - when: {tier: "*", images: true}
    use: scripted/vision-model
  - when: {long_context: true}
    use: scripted/long-model
  - when: {tier: opus, thinking: true, web_search: true}
    use: other/search-model
  - when: {tokens_over: 50000, tools: true}
    use: scripted/big-context-model
  - when: {tier: opus}
    use: scripted/big-model
    effort: high
    fallback: [other/backup-model]
  - when: {tier: sonnet}
    use: scripted/mid-model
  - when: {model: "up-*"}
    use: scripted/{model}
default: {use: scripted/default-model}
"""
"""The test routes with a lane for every request-shape condition, so each body's shape is read too."""

FIXTURES = [path.read_bytes() for path in claude_code_requests()]


def fuzz_settings(share: float) -> settings:
    return settings(
        max_examples=max(1, round(TOTAL * share)),
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# -- sending and checking -------------------------------------------------------------------


class Case:
    """One generated request (a plain class: its repr, which hypothesis prints on failure, stays short)."""

    def __init__(self, path: str, content: bytes, headers: Mapping[str, str | bytes], chunked: bool) -> None:
        self.path, self.content, self.headers, self.chunked = path, content, headers, chunked

    def __repr__(self) -> str:
        shown = self.content if len(self.content) <= 2000 else self.content[:1000] + b"..." + self.content[-1000:]
        size = f"({len(self.content)} bytes)"
        return f"Case({self.path!r}, {shown!r} {size}, {dict(self.headers)!r}, chunked={self.chunked})"


class Records(logging.Handler):
    """Every WARNING-or-worse record logged anywhere while a property runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Fuzzed:
    """The app against the scripted upstream, on an event loop of its own, with the log captured."""

    def __init__(self) -> None:
        self.loop = asyncio.Runner()
        self.harness = self.loop.run(self._build())
        self.log = Records()
        self.sent = 0

    @staticmethod
    async def _build() -> Harness:
        return Harness(make_config(CONFIG))

    def check(self, case: Case) -> httpx.Response:
        """Send `case` and assert the answer is a valid reply or an Anthropic-shaped 4xx, logged quietly."""
        self.log.records.clear()
        try:
            response = self.loop.run(asyncio.wait_for(self._send(case), REQUEST_TIMEOUT))
        finally:
            self.sent += 1
            self.harness.scripted.calls.clear()  # the fake keeps every request: do not hold 10,000 of them
            self.harness.other.calls.clear()
        check_answer(case.path, response)
        assert_quiet_log(self.log.records)
        return response

    async def _send(self, case: Case) -> httpx.Response:
        content: bytes | AsyncIterator[bytes] = chunks(case.content) if case.chunked else case.content
        headers = [(name.encode(), value if isinstance(value, bytes) else value.encode())
                   for name, value in case.headers.items()]
        return await self.harness.http.post(case.path, content=content, headers=headers)

    def assert_healthy(self) -> None:
        response = self.loop.run(asyncio.wait_for(self.harness.http.get("/health"), REQUEST_TIMEOUT))
        assert response.status_code == 200 and response.json()["status"] == "ok"

    def close(self) -> None:
        self.loop.run(self.harness.aclose())
        self.loop.close()


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis caches (character tables, constants) go to a temporary folder, not `.hypothesis/` here."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture
def fuzzed() -> Iterator[Fuzzed]:
    target = Fuzzed()
    root = logging.getLogger()
    root.addHandler(target.log)
    try:
        yield target
    finally:
        root.removeHandler(target.log)
        target.close()


def run_property(fuzzed: Fuzzed, share: float, generated: st.SearchStrategy[Case]) -> None:
    """Check `share` of the module's examples drawn from `generated`, then that /health still answers."""
    started = time.perf_counter()

    @fuzz_settings(share)
    @given(generated)
    def check(case: Case) -> None:
        fuzzed.check(case)

    check()
    fuzzed.assert_healthy()
    print(f"\n  fuzzed {fuzzed.sent} bodies in {time.perf_counter() - started:.1f}s", end="")


async def chunks(content: bytes) -> AsyncIterator[bytes]:
    """`content` in 64 KiB pieces, so the request has no content-length (chunked transfer)."""
    for start in range(0, len(content), 65536):
        yield content[start : start + 65536]


def check_answer(path: str, response: httpx.Response) -> None:
    status = response.status_code
    assert status == 200 or status in ERROR_TYPES, f"status {status}: {response.text[:2000]}"
    if status != 200:
        assert response.headers["content-type"] == "application/json"
        error = response.json()
        assert set(error) == {"type", "error"} and error["type"] == "error", error
        assert set(error["error"]) == {"type", "message"}, error
        assert error["error"]["type"] == ERROR_TYPES[status], error
        assert isinstance(error["error"]["message"], str) and error["error"]["message"]
        assert len(error["error"]["message"]) <= MAX_MESSAGE, error["error"]["message"][:MAX_MESSAGE]
        assert "internal router error" not in error["error"]["message"]
        return
    if path.startswith(COUNT):
        tokens = response.json()["input_tokens"]
        assert isinstance(tokens, int) and tokens >= 1
    elif response.headers["content-type"].startswith("text/event-stream"):
        events = checked(response.text)
        assert events[-1][0] == "message_stop", events[-3:]  # the fake upstream never fails mid-stream
    else:
        message = response.json()
        assert message["type"] == "message" and message["role"] == "assistant", message


def assert_quiet_log(records: list[logging.LogRecord]) -> None:
    for record in records:
        text = record.getMessage()
        assert record.levelno < logging.ERROR, f"{record.name}: {text}"
        assert record.exc_info is None and "Traceback" not in text, f"{record.name}: {text}"


# -- values ---------------------------------------------------------------------------------

Draw = Callable[[st.SearchStrategy[Any]], Any]


def field_names() -> list[str]:
    """Every object key in the captured requests: extra fields that are real names in the wrong place."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            names.update(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for raw in FIXTURES:
        walk(orjson.loads(raw))
    return sorted(names)


WORDS = [
    "", " ", "\x00", "a\x00b", "\ufeff", "\u202e", "🙂", "null", "true", "0", "-1", "user", "assistant", "system",
    "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "server_tool_use",
    "web_search_tool_result", "search_result", "mcp_tool_use", "mcp_tool_result", "_tool_result", "base64", "url",
    "content", "ephemeral", "enabled", "adaptive", "disabled", "auto", "any", "tool", "none", "json_schema",
    "image/png", "application/pdf", "text/plain", "claude-opus-4-8", "claude-sonnet-5", "claude-haiku-4-5",
    "up-x", "scripted/big-model", "other/", "/", "nowhere/model:high", "swy1.", "swy1.!!.x", "swy1.c2NyaXB0ZWQ.v",
    "toolu_01", "clear_thinking_20251015", "thinking_turns", "all", "x-anthropic-billing-header: cc=1",
]
KEYS = st.one_of(st.sampled_from(field_names()), st.text(max_size=12))
INTEGERS = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 10**18]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INTEGERS,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.0, 0.5, 1e308, -1e308, 5e-324, 2.0000001]),
    st.sampled_from(WORDS),
    st.text(max_size=24),
)
JSON_VALUES = st.recursive(
    SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS, kids, max_size=4), max_leaves=12
)


def deep(depth: int, shape: str) -> orjson.Fragment:
    """JSON nested `depth` levels deep, pre-serialized (neither orjson nor Python recurses that far).

    Shapes: lists, objects, and lists inside one object (which passes "should be an object" checks).
    """
    if shape == "[":
        return orjson.Fragment(b"[" * depth + b"]" * depth)
    if shape == "{[":
        return orjson.Fragment(b'{"a":' + b"[" * depth + b"]" * depth + b"}")
    return orjson.Fragment(b'{"a":' * depth + b"1" + b"}" * depth)


DEPTHS = st.one_of(st.sampled_from([100, 127, 128, 129, 200, 253, 254, 255, 256, 999, 1000, 1023, 1024, 1025, 5000]),
                   st.integers(1, 3000))
"""Nesting depths, the limits that matter most often: the router's, orjson's encoder (254) and decoder
(1024), and Python's recursion limit (1000)."""
DEEP = st.builds(deep, DEPTHS, st.sampled_from(["{", "{[", "["]))
HUGE_STRINGS = st.builds(
    lambda unit, count: unit * count,
    st.sampled_from(["x", "\x00", "é", "🙂", '"', "\\", "<text 1 chars>"]),
    st.integers(10_000, 1_000_000),
)
BAD_BASE64 = ["!!!not base64!!!", "", "=", "iVBORw0KGgo", "A" * 10_001, "\x00\x00", "data:image/png;base64,AAAA"]


def edge_blocks() -> list[Any]:
    """Content blocks the router must answer sensibly, valid or not."""
    image, document = "image", "document"
    blocks: list[Any] = [
        {}, None, "text", [], {"type": None}, {"type": ""}, {"type": "unknown_block", "text": "x"},
        {"type": "container_upload", "file_id": "f"}, {"type": "text"}, {"type": "text", "text": ""},
        {"type": "text", "text": "\x00"}, {"type": "text", "text": ["x"]},
        {"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": 5}},
        {"type": "text", "text": "x", "cache_control": "ephemeral"}, {"type": "text", "text": "x", "citations": 3},
        {"type": "tool_result", "tool_use_id": "toolu_orphan", "content": "no tool_use asked for this"},
        {"type": "tool_result", "tool_use_id": "toolu_orphan",
         "content": [{"type": "tool_use", "id": "t", "name": "n"}]},
        {"type": "tool_result", "tool_use_id": "", "content": "x"}, {"type": "tool_result", "content": "x"},
        {"type": "tool_result", "tool_use_id": "t", "content": {"type": "text", "text": "x"}},
        {"type": "tool_result", "tool_use_id": "t", "is_error": "yes"},
        {"type": "tool_use", "id": "t", "name": "n", "input": []}, {"type": "tool_use", "id": "t", "name": "n"},
        {"type": "tool_use", "id": "", "name": "", "input": {}}, {"type": "tool_use", "id": 1, "name": None},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [{"type": "x"}]},
        {"type": "web_search_tool_result", "content": None}, {"type": "_tool_result", "tool_use_id": "s"},
        {"type": "mcp_tool_use", "id": "m", "name": "n", "input": {"a": 1}},
        {"type": "mcp_tool_result", "tool_use_id": "m", "content": [{"type": "text", "text": "x"}]},
        {"type": "search_result", "title": 5, "source": None, "content": [1, None, {"text": 2}]},
        {"type": "search_result", "content": "not a list"},
        {"type": "thinking", "thinking": "t", "signature": "not-a-real-signature"},
        {"type": "thinking", "thinking": "t", "signature": "swy1.%%%.x"}, {"type": "thinking", "thinking": "t"},
        {"type": "thinking", "thinking": None, "signature": 5}, {"type": "redacted_thinking", "data": "swy1.AA.x"},
        {"type": "redacted_thinking", "data": ""}, {"type": "redacted_thinking"},
        {"type": image}, {"type": image, "source": None}, {"type": image, "source": {"type": "file", "file_id": "f"}},
        {"type": image, "source": {"type": "url", "url": ""}}, {"type": image, "source": {"type": "url", "url": 5}},
        {"type": image, "source": {"type": "base64", "media_type": "", "data": "AAAA"}},
        {"type": image, "source": {"type": "base64", "media_type": None, "data": None}},
        {"type": document, "source": {"type": "base64", "media_type": "application/pdf", "data": "%PDF-junk"}},
        {"type": document, "source": {"type": "text", "data": None}},
        {"type": document, "source": {"type": "text", "media_type": 5, "data": "x"}},
        {"type": document, "source": {"type": "content", "content": 5}},
        {"type": document, "source": {"type": "content", "content": [{"type": "image"}]}},
        {"type": document, "source": {"type": "url"}}, {"type": document, "title": ["x"], "source": {}},
    ]
    for data in BAD_BASE64:
        for media in ("image/png", "image/jpeg", "image/gif", "text/html", "image/svg+xml"):
            blocks.append({"type": image, "source": {"type": "base64", "media_type": media, "data": data}})
    return blocks


LEAVES = st.one_of(
    DEEP, HUGE_STRINGS, SCALARS, JSON_VALUES, st.sampled_from([[], {}, [[]], [{}]]).map(copy.deepcopy)
)
"""Hostile values that are not content blocks (hypothesis favours the first kinds: the nastiest)."""

TEMPLATES: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"type": "text", "text": "x"}, ("text",)),
    ({"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
     ("id", "name", "input", "input.command")),
    ({"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}, ("tool_use_id", "content", "is_error")),
    ({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}, ("input.query",)),
    ({"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}, ("content", "tool_use_id")),
    ({"type": "search_result", "title": "t", "source": "s", "content": [{"type": "text", "text": "x"}]},
     ("title", "source", "content", "content.0.text")),
    ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
     ("source", "source.type", "source.media_type", "source.data")),
    ({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
     ("source", "source.type", "source.data", "title", "context")),
    ({"type": "thinking", "thinking": "t", "signature": "swy1.c2NyaXB0ZWQAYmlnLW1vZGVs.v"}, ("thinking", "signature")),
    ({"type": "redacted_thinking", "data": "swy1.c2NyaXB0ZWQAYmlnLW1vZGVs.v"}, ("data",)),
    ({"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}, ("cache_control", "cache_control.ttl")),
]
"""Valid blocks, and the slots (dotted paths) the fuzzer fills with hostile values."""


@st.composite
def slotted_blocks(draw: Draw) -> dict[str, Any]:
    """A valid block with one of its fields replaced by a hostile value."""
    template, slots = draw(st.sampled_from(TEMPLATES))
    block: dict[str, Any] = copy.deepcopy(template)
    *parents, last = draw(st.sampled_from(slots)).split(".")
    place: Any = block
    for part in parents:
        place = place[int(part)] if isinstance(place, list) else place[part]
    if isinstance(place, list):
        place[int(last)] = draw(LEAVES)
    else:
        place[last] = draw(LEAVES)
    return block


def nested_results(depth: int) -> orjson.Fragment:
    """A tool_result holding a tool_result holding ... `depth` deep (each is two JSON levels)."""
    head = b'{"type":"tool_result","tool_use_id":"toolu_1","content":['
    return orjson.Fragment(head * depth + b'{"type":"text","text":"x"}' + b"]}" * depth)


EDGE_BLOCKS = st.one_of(
    st.sampled_from(edge_blocks()).map(copy.deepcopy),  # copies: mutations change them in place
    slotted_blocks(),
    st.builds(nested_results, DEPTHS.map(lambda depth: depth // 2)),
)
HOSTILE = st.one_of(LEAVES, EDGE_BLOCKS)
TOP_LEVEL = ["messages", "model", "max_tokens", "system", "tools", "tool_choice", "stop_sequences", "temperature",
             "top_p", "top_k", "thinking", "output_config", "metadata", "stream", "context_management"]


# -- mutations of captured Claude Code requests ---------------------------------------------


def places(value: Any, depth: int) -> list[tuple[Any, ...]]:
    """The paths (keys and indices) of every value inside `value`, down to `depth` levels."""
    if depth == 0:
        return []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found: list[tuple[Any, ...]] = []
    for key, item in items:
        found.append((key,))
        found.extend((key, *rest) for rest in places(item, depth - 1))
    return found


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def pick(draw: Draw, holder: dict[str, Any]) -> tuple[Any, Any]:
    """A (container, key) in the body: a top-level field, then any place inside it (up to 6 deep).

    Choosing the field first keeps the tools' many schema nodes from drowning out the rest. The
    body itself is picked rarely (1 in 20): replaced whole, it only ever tests "not an object".
    """
    data = holder["body"]
    # 7, not 0: hypothesis favours the smallest choices
    if not isinstance(data, (dict, list)) or not data or draw(st.integers(0, 19)) == 7:
        return holder, "body"
    top = draw(st.sampled_from(list(data) if isinstance(data, dict) else list(range(len(data)))))
    path = (top, *draw(st.sampled_from([(), *places(data[top], 6)])))
    container = data
    for key in path[:-1]:
        container = container[key]
    return container, path[-1]


def retyped(draw: Draw, value: Any) -> Any:
    """The same content as another JSON type."""
    match value:
        case bool():
            return draw(st.sampled_from([int(value), str(value).lower(), [value], None]))
        case int() | float():
            return draw(st.sampled_from([str(value), float(value), -value, [value], value > 0]))
        case str():
            return draw(st.sampled_from([[value], {"type": "text", "text": value}, len(value),
                                         value.encode()[:50].hex()]))
        case list():
            return draw(st.sampled_from([{str(i): v for i, v in enumerate(value)}, value[0] if value else None,
                                         orjson.dumps(value[:3]).decode()]))
        case dict():
            return draw(st.sampled_from([[value], list(value.values()), list(value),
                                         orjson.dumps(value)[:80].decode()]))
    return draw(HOSTILE)


def mutate(draw: Draw, holder: dict[str, Any]) -> None:
    """Apply one mutation to the body inside `holder`."""
    container, key = pick(draw, holder)
    value = container[key]
    data = holder["body"]
    operations = ["bury", "block", "nested", "field", "replace", "retype", "extra", "empty", "duplicate", "drop"]
    match draw(st.sampled_from(operations)):
        case "bury" if isinstance(data, dict):  # deep or huge JSON as an extra field of any object in the body
            objects = [path for path in places(data, 8) if isinstance(at(data, path), dict)]
            place = at(data, draw(st.sampled_from(objects))) if objects else data
            place[draw(KEYS)] = draw(st.one_of(DEEP, HUGE_STRINGS))
        case "field" if isinstance(data, dict):  # a top-level field, wrong or missing: reached far more often
            name = draw(st.sampled_from(TOP_LEVEL))
            if draw(st.booleans()):
                data.pop(name, None)
            else:
                data[name] = draw(HOSTILE)
        case "nested" if isinstance(data, dict) and isinstance(data.get("tools"), list) and data["tools"]:
            tool = draw(st.sampled_from(data["tools"]))  # a tool's fields, its schema's depth and kind
            if isinstance(tool, dict):
                tool[draw(st.sampled_from(["name", "description", "input_schema", "type", "cache_control"]))] = \
                    draw(HOSTILE)
        case "drop" if container is not holder:
            del container[key]
        case "replace":
            container[key] = draw(HOSTILE)
        case "extra" if isinstance(value, dict):
            value[draw(KEYS)] = draw(HOSTILE)
        case "extra" if isinstance(value, list):
            value.insert(draw(st.integers(0, len(value))), draw(HOSTILE))
        case "empty":
            container[key] = type(value)() if isinstance(value, (list, dict, str)) else draw(st.sampled_from([0, None]))
        case "duplicate" if isinstance(value, list) and value:
            value.extend(value[: draw(st.integers(1, len(value)))])  # repeats tool_use ids, tools, messages
        case "retype":
            container[key] = retyped(draw, value)
        case "block" if isinstance(data, dict) and isinstance(data.get("messages"), list) and data["messages"]:
            messages = data["messages"]
            target = draw(st.sampled_from(messages))
            block = draw(EDGE_BLOCKS)
            if draw(st.booleans()) and isinstance(target, dict) and isinstance(target.get("content"), list):
                target["content"].insert(draw(st.integers(0, len(target["content"]))), block)
            else:
                role = draw(st.sampled_from(["user", "assistant", "system", "tool", None]))
                messages.insert(draw(st.integers(0, len(messages))), {"role": role, "content": [block]})
        case _:
            container[key] = draw(HOSTILE)


@st.composite
def mutated_requests(draw: Draw) -> bytes:
    holder = {"body": orjson.loads(draw(st.sampled_from(FIXTURES)))}
    for _ in range(draw(st.integers(1, 3))):
        mutate(draw, holder)
    return orjson.dumps(holder["body"])


@st.composite
def free_form_requests(draw: Draw) -> bytes:
    """A captured request changed only where JSON is free-form: tool schemas, tool inputs, metadata.

    Such bodies mostly stay valid, so they get past decoding to what providers make of them.
    """
    data = orjson.loads(draw(st.sampled_from(FIXTURES)))
    roots: list[tuple[Any, ...]] = [("tools", i, "input_schema") for i in range(len(data.get("tools", [])))]
    roots += [("messages", m, "content", b, "input") for m, message in enumerate(data["messages"])
              if isinstance(message["content"], list)
              for b, block in enumerate(message["content"]) if block.get("type") == "tool_use"]
    roots.append(("metadata",))
    for _ in range(draw(st.integers(1, 3))):
        root = draw(st.sampled_from(roots))
        inside = [(), *(path for path in places(at(data, root), 5) if isinstance(at(data, (*root, *path)), dict))]
        place = at(data, (*root, *draw(st.sampled_from(inside))))
        value = FREE_FORM_VALUES
        match draw(st.sampled_from(["property", "keyword", "drop"])):
            case "property" if isinstance(place.get("properties"), dict):  # a subschema: what providers rework
                place["properties"][draw(st.sampled_from([*place["properties"], "new"]) | KEYS)] = draw(value)
            case "drop":
                place.pop(draw(st.sampled_from([*place, *SCHEMA_WORDS])), None)
            case _:
                place[draw(st.sampled_from([*place, *SCHEMA_WORDS]) | KEYS)] = draw(value)
    return orjson.dumps(data)


SCHEMA_WORDS = ["type", "properties", "required", "items", "enum", "anyOf", "oneOf", "allOf", "$ref", "$defs",
                "additionalProperties", "propertyNames", "const", "default", "format", "not", "prefixItems"]
SCHEMA_VALUES: list[Any] = [
    "object", "array", ["object", "null"], [{}], [[]], {"type": {}}, {"properties": []}, {"required": [{}]},
    {"type": "object", "required": [None, 1, "x"]}, {"type": "object", "required": [{"x": 1}], "properties": {}},
    [{"type": "object", "properties": "p"}], {"$ref": "#/nowhere"}, {"type": ["object"], "required": [["x"]]},
]
"""Wrong JSON Schema, the kind a buggy MCP server sends as a tool's input_schema."""
FREE_FORM_VALUES = st.one_of(st.sampled_from(SCHEMA_VALUES).map(copy.deepcopy), LEAVES)


# -- random JSON and raw bytes --------------------------------------------------------------

MESSAGE_VALUES = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"role": st.sampled_from(["user", "assistant", "system"]) | SCALARS,
                      "content": st.text(max_size=20) | st.lists(EDGE_BLOCKS | JSON_VALUES, max_size=3)
                      | HOSTILE}
    ),
    HOSTILE,
)
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(WORDS) | SCALARS,
        "messages": st.lists(MESSAGE_VALUES, max_size=4) | HOSTILE,
        "max_tokens": INTEGERS | HOSTILE,
        "stream": st.booleans() | SCALARS,
        "system": st.text(max_size=20) | st.lists(EDGE_BLOCKS, max_size=2) | HOSTILE,
        "tools": st.lists(st.fixed_dictionaries({}, optional={"name": SCALARS, "type": st.sampled_from(WORDS),
                                                              "input_schema": JSON_VALUES}), max_size=3) | HOSTILE,
        "tool_choice": st.fixed_dictionaries({}, optional={"type": st.sampled_from(WORDS), "name": SCALARS}) | HOSTILE,
        "thinking": st.fixed_dictionaries({}, optional={"type": st.sampled_from(WORDS), "budget_tokens": INTEGERS})
        | HOSTILE,
        "temperature": SCALARS, "top_p": SCALARS, "top_k": SCALARS | INTEGERS, "stop_sequences": HOSTILE,
        "metadata": HOSTILE, "output_config": HOSTILE, "context_management": HOSTILE,
    },
)
RANDOM_JSON = st.one_of(SHAPED, SHAPED, JSON_VALUES, DEEP).map(orjson.dumps)

JUNK = st.one_of(
    st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80",
                     b"\x00", b"\\ud800", b"\\udc00", b"\\u0000", b'"', b"\\", b"{", b"]", b",", b"\r\n",
                     b"\xef\xbb\xbf"]),
    st.binary(min_size=1, max_size=8),
)


@st.composite
def raw_bodies(draw: Draw) -> bytes:
    """Bytes that are almost, or not at all, a JSON request."""
    base: bytes = draw(st.sampled_from(FIXTURES) | RANDOM_JSON)
    at = draw(st.integers(0, len(base)))
    match draw(st.sampled_from(["truncate", "insert", "overwrite", "prefix", "binary", "literal"])):
        case "truncate":
            return base[:at]
        case "insert":
            return base[:at] + bytes(draw(JUNK)) + base[at:]
        case "overwrite":
            junk = bytes(draw(JUNK))
            return base[:at] + junk + base[at + len(junk) :]
        case "prefix":
            return bytes(draw(JUNK)) + base
        case "binary":
            return bytes(draw(st.binary(max_size=200)))
    return bytes(draw(st.sampled_from([b"", b" ", b"\n", b"null", b"[]", b"{}", b'"x"', b"1e999", b"NaN", b"-Infinity",
                                       b"{\"model\":", b"\x00" * 64, b"{}" * 1000, b'{"a":1,"a":2}'])))


# -- requests -------------------------------------------------------------------------------

CONTENT_TYPES = [
    "application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/octet-stream", "", "json", "application/json; charset=latin-1",
]
HEADER_TEXT = st.binary(max_size=60).map(lambda raw: bytes(b for b in raw if 0x20 <= b != 0x7F))
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(CONTENT_TYPES),
        "anthropic-beta": st.sampled_from(["", ",", " , ,", "context-1m-2025-08-07", "x" * 5000]) | HEADER_TEXT,
        "anthropic-version": st.sampled_from(["2023-06-01", "", "1999-01-01"]) | HEADER_TEXT,
        "x-claude-code-session-id": HEADER_TEXT,
        "content-encoding": st.sampled_from(["gzip", "br", "identity"]),
        "accept": st.sampled_from(["*/*", "application/json", "text/event-stream"]),
    },
)


def cases(bodies: st.SearchStrategy[bytes], headers: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Case]:
    paths = st.sampled_from([MESSAGES, f"{MESSAGES}?beta=true", COUNT, f"{COUNT}?beta=true"])
    return st.builds(Case, paths, bodies, headers, st.booleans())


JSON_HEADERS = st.just({"content-type": "application/json"})


# -- the properties -------------------------------------------------------------------------


def test_mutated_claude_code_requests_get_a_reply_or_a_4xx(fuzzed: Fuzzed) -> None:
    run_property(fuzzed, 0.5, cases(mutated_requests(), JSON_HEADERS))


def test_random_json_gets_a_reply_or_a_4xx(fuzzed: Fuzzed) -> None:
    run_property(fuzzed, 0.2, cases(RANDOM_JSON, JSON_HEADERS))


def test_raw_bytes_get_a_4xx(fuzzed: Fuzzed) -> None:
    run_property(fuzzed, 0.15, cases(raw_bodies(), JSON_HEADERS))


def test_any_content_type_and_headers_get_a_reply_or_a_4xx(fuzzed: Fuzzed) -> None:
    run_property(fuzzed, 0.1, cases(st.one_of(mutated_requests(), raw_bodies(), st.sampled_from(FIXTURES)), HEADERS))


def test_free_form_json_gets_a_reply_or_a_4xx(fuzzed: Fuzzed) -> None:
    run_property(fuzzed, 0.05, cases(free_form_requests(), JSON_HEADERS))


PROVIDERS: list[tuple[str, Callable[[Request, Route], Any], Route]] = [
    ("codex", codex_payload, Route("codex", "gpt-5.5")),
    ("openrouter", openrouter_payload, Route("openrouter", "anthropic/claude-sonnet-4.5")),
    ("kiro", kiro_payload, Route("kiro", "claude-sonnet-4-5")),
]


def test_every_provider_translates_what_decoding_accepts() -> None:
    """Valid requests with odd tool schemas and inputs: each built-in provider makes its backend's
    JSON of them, or refuses with a router error; anything else would be a 500 in front of a user.
    (The translation alone, no I/O: the app's properties above run against the scripted fake.)"""
    started, translated = time.perf_counter(), 0

    @fuzz_settings(0.05)
    @given(st.one_of(free_form_requests(), mutated_requests()))
    def check(raw: bytes) -> None:
        nonlocal translated
        try:
            request = decode_request(raw)
        except RequestError:
            return
        for name, build, route in PROVIDERS:
            try:
                body = build(request, route).body
            except RouterError:
                continue
            assert orjson.loads(orjson.dumps(body)), name
            translated += 1

    check()
    print(f"\n  translated {translated} requests in {time.perf_counter() - started:.1f}s", end="")


# -- named edge cases -----------------------------------------------------------------------


def request(**fields: Any) -> bytes:
    """A valid request with some fields replaced (None drops one), as bytes."""
    data: dict[str, Any] = {**body(), **fields}
    return orjson.dumps({key: value for key, value in data.items() if value is not None})


def user_blocks(*blocks: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(blocks)}]


NAMED: list[tuple[str, bytes, dict[str, str], str | None]] = [
    # (id, body, headers, what a 400 says: None when the body is valid)
    ("invalid-utf8", b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[{"role":"user","content":"\xff\xfe"}]}',
     {}, "request body is not valid JSON"),
    ("lone-surrogate", request(messages=[{"role": "user", "content": orjson.Fragment(b'"\\ud800"')}]), {},
     "request body is not valid JSON"),
    ("raw-null-byte", b'{"model":"claude-opus-4-8","max_tokens":5,"messages":[{"role":"user","content":"a\x00"}]}',
     {}, "request body is not valid JSON"),
    ("escaped-null-bytes", request(text="\x00 between \x00"), {}, None),
    ("nested-5000-deep", b"[" * 5000 + b"]" * 5000, {}, "request body is not valid JSON"),
    ("empty-body", b"", {}, "request body is empty"),
    ("json-null", b"null", {}, "request body must be a JSON object"),
    ("unknown-block-type", request(messages=user_blocks({"type": "hologram"})), {},
     "messages.0.content.0.type: unsupported content block type 'hologram'"),
    ("orphan-tool-result", request(messages=user_blocks({"type": "tool_result", "tool_use_id": "toolu_nope",
                                                        "content": "nobody asked"})), {}, None),
    ("bad-base64-image", request(messages=user_blocks({"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "!!!not base64!!!"}})), {}, None),
    ("empty-messages", request(messages=[]), {}, "messages: at least one message is required"),
    ("missing-messages", orjson.dumps({"model": "claude-opus-4-8", "max_tokens": 5}), {}, "messages: Field required"),
    ("messages-a-string", request(messages="hello"), {}, "messages: Input should be a valid list, got string"),
    ("model-a-number", request(model=4), {}, "model: Input should be a valid string, got int"),
    ("stream-a-string", request(stream="yes"), {}, "stream: Input should be a valid boolean, got string"),
    ("negative-temperature", request(temperature=-1), {}, "temperature: Input should be between 0 and 2"),
    ("huge-max-tokens", request(max_tokens=2**64 - 1), {}, None),
    ("extra-fields", request(surprise={"nested": [1, 2]}, another=None, speed="fast"), {}, None),
    ("form-content-type", request(), {"content-type": "application/x-www-form-urlencoded"}, None),
    ("text-content-type", request(), {"content-type": "text/plain"}, None),
]


@pytest.mark.parametrize("path", [MESSAGES, COUNT])
@pytest.mark.parametrize(("content", "headers", "problem"), [case[1:] for case in NAMED],
                         ids=[case[0] for case in NAMED])
def test_named_edge_cases(
    fuzzed: Fuzzed, path: str, content: bytes, headers: dict[str, str], problem: str | None
) -> None:
    response = fuzzed.check(Case(path, content, headers, chunked=False))
    if problem is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400 and response.json()["error"]["message"].startswith(problem)


@pytest.mark.parametrize("path", [MESSAGES, COUNT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_40_mb_body_is_a_413_request_too_large(fuzzed: Fuzzed, path: str, chunked: bool) -> None:
    content = request(text="x" * (40 * 1024 * 1024))
    response = fuzzed.check(Case(path, content, {"content-type": "application/json"}, chunked))
    assert response.status_code == 413
    assert "33554432 bytes" in response.json()["error"]["message"]
    assert fuzzed.harness.scripted.calls == []
    fuzzed.assert_healthy()


def test_a_40_mb_body_on_a_real_socket_is_a_413_and_the_server_stays_up() -> None:
    content = request(text="x" * (40 * 1024 * 1024))
    with served(Runtime(make_config(CONFIG), CLASSES)) as (url, _):
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            sized = client.post(MESSAGES, content=content, headers={"content-type": "application/json"})
            streamed = client.post(COUNT, content=iter([content[i : i + 65536] for i in range(0, len(content), 65536)]))
            health = client.get("/health")
    for response in (sized, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "request_too_large"
    assert health.status_code == 200


# -- regressions: what the fuzzing found ----------------------------------------------------


def nested(depth: int) -> orjson.Fragment:
    """A JSON value `depth` levels deep: lists in lists around one object."""
    return orjson.Fragment(b"[" * (depth - 1) + b"{}" + b"]" * (depth - 1))


def tool_turn(tool_input: Any) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": tool_input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]},
    ]


def expect_too_deep(response: httpx.Response, where: str) -> None:
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"{where}: JSON nested more than 128 levels deep"


@pytest.mark.parametrize("path", [MESSAGES, COUNT])
def test_a_tool_input_nested_past_orjsons_limit_is_a_400_not_a_500(fuzzed: Fuzzed, path: str) -> None:
    # count_tokens failed in the token estimate (orjson.dumps: "Recursion limit reached"), and every
    # provider would have failed the same way encoding the tool call for its backend
    response = fuzzed.check(Case(path, request(messages=tool_turn({"command": nested(300)})), {}, chunked=False))
    expect_too_deep(response, "messages.1.content.0")
    assert fuzzed.harness.scripted.calls == []


def test_a_tool_schema_nested_past_orjsons_limit_is_a_400_not_a_500(fuzzed: Fuzzed) -> None:
    tools = [{"name": "Deep", "input_schema": {"type": "object", "properties": nested(300)}}]
    response = fuzzed.check(Case(COUNT, request(tools=tools), {}, chunked=False))
    expect_too_deep(response, "tools.0.input_schema.properties")


@pytest.mark.parametrize("path", [MESSAGES, COUNT])
def test_a_server_tool_result_nested_past_orjsons_limit_is_a_400_not_a_500(fuzzed: Fuzzed, path: str) -> None:
    # decode re-encodes server tool results as text, with orjson
    result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [nested(300)]}
    response = fuzzed.check(Case(path, request(messages=user_blocks(result)), {}, chunked=False))
    expect_too_deep(response, "messages.0.content.0")


@pytest.mark.parametrize("path", [MESSAGES, COUNT])
def test_tool_results_nested_hundreds_deep_are_a_400_not_a_recursion_error(fuzzed: Fuzzed, path: str) -> None:
    # decoding a tool result decodes its parts, tool results included, recursively: 400 levels of
    # them (800 JSON levels, within orjson's 1024) overflowed Python's stack
    response = fuzzed.check(Case(path, request(messages=user_blocks(nested_results(400))), {}, chunked=False))
    expect_too_deep(response, "messages.0.content.0")


def test_a_wrong_value_nested_a_thousand_deep_is_a_400_not_a_recursion_error(fuzzed: Fuzzed) -> None:
    # the message quoted the wrong role with repr(), which gives up past Python's recursion limit
    messages = [{"role": nested(1010), "content": "hi"}]
    response = fuzzed.check(Case(MESSAGES, request(messages=messages), {}, chunked=False))
    expect_too_deep(response, "messages.0.role.0")


@pytest.mark.parametrize(("depth", "status"), [(128, 200), (129, 400)])
def test_a_body_may_nest_128_levels(fuzzed: Fuzzed, depth: int, status: int) -> None:
    # the body (1) > tools (2) > the tool (3) > input_schema (4) > properties (5) > the rest
    tools = [{"name": "Deep", "input_schema": {"type": "object", "properties": {"p": nested(depth - 5)}}}]
    response = fuzzed.check(Case(COUNT, request(tools=tools), {}, chunked=False))
    assert response.status_code == status


def test_a_wrong_value_is_quoted_short_in_the_error(fuzzed: Fuzzed) -> None:
    # the message quoted all of it: a megabyte role came back as a megabyte error
    response = fuzzed.check(Case(MESSAGES, request(messages=[{"role": "x" * 1_000_000, "content": "hi"}]), {},
                                 chunked=False))
    message = response.json()["error"]["message"]
    assert message.startswith("messages.0.role: Input should be 'user' or 'assistant', got 'xxx")
    assert len(message) < 200


async def test_an_error_about_a_huge_model_name_keeps_its_start_and_end(harness: Harness) -> None:
    # the routes of tests/conftest.py: no lane takes any model, so this one matches no route
    response = await harness.http.post(MESSAGES, content=request(model="nowhere/" + "m" * 1_000_000))
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert len(message) <= 1000
    assert message.startswith("model 'nowhere/mmm") and "characters cut" in message
    assert message.endswith("(providers: scripted, other)")
