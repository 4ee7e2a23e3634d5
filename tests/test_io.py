"""Atomic writes: all or nothing, and files the team can read (not mkstemp's 0600)."""

import os
import stat

import pytest

from fer_platform.io import atomic_dir, write_json, write_with


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_and_directories_get_the_umask_permissions_of_a_normal_file(tmp_path):
    from fer_platform import io

    old = os.umask(0o022)
    io._umask.cache_clear()  # the umask is read once per process; this test changes it
    try:
        write_json(tmp_path / "report.json", {"a": 1})
        with atomic_dir(tmp_path / "docs") as tmp:
            (tmp / "index.html").write_text("<html></html>")
        assert _mode(tmp_path / "report.json") == 0o644
        assert _mode(tmp_path / "docs") == 0o755
        os.umask(0o077)
        io._umask.cache_clear()
        write_json(tmp_path / "private.json", {"a": 1})
        assert _mode(tmp_path / "private.json") == 0o600  # a user's stricter umask is respected
    finally:
        os.umask(old)
        io._umask.cache_clear()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    write_json(tmp_path / "report.json", {"version": 1})

    def broken(tmp):
        tmp.write_text('{"version": 2, "half')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_with(tmp_path / "report.json", broken)
    assert (tmp_path / "report.json").read_text().strip().endswith("}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_directory_stranded_between_the_two_renames_is_put_back(tmp_path):
    """#23.6: a kill after `docs` moved to `.docs.old` and before the new one moved in left no `docs`, and the
    next write deleted the only complete copy."""
    from fer_platform.io import recover_dir

    (tmp_path / ".docs.old").mkdir()
    (tmp_path / ".docs.old" / "index.html").write_text("the last complete report")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "docs"):
            raise RuntimeError("this write fails half-way")
    assert (tmp_path / "docs" / "index.html").read_text() == "the last complete report"
    assert not recover_dir(tmp_path / "docs")  # nothing stranded any more


def test_replacing_a_directory_never_leaves_a_moment_without_it(tmp_path, monkeypatch):
    """#23.6: the old swap renamed `docs` away and then the new one in; a reader (or a kill) between the two saw
    no `docs` at all. Every rename the swap makes is watched: after each, `docs` must still be there."""
    from pathlib import Path

    target = tmp_path / "docs"
    with atomic_dir(target) as tmp:
        (tmp / "index.html").write_text("old")
    seen_missing = []
    real_rename, real_os_rename = Path.rename, os.rename

    def watched_rename(self, dest):
        result = real_rename(self, dest)
        seen_missing.append(not target.is_dir())
        return result

    def watched_os_rename(src, dst, *args, **kwargs):
        real_os_rename(src, dst, *args, **kwargs)
        seen_missing.append(not target.is_dir())

    monkeypatch.setattr(Path, "rename", watched_rename)
    monkeypatch.setattr(os, "rename", watched_os_rename)
    with atomic_dir(target) as tmp:
        (tmp / "index.html").write_text("new")
    assert not any(seen_missing), "docs was missing between two renames"
    assert (target / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]  # the old copy is gone, nothing left beside
