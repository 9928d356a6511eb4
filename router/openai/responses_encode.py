"""Canonical events -> Responses API SSE events, and a folded `Reply` -> a Response object.

Each canonical block is one output item, numbered by `output_index` as it opens: text a `message`
(`msg_...`) with one `output_text` part, a client tool call a `function_call` (`fc_...`), or a
`custom_tool_call` (`ctc_...`) when the request declared that tool as custom, reasoning a
`reasoning` item (`rs_...`). Every SSE event carries a `sequence_number` one above the last. The
stream opens with `response.created` and `response.in_progress` and ends with `response.completed`
(`response.incomplete` when the output limit or a refusal cut the reply short) holding the whole
Response, output included; Codex CLI's backend sometimes leaves that output empty, but clients
such as the openai SDK check the final output against the items streamed, so it is always full.

- A custom tool's canonical input is `{"input": <text>}` (see `responses_decode.CUSTOM_INPUT`).
  Its JSON streams in fragments, so the text is taken out once the call is complete: the item's
  `response.custom_tool_call_input.delta` carries it whole, just before `.done`.
- Reasoning text goes out as one summary part (`response.reasoning_summary_*`), only when the
  request asked for summaries (`reasoning.summary`), as OpenAI shows none otherwise. The
  signature becomes `encrypted_content` (`encode_signature`, so it names the provider and model
  that minted it), only when the request's `include` asked for it. Unsigned reasoning gets no
  router stand-in here, unlike in the Anthropic dialect: `encrypted_content` is optional in this
  dialect, and a stand-in, accepted by no backend, would only look like reasoning that can be
  replayed. Redacted reasoning, only a signature, is shown only with `encrypted_content`.
- Calls of tools the backend ran itself (`server`) are not shown: the client could not answer them.
- A failure after the stream started ends it with an `error` event, then `response.failed` (see
  `ResponsesStreamEncoder.error`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias, assert_never

import orjson

from router.anthropic.signatures import encode_signature
from router.conversation import Reply, Signature, StopReason, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from router.events import (
    BlockStop,
    Event,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)
from router.openai.chat_encode import EventOrder, prompt_tokens
from router.openai.errors import error_json
from router.openai.responses_decode import CUSTOM_INPUT, ResponsesRequest
from router.openai.sealed import seal_reasoning

Status: TypeAlias = Literal["completed", "incomplete", "failed", "in_progress"]
_INCOMPLETE: dict[StopReason, str] = {"max_tokens": "max_output_tokens", "refusal": "content_filter"}
_FAILED_CODES = frozenset({"rate_limit_exceeded", "context_length_exceeded"})
_DEFAULT_ECHO: dict[str, Any] = {"tools": [], "tool_choice": "auto", "parallel_tool_calls": True}


def new_id(prefix: str) -> str:
    """An id shaped like OpenAI's (`resp_`, `msg_`, `fc_`, `rs_`, `ctc_` and 48 hex digits)."""
    return prefix + secrets.token_hex(24)


def usage_json(usage: Usage) -> dict[str, Any]:
    """The Responses usage: input tokens include cached ones (Anthropic's `input_tokens` does not)."""
    prompt = prompt_tokens(usage)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_input_tokens,
            "cache_write_tokens": usage.cache_creation_input_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + usage.output_tokens,
    }


def failed_error(exc: BaseException) -> dict[str, Any]:
    """The `error` of a failed Response: OpenAI's code where a client acts on it, else `server_error`.

    Codex CLI reads `rate_limit_exceeded` (it retries after the delay the message names) and
    `context_length_exceeded` (it stops retrying); the latter is missing from the openai SDK's
    list of codes, but it is what OpenAI sends, and the SDK reads codes it does not list.
    """
    body = error_json(exc)
    code = body["code"] if body["code"] in _FAILED_CODES else "server_error"
    return {"code": code, "message": body["message"], "param": body["param"], "type": body["type"]}


def message_item(item_id: str, text: str, status: Status = "completed") -> dict[str, Any]:
    """An assistant message with one output_text part."""
    return {"id": item_id, "type": "message", "role": "assistant", "status": status,
            "content": [_text_part(text)] if status != "in_progress" else []}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: Status = "completed", namespace: str | None = None
) -> dict[str, Any]:
    item = {"id": item_id, "type": "function_call", "status": status, "call_id": call_id, "name": name,
            "arguments": arguments}
    return item | {"namespace": namespace} if namespace else item


def custom_call_item(item_id: str, call_id: str, name: str, text: str, namespace: str | None = None) -> dict[str, Any]:
    item = {"id": item_id, "type": "custom_tool_call", "call_id": call_id, "name": name, "input": text}
    return item | {"namespace": namespace} if namespace else item


def custom_input(tool_input: Mapping[str, Any] | str) -> str:
    """The freeform text of a custom tool call from its canonical input (or that input's JSON text)."""
    if isinstance(tool_input, str):
        if not tool_input.strip():
            return ""
        try:
            parsed = orjson.loads(tool_input)
        except orjson.JSONDecodeError:
            return tool_input
        if not isinstance(parsed, dict):
            return tool_input
        tool_input = parsed
    text = tool_input.get(CUSTOM_INPUT)
    if isinstance(text, str):
        return text
    strings = [value for value in tool_input.values() if isinstance(value, str)]
    return strings[0] if len(tool_input) == 1 and strings else orjson.dumps(dict(tool_input)).decode()


class ReplyShape:
    """What the request decided about the reply: custom and namespaced tools, reasoning shown, fields echoed.

    `encrypted_reasoning`: reasoning items carry `encrypted_content`; `reasoning_summary`: their
    text is shown as a summary part. The streamed and the folded reply share one shape.
    """

    __slots__ = ("custom_tools", "echo", "encrypted", "namespaced", "summaries")

    def __init__(
        self,
        *,
        custom_tools: frozenset[str] = frozenset(),
        encrypted_reasoning: bool = False,
        reasoning_summary: bool = True,
        echo: Mapping[str, Any] | None = None,
        namespaced: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.custom_tools = custom_tools
        self.encrypted = encrypted_reasoning
        self.summaries = reasoning_summary
        self.echo = dict(_DEFAULT_ECHO if echo is None else echo)
        self.namespaced = dict(namespaced or {})

    @classmethod
    def of(cls, request: ResponsesRequest) -> ReplyShape:
        """The shape a decoded request asks for."""
        return cls(custom_tools=request.custom_tools, encrypted_reasoning=request.encrypted_reasoning,
                   reasoning_summary=request.reasoning_summary, echo=request.echo, namespaced=request.namespaced)

    def call_item(self, call_id: str, name: str, arguments: str, status: Status = "completed") -> dict[str, Any]:
        """A call of a client tool: a custom tool call (`arguments` its text) or a function call, in its namespace."""
        namespace, own = self.namespaced.get(name, (None, name))
        if name in self.custom_tools:
            return custom_call_item(new_id("ctc_"), call_id, own, arguments, namespace)
        return function_call_item(new_id("fc_"), call_id, own, arguments, status, namespace)

    def reasoning_item(self, item_id: str, text: str, signature: Signature | None) -> dict[str, Any]:
        """The item; text not shown as a summary is sealed into `encrypted_content` with its signature."""
        item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
        shown = self.summaries and bool(text)
        if shown:
            item["summary"] = [{"type": "summary_text", "text": text}]
        if self.encrypted and signature is not None:
            sealed = text and not shown
            item["encrypted_content"] = seal_reasoning(text, signature) if sealed else encode_signature(signature)
        return item

    def shows_reasoning(self, redacted: bool) -> bool:
        return self.encrypted or (self.summaries and not redacted)

    def response(
        self, response_id: str, created_at: int, model: str, status: Status, output: list[dict[str, Any]],
        usage: Usage | None = None, *, stop_reason: StopReason | None = None, error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        reason = _INCOMPLETE.get(stop_reason) if stop_reason is not None else None
        body: dict[str, Any] = {
            "id": response_id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "error": error,
            "incomplete_details": {"reason": reason} if reason else None,
            "model": model,
            "output": output,
            "usage": usage_json(usage) if usage is not None else None,
            **self.echo,
        }
        if status in ("completed", "incomplete"):
            body["completed_at"] = int(time.time())
        return body


class ResponsesStreamEncoder(EventOrder):
    """Turns one reply's canonical events into Responses SSE bytes, checking their order.

    Driven like `ChatStreamEncoder`: one `encode` per event (or `encode_batch`); `started` and
    `finished` tell whether `response.created` and the final event went out.
    """

    __slots__ = ("_hide_text", "_item", "_kind", "_parts", "_seq", "_signature", "_summary", "created_at", "model",
                 "output", "response_id", "shape")

    def __init__(
        self, model: str, shape: ReplyShape | None = None, *, response_id: str | None = None,
        created_at: int | None = None,
    ) -> None:
        self.model = model
        self.response_id = response_id or new_id("resp_")
        self.created_at = int(time.time()) if created_at is None else created_at
        self.shape = shape or ReplyShape()
        self.output: list[dict[str, Any]] = []  # finished items
        super().__init__()
        self._seq = 0
        self._item: dict[str, Any] = {}  # the open item as output_item.added showed it
        self._kind = ""
        self._parts: list[str] = []
        self._signature: Signature | None = None
        self._summary = False  # the open reasoning item's summary part was added
        self._hide_text = False  # the open reasoning item shows no text (redacted, or no summaries asked for)

    @classmethod
    def for_request(
        cls, model: str, request: ResponsesRequest, *, response_id: str | None = None, created_at: int | None = None
    ) -> ResponsesStreamEncoder:
        """An encoder shaped by a decoded request (custom tools, reasoning shown, fields echoed)."""
        return cls(model, ReplyShape.of(request), response_id=response_id, created_at=created_at)

    def encode(self, event: Event) -> bytes:
        """The SSE bytes for one event (possibly empty, possibly several SSE events)."""
        match event:
            case TextDelta(text=text):
                self._expect(TextStart, event)
                self._parts.append(text)
                if not text:
                    return b""
                return self._sub("response.output_text.delta", content_index=0, delta=text, logprobs=[])
            case ThinkingDelta(thinking=text):
                self._expect(ThinkingStart, event)
                if not text or self.skip:
                    return b""
                if self._hide_text:
                    self._parts.append(text)  # not shown, but sealed with the signature (`router.openai.sealed`)
                    return b""
                return self._thinking(text)
            case ToolInputDelta(partial_json=fragment):
                self._expect(ToolUseStart, event)
                if self.skip or not fragment:
                    return b""
                self._parts.append(fragment)
                if self._kind == "custom_tool_call":
                    return b""  # the text is taken out of the whole JSON when the call is complete
                return self._sub("response.function_call_arguments.delta", delta=fragment)
            case SignatureDelta(signature=signature):
                self._expect(ThinkingStart, event)
                self._signature = signature
                return b""
            case TextStart():
                return self._open_item(event, "message", message_item(new_id("msg_"), "", "in_progress"))
            case ThinkingStart(redacted=redacted):
                if not self.shape.shows_reasoning(redacted):
                    return self._open_item(event, "", None)
                item: dict[str, Any] = {"id": new_id("rs_"), "type": "reasoning", "summary": []}
                out = self._open_item(event, "reasoning", item)
                self._hide_text = redacted or not self.shape.summaries
                return out
            case ToolUseStart(server=True):
                return self._open_item(event, "", None)
            case ToolUseStart(id=call_id, name=name):
                call = self.shape.call_item(call_id, name, "", "in_progress")
                return self._open_item(event, call["type"], call)
            case BlockStop():
                self._check_close()
                return self._close()
            case MessageStart():
                self._check_start()
                return self._begin()
            case MessageStop():
                return self._finish(event)
            case _:
                assert_never(event)

    def error(self, exc: BaseException) -> bytes:
        """The events that end a started stream on a failure: `error`, then `response.failed`.

        The `error` event has the openai SDK's fields (`code`, `message`, `param`) and also OpenAI's
        nested `error` object: the SDK raises an `APIError` on any event with a top-level `error`,
        so its stream helpers surface the failure as an exception. Codex CLI ignores `error` events
        and reads `response.failed`, whose `error.code` it acts on (`failed_error`). Nothing is
        added after the response already finished; a stream that never started is started first,
        so the failure still follows `response.created`.
        """
        if self.finished:
            return b""
        out = b"" if self.started else self._begin()
        self.finished, self.open = True, None
        body = error_json(exc)
        out += self._event("error", code=body["code"], message=body["message"], param=body["param"], error=body)
        response = self.shape.response(self.response_id, self.created_at, self.model, "failed", list(self.output),
                                       error=failed_error(exc))
        return out + self._event("response.failed", response=response)

    # -- pieces ------------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = orjson.dumps({"type": kind, "sequence_number": self._seq, **fields})
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    def _sub(self, kind: str, **fields: Any) -> bytes:
        """An event about the open item."""
        return self._event(kind, item_id=self._item["id"], output_index=len(self.output), **fields)

    def _begin(self) -> bytes:
        self.started = True
        response = self.shape.response(self.response_id, self.created_at, self.model, "in_progress", [])
        out = self._event("response.created", response=response)
        return out + self._event("response.in_progress", response=response)

    def _open_item(self, event: Event, kind: str, item: dict[str, Any] | None) -> bytes:
        """Close any item still open (leniently), then add this one (`None`: a block not shown)."""
        self._check_block(event)
        out = self._close() if self.open is not None else b""
        self.open, self.skip, self._kind = type(event), item is None, kind
        self._parts, self._signature, self._summary, self._hide_text = [], None, False, False
        if item is None:
            return out
        self._item = item
        out += self._event("response.output_item.added", output_index=len(self.output), item=item)
        if kind == "message":
            out += self._sub("response.content_part.added", content_index=0, part=_text_part(""))
        return out

    def _thinking(self, text: str) -> bytes:
        out = b""
        if not self._summary:
            self._summary = True
            part = {"type": "summary_text", "text": ""}
            out = self._sub("response.reasoning_summary_part.added", summary_index=0, part=part)
        self._parts.append(text)
        return out + self._sub("response.reasoning_summary_text.delta", summary_index=0, delta=text)

    def _close(self) -> bytes:
        """The open item's closing events (none for a block not shown)."""
        kind, skipped, self.open = self._kind, self.skip, None
        if skipped:
            return b""
        text = "".join(self._parts)
        item_id = self._item["id"]
        out = b""
        if kind == "message":
            out += self._sub("response.output_text.done", content_index=0, text=text, logprobs=[])
            out += self._sub("response.content_part.done", content_index=0, part=_text_part(text))
            item = message_item(item_id, text)
        elif kind == "function_call":
            if not text:  # a call without arguments still has a JSON object of them
                text = "{}"
                out += self._sub("response.function_call_arguments.delta", delta=text)
            out += self._sub("response.function_call_arguments.done", arguments=text)
            item = self._item | {"status": "completed", "arguments": text}
        elif kind == "custom_tool_call":
            value = custom_input(text)
            if value:
                out += self._sub("response.custom_tool_call_input.delta", delta=value)
            out += self._sub("response.custom_tool_call_input.done", input=value)
            item = self._item | {"input": value}
        else:
            if self._summary:
                part = {"type": "summary_text", "text": text}
                out += self._sub("response.reasoning_summary_text.done", summary_index=0, text=text)
                out += self._sub("response.reasoning_summary_part.done", summary_index=0, part=part)
            item = self.shape.reasoning_item(item_id, text, self._signature)
        out += self._event("response.output_item.done", output_index=len(self.output), item=item)
        self.output.append(item)
        return out

    def _finish(self, event: MessageStop) -> bytes:
        self._check_stop()
        out = self._close() if self.open is not None else b""
        self.finished = True
        incomplete = event.stop_reason in _INCOMPLETE
        status: Status = "incomplete" if incomplete else "completed"
        response = self.shape.response(self.response_id, self.created_at, self.model, status, self.output, event.usage,
                                       stop_reason=event.stop_reason)
        return out + self._event(f"response.{status}", response=response)


def response_json(
    reply: Reply, model: str, shape: ReplyShape | None = None, *, response_id: str | None = None,
    created_at: int | None = None,
) -> bytes:
    """The non-streaming Response for a folded reply: the same object `response.completed` carries."""
    shape = shape or ReplyShape()
    output: list[dict[str, Any]] = []
    for block in reply.content:
        match block:
            case TextBlock(text=text):
                output.append(message_item(new_id("msg_"), text))
            case ThinkingBlock(thinking=text, signature=signature, redacted=redacted):
                if shape.shows_reasoning(redacted):
                    output.append(shape.reasoning_item(new_id("rs_"), "" if redacted else text, signature))
            case ToolUseBlock(id=call_id, name=name, input=tool_input, server=False):
                custom = name in shape.custom_tools
                text = custom_input(tool_input) if custom else orjson.dumps(dict(tool_input)).decode()
                output.append(shape.call_item(call_id, name, text))
    status: Status = "incomplete" if reply.stop_reason in _INCOMPLETE else "completed"
    created = int(time.time()) if created_at is None else created_at
    body = shape.response(response_id or new_id("resp_"), created, model, status, output, reply.usage,
                          stop_reason=reply.stop_reason)
    return orjson.dumps(body)


def response_json_for(
    reply: Reply, model: str, request: ResponsesRequest, *, response_id: str | None = None,
    created_at: int | None = None,
) -> bytes:
    """`response_json` shaped by a decoded request, as `ResponsesStreamEncoder.for_request` is."""
    return response_json(reply, model, ReplyShape.of(request), response_id=response_id, created_at=created_at)
