"""OpenRouter's Anthropic-compatible endpoint (`POST {base_url}/messages`), for `anthropic/*` models.

When to use which mode:

- Chat completions (the default) serve every model on OpenRouter. Claude models work there
  too, but through OpenRouter's translation: thinking comes back as `reasoning_details`,
  cache marks only on text parts, and server tools (web search) are dropped.
- The Anthropic endpoint (`anthropic_endpoint: true` in the settings or on a route) speaks
  Claude's own dialect, so a Claude model keeps full fidelity: native thinking blocks and
  signatures, `cache_control` wherever Claude allows it, server tools, `output_config`. It is
  used only for models whose id starts with `anthropic/`; other models on a route with the
  option still go through chat completions.

The body is `router.anthropic.payload.request_payload` with the upstream model and
`stream: true`; the reply is read by `router.anthropic.replies`. Signatures travel raw: the
router's tagged signatures (see `router.anthropic.signatures`) are unwrapped before the
payload is built, and signatures in the reply are wrapped as `Signature("openrouter", model,
raw)`. Reasoning signed in chat-completions mode is converted back into Claude blocks
(`reasoning.py`), so a conversation may switch modes; thinking this provider did not sign cannot be verified by
Claude and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.openrouter.failures import error_from_stream
from providers.openrouter.reasoning import native_blocks
from router.anthropic.payload import request_payload
from router.anthropic.replies import AnthropicReplyState
from router.conversation import Block, Message, Request, ThinkingBlock
from router.route import Route

ANTHROPIC_VERSION = "2023-06-01"
_EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
            "xhigh": "high", "max": "max"}
"""Router efforts, a route's or the client's, -> Claude's `output_config.effort` words
(Claude has no none/minimal/xhigh)."""


def uses_endpoint(model: str, enabled: bool) -> bool:
    """Whether a request for `model` goes to `/messages`: only Claude models, only when enabled."""
    return enabled and model.startswith("anthropic/")


def native_payload(request: Request, route: Route, *, provider: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `/messages` body: Anthropic JSON with raw signatures, the upstream model, streaming on."""
    body = request_payload(unwrap_signatures(request, route))
    body["model"] = route.model
    body["stream"] = True
    effort = route.effort or body.get("output_config", {}).get("effort")
    if effort is not None:  # the client's word too: an OpenAI client may ask for `minimal` or `xhigh`
        body.setdefault("output_config", {})["effort"] = _EFFORTS.get(effort, "high")
    if provider:
        body["provider"] = dict(provider)
    return body


def native_headers(request: Request) -> dict[str, str]:
    """Anthropic's version header, and the client's beta flags passed on."""
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if request.betas:
        headers["anthropic-beta"] = ",".join(request.betas)
    return headers


def unwrap_signatures(request: Request, route: Route) -> Request:
    """The request with signatures this provider minted turned back into Anthropic's raw values.

    A signature with an empty origin is written verbatim by the payload encoder, which is
    exactly the raw value Anthropic issued. Thinking without such a signature is dropped.
    """
    return request.evolve(messages=tuple(_unwrapped(message, route) for message in request.messages))


def _unwrapped(message: Message, route: Route) -> Message:
    if message.role != "assistant":
        return message
    kept: list[Block] = []
    for block in message.content:
        if isinstance(block, ThinkingBlock):
            kept += native_blocks(block, route)
        else:
            kept.append(block)
    return Message(message.role, tuple(kept))


class NativeReplyState(AnthropicReplyState):
    """Reads one reply of the endpoint (`router.anthropic.replies`), with OpenRouter's error reading."""

    def __init__(self, route: Route) -> None:
        super().__init__(route, backend="OpenRouter", error=lambda error: error_from_stream(error, model=route.model))
