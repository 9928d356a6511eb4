"""router.toolkit.loginfile: a missing login file is None, a broken one an AuthError saying which and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.errors import AuthError
from router.toolkit.loginfile import parse_login_json, read_login_text

HINT = "Log in again."


def test_a_missing_file_is_none_and_a_present_one_its_text(tmp_path: Path) -> None:
    assert read_login_text(tmp_path / "absent.json", "X login file", provider="x") is None
    (tmp_path / "auth.json").write_text('{"a": 1}', encoding="utf-8")
    text = read_login_text(tmp_path / "auth.json", "X login file", provider="x")
    assert text is not None and parse_login_json(text, tmp_path / "auth.json", "X login file", HINT, provider="x") == {
        "a": 1
    }


def test_an_unreadable_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="Cannot read the X login file") as caught:
        read_login_text(tmp_path, "X login file", provider="x")  # a folder
    assert caught.value.provider == "x"


@pytest.mark.parametrize(
    ("text", "problem"), [("{not json", "is not valid JSON"), ("[1, 2]", "does not hold a JSON object")]
)
def test_a_broken_file_says_what_to_do(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(AuthError) as caught:
        parse_login_json(text, tmp_path / "auth.json", "X login file", HINT, provider="x")
    message = caught.value.message
    assert message.startswith("The X login file") and problem in message and message.endswith(HINT)
