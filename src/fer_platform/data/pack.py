"""One-file, byte-exact packing of the image-folder release, for hosts that get only what we send them.

All 35,887 FER2013 JPEGs share their first 328 bytes (JFIF header and tables), so the pack stores that prefix
once: 56.5 MB of files become a 44.7 MB `.npz`. Unpacking writes the identical files back, so the normal
reader (and the dataset's content hash) gives exactly what it gives here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fer_platform.data.dataset import DataError
from fer_platform.io import write_with


def pack_image_folders(root: str | Path, out: str | Path) -> dict:
    """Pack every file under root/train and root/test into one npz; returns sizes."""
    root = Path(root)
    files = sorted(p for folder in ("train", "test") for p in (root / folder).rglob("*") if p.is_file())
    if not files:
        raise DataError(f"{root}: no files under train/ or test/ to pack")
    blobs = [p.read_bytes() for p in files]
    prefix = os.path.commonprefix(blobs)  # works on any sequences, bytes included
    tails = [b[len(prefix):] for b in blobs]
    offsets = np.cumsum([0] + [len(t) for t in tails], dtype=np.int64)
    arrays = {
        "prefix": np.frombuffer(prefix, dtype=np.uint8),
        "blob": np.frombuffer(b"".join(tails), dtype=np.uint8),
        "offsets": offsets,
        # newline-joined UTF-8, not a numpy str array (4 bytes a character)
        "paths": np.frombuffer("\n".join(p.relative_to(root).as_posix() for p in files).encode(), np.uint8),
    }
    write_with(Path(out), lambda tmp: np.savez(tmp, **arrays))
    return {"files": len(files), "bytes_in": sum(map(len, blobs)), "bytes_out": Path(out).stat().st_size,
            "shared_prefix": len(prefix)}


def unpack_image_folders(pack: str | Path, root: str | Path) -> int:
    """Write the packed files back under root (byte-identical); returns how many."""
    try:
        with np.load(pack, allow_pickle=False) as data:
            prefix, blob, offsets, paths = (data[k] for k in ("prefix", "blob", "offsets", "paths"))
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"{pack}: not an image pack ({err})") from None
    root = Path(root)
    head = prefix.tobytes()
    names = paths.tobytes().decode().split("\n")
    if len(names) != len(offsets) - 1:
        raise DataError(f"{pack}: {len(names)} paths for {len(offsets) - 1} files")
    for i, rel in enumerate(names):
        if rel.startswith("/") or ".." in rel.split("/"):
            raise DataError(f"{pack}: refusing path {rel!r} outside the target folder")
        path = root / rel
        os.makedirs(path.parent, exist_ok=True)
        path.write_bytes(head + blob[offsets[i]:offsets[i + 1]].tobytes())
    return len(names)
