"""Disk fills stay inside the sandbox and under the cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.local import sandbox
from core.errors import InputError


def test_fill_writes_exact_size_and_remove_deletes(tmp_path: Path) -> None:
    root = tmp_path / "sb"
    root.mkdir()
    path = sandbox.fill(root, "data/filler.bin", 3 * 1024 * 1024 + 17)
    assert path == (root / "data" / "filler.bin").resolve()
    assert path.stat().st_size == 3 * 1024 * 1024 + 17
    assert sandbox.usage(root) == 3 * 1024 * 1024 + 17
    assert sandbox.remove(root, "data/filler.bin") is True
    assert sandbox.remove(root, "data/filler.bin") is False
    assert sandbox.usage(root) == 0


@pytest.mark.parametrize("bad", ["/etc/passwd", "../outside.bin", "a/../../outside.bin", ".", ""])
def test_paths_outside_the_sandbox_are_refused(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "sb"
    root.mkdir()
    with pytest.raises(InputError, match="sandbox"):
        sandbox.fill(root, bad, 10)
    assert list(tmp_path.iterdir()) == [root]  # nothing written anywhere


def test_symlink_escaping_the_sandbox_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "sb"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(InputError, match="outside the sandbox"):
        sandbox.fill(root, "link/filler.bin", 10)
    assert list(outside.iterdir()) == []


def test_size_is_capped_and_positive(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cap"):
        sandbox.fill(tmp_path, "f.bin", sandbox.MAX_FILL_BYTES + 1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="positive number of bytes"):
            sandbox.fill(tmp_path, "f.bin", bad)  # type: ignore[arg-type]
    assert not (tmp_path / "f.bin").exists()


def test_usage_ignores_symlink_targets(tmp_path: Path) -> None:
    root = tmp_path / "sb"
    root.mkdir()
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 10_000)
    (root / "link.bin").symlink_to(big)
    (root / "small.bin").write_bytes(b"y" * 10)
    assert sandbox.usage(root) == 10 + len(str(big))  # the link itself, not what it points at
