"""Tool names and call ids shortened for backends, and mapped back."""

from __future__ import annotations

import re

import pytest

from router.toolkit.toolnames import NameTable, short_id, short_name

FITS = re.compile(r"[A-Za-z0-9_-]{1,64}")
LONG_MCP = "mcp__" + "a_very_long_server_name" * 3 + "__read_the_file_contents"


@pytest.mark.parametrize("name", ["Bash", "mcp__github__create_issue", "x" * 64])
def test_names_that_fit_are_kept(name: str) -> None:
    assert short_name(name) == name


@pytest.mark.parametrize("name", ["x" * 65, LONG_MCP, "has spaces and.dots", "ünïcode"])
def test_names_that_do_not_fit_get_a_deterministic_stand_in(name: str) -> None:
    short = short_name(name)
    assert FITS.fullmatch(short) and short == short_name(name) and short != name


def test_mcp_stand_ins_keep_the_first_and_last_segment_and_stay_distinct() -> None:
    short = short_name(LONG_MCP)
    assert short.startswith("mcp__read_the_file_contents_")
    assert short_name(LONG_MCP + "2") != short


def test_ids_are_cut_to_64_and_cleaned_only_when_asked() -> None:
    assert short_id("call.1") == "call.1"
    assert FITS.fullmatch(short_id("call.1", safe_characters=True))
    assert short_id("call.1", safe_characters=True) != short_id("call:1", safe_characters=True)
    long = "c" * 100
    assert len(short_id(long)) == 64 and short_id(long) == short_id(long)


def test_the_table_maps_what_the_backend_saw_back_to_the_client() -> None:
    table = NameTable()
    names = [table.name("Bash"), table.name(LONG_MCP)]
    ids = [table.call_id("toolu_1"), table.call_id("t" * 80)]
    back = table.frozen()
    assert [back.tool_name(n) for n in names] == ["Bash", LONG_MCP]
    assert [back.call_id(i) for i in ids] == ["toolu_1", "t" * 80]
    assert table.substitutions() == {LONG_MCP: names[1]}
