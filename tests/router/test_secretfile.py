"""Credential files: atomic replacement, owner-only, no temporary files left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from router.toolkit.secretfile import write_private_text


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_owner_only_and_creates_a_private_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "auth.json"
    write_private_text(path, '{"token": 1}')
    assert path.read_text() == '{"token": 1}'
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_replacing_a_world_readable_file_leaves_it_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("old")
    path.chmod(0o644)
    write_private_text(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "auth.json"
    path.write_text("old")

    def full_disk(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_private_text(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth.json"]
