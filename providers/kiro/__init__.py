"""The Kiro provider: Claude Code on a Kiro (Amazon Q Developer / CodeWhisperer) subscription.

Kiro's chat endpoint (`POST https://q.{region}.amazonaws.com/generateAssistantResponse`)
takes a `GenerateAssistantResponseRequest` JSON body and answers with an AWS binary event
stream. The pure halves live in their own modules, and the I/O shell only wires them up:

- `translate.build_payload(request, route, options=PayloadOptions(...)) -> Payload`:
  the canonical request as the JSON body (history repaired so Kiro's validator accepts it,
  tool names shortened, thinking requested, size checked); `kiro_model_id(name)` maps
  Claude model names to Kiro's dotted ids. Helpers: `history.py`, `tools.py`, `models.py`.
- `eventstream.EventStreamDecoder`: feed raw body chunks, get `Frame`s lazily (own parser).
- `stream.ReplyState`: feed `Frame`s, get canonical events; `finish()` at end of body.
- `failures.error_from_http(status, body, headers)`: a non-200 reply as a router error;
  `failures.refreshable_403(body)` says whether a 403 is worth one token refresh.
- `usage.usage_windows(document)` / `usage.describe_usage(document)`: getUsageLimits' answer
  as the quota window the router acts on, and as one line for `router status`.
- `auth.TokenManager` (over `tokens.TokenFile` or `tokens.StaticCredentials`): credentials
  from the Kiro IDE's token cache (a named account's own file in its state folder), refreshed
  ahead of expiry and once after a 403.
- `provider.KiroProvider` (settings `provider.KiroSettings`): the I/O shell that wires
  them up: headers (`identity.py`), the refresh-and-replay loop, the model catalogue.
"""

from typing import Any

from router import hookimpl


@hookimpl
def register_providers(register: Any) -> None:
    """Register `KiroProvider` (imported lazily, so `router plugins` stays fast)."""
    from providers.kiro.provider import KiroProvider

    register(KiroProvider)
