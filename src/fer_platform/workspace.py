"""The git checkout around an experiment: `fer-platform run` puts back every tracked file as it was before.

`dvc exp run -S` writes the profile's values into params.yaml and the run's results into dvc.lock and the
committed metrics; the experiment keeps them (`dvc exp show`, `dvc exp apply NAME`). The workspace must not, or
the next `dvc repro` runs the profile's values instead of the recipe. A file the user had edited gets the user's
edit back, not HEAD's version and not the edit plus the profile's values.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def modified_tracked_files() -> set[str] | None:
    """Tracked files that differ from HEAD (None outside a git checkout)."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return {line[3:] for line in out.stdout.splitlines() if line.strip()}


class TrackedFilesSnapshot:
    """Which tracked files differ from HEAD now, and the bytes of those that do."""

    def __init__(self) -> None:
        self.modified = modified_tracked_files()
        self.saved = {path: Path(path).read_bytes() for path in self.modified or () if Path(path).is_file()}

    def restore(self) -> list[str]:
        """Put every tracked file back as it was when the snapshot was taken; returns the files restored."""
        after = modified_tracked_files()
        if self.modified is None or after is None:
            return []
        to_head = sorted(after - self.modified)
        if to_head:
            subprocess.run(["git", "checkout", "--", *to_head], check=False)
        edited_again = sorted(p for p, data in self.saved.items() if not Path(p).is_file()
                              or Path(p).read_bytes() != data)
        for path in edited_again:
            Path(path).write_bytes(self.saved[path])
        return sorted(to_head + edited_again)
