"""Router errors as OpenAI error bodies and statuses (router/openai/errors.py)."""

from __future__ import annotations

import orjson
import pytest

from router import errors
from router.anthropic.errors import status_and_type
from router.openai.chat_decode import InvalidParam, decode_chat
from router.openai.errors import error_chunk, error_response_parts, status_type_code


@pytest.mark.parametrize(
    ("exc", "status", "error_type", "code"),
    [
        (errors.RequestError("bad"), 400, "invalid_request_error", None),
        (InvalidParam("messages[2].content", "wrong"), 400, "invalid_request_error", None),
        (errors.NotFound("no such path"), 404, "invalid_request_error", None),
        (errors.NoRoute("no route for x"), 404, "invalid_request_error", "model_not_found"),
        (errors.AuthError("expired"), 401, "authentication_error", "invalid_api_key"),
        (errors.PermissionDenied("not in plan"), 403, "permission_error", None),
        (errors.RateLimited("slow down"), 429, "rate_limit_error", "rate_limit_exceeded"),
        (errors.Overloaded("busy"), 503, "server_error", "overloaded"),
        (errors.ContextTooLong("too long"), 400, "invalid_request_error", "context_length_exceeded"),
        (errors.ModelUnavailable("retired"), 400, "invalid_request_error", "model_not_found"),
        (errors.UpstreamRejected("invalid"), 400, "invalid_request_error", None),
        (errors.UpstreamTimeout("slow"), 504, "server_error", "timeout"),
        (errors.UpstreamUnavailable("down"), 502, "server_error", None),
        (errors.ProviderError("odd"), 502, "server_error", None),
        (ValueError("internal detail"), 500, "server_error", None),
    ],
)
def test_each_error_has_its_status_type_and_code(
    exc: BaseException, status: int, error_type: str, code: str | None
) -> None:
    assert status_type_code(exc) == (status, error_type, code)
    got_status, raw, _ = error_response_parts(exc)
    assert got_status == status
    error = orjson.loads(raw)["error"]
    assert (error["type"], error["code"]) == (error_type, code)
    assert set(error) == {"message", "type", "param", "code"}


def test_statuses_mirror_the_anthropic_dialect_except_overloaded() -> None:
    for exc in (errors.RequestError("x"), errors.NoRoute("x"), errors.AuthError("x"), errors.PermissionDenied("x"),
                errors.RateLimited("x"), errors.ContextTooLong("x"), errors.UpstreamTimeout("x"),
                errors.UpstreamUnavailable("x"), ValueError("x")):
        assert status_type_code(exc)[0] == status_and_type(exc)[0], exc
    assert status_and_type(errors.Overloaded("x"))[0] == 529 and status_type_code(errors.Overloaded("x"))[0] == 503


def test_a_decode_error_names_its_param() -> None:
    with pytest.raises(InvalidParam) as caught:
        decode_chat(orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "a"},
                                                            {"role": "assistant", "content": "b"},
                                                            {"role": "user", "content": 3}]}))
    _, raw, _ = error_response_parts(caught.value)
    error = orjson.loads(raw)["error"]
    assert error["param"] == "messages[2].content"
    assert error["message"].startswith("messages[2].content: Input should be a valid list")


def test_only_request_errors_carry_a_param() -> None:
    upstream = errors.UpstreamRejected("no")
    upstream.param = "leaked"  # type: ignore[attr-defined]
    assert orjson.loads(error_response_parts(upstream)[1])["error"]["param"] is None
    assert orjson.loads(error_response_parts(errors.RequestError("x"))[1])["error"]["param"] is None


@pytest.mark.parametrize(("retry_after", "header"), [(1.2, "2"), (0, "0"), (-3, "0"), (None, None)])
def test_a_rate_limit_says_when_to_retry(retry_after: float | None, header: str | None) -> None:
    _, _, headers = error_response_parts(errors.RateLimited("wait", retry_after=retry_after))
    assert headers.get("retry-after") == header


def test_context_too_long_reads_as_claude_code_and_openai_clients_expect() -> None:
    error = orjson.loads(error_response_parts(errors.ContextTooLong("input is 300000 tokens"))[1])["error"]
    assert error["message"] == "prompt is too long: input is 300000 tokens"
    assert error["code"] == "context_length_exceeded"


def test_an_unexpected_error_says_nothing_internal() -> None:
    error = orjson.loads(error_response_parts(RuntimeError("token sk-secret at /home/x"))[1])["error"]
    assert "sk-secret" not in error["message"] and error["type"] == "server_error"


def test_a_stream_error_is_one_data_chunk() -> None:
    raw = error_chunk(errors.UpstreamUnavailable("backend broke off"))
    assert raw.startswith(b"data: ") and raw.endswith(b"\n\n") and raw.count(b"\n\n") == 1
    assert orjson.loads(raw[6:])["error"]["message"] == "backend broke off"


def test_the_sdk_maps_our_statuses_to_its_exceptions() -> None:
    openai = pytest.importorskip("openai")
    import httpx

    cases = [(errors.AuthError("x"), openai.AuthenticationError), (errors.NoRoute("x"), openai.NotFoundError),
             (errors.RateLimited("x"), openai.RateLimitError), (InvalidParam("n", "x"), openai.BadRequestError),
             (errors.PermissionDenied("x"), openai.PermissionDeniedError),
             (errors.UpstreamUnavailable("x"), openai.InternalServerError)]
    client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:9/v1", max_retries=0)
    for exc, expected in cases:
        status, raw, headers = error_response_parts(exc)
        response = httpx.Response(status, content=raw, headers=headers,
                                  request=httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
        made = client._make_status_error_from_response(response)
        assert isinstance(made, expected), (exc, made)
        assert made.body == orjson.loads(raw)["error"]
