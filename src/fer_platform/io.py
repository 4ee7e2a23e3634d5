"""Small filesystem adapters shared by every stage: atomic writes, so a killed stage leaves nothing half-written.

A write goes to a temporary file beside the target, is flushed to disk (fsync), given the permissions a normal
file would get under the user's umask (mkstemp's are 0600, which made reports unreadable to the team), and
then renamed over the target; the directory entry is flushed too, so a crash keeps the old or the new file.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `target`; it replaces `target` only if the block succeeds.

    A directory cannot be swapped in one rename: the old one moves to `.<name>.old` first. A kill between the
    two renames leaves only that, so every use first puts a stranded `.old` back (recover_dir)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        for path in (tmp, *tmp.rglob("*")):
            if path.is_file():
                _fsync(path)
        os.chmod(tmp, 0o777 & ~_umask())
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        _fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover_dir(target: str | Path) -> bool:
    """Put back `.<name>.old` when `target` is missing (atomic_dir was stopped between its renames)."""
    target = Path(target)
    old = target.with_name(f".{target.name}.old")
    if target.exists() or not old.is_dir():
        return False
    old.rename(target)
    return True


@functools.cache
def _umask() -> int:
    """Read once: reading means setting it, and a moment of umask 0 in a second thread (trainings run in
    threads) would give that thread's new files world-writable permissions."""
    mask = os.umask(0)  # the only way to read it is to set it: set it straight back
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
