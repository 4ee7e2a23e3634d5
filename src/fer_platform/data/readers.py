"""Readers for both FER2013 distributions -> FerDataset.

- image folders: `train/<emotion>/Training_<id>.jpg`, `test/<emotion>/{PublicTest,PrivateTest}_<id>.jpg`
  (the split is the file-name prefix, the label the folder name);
- the challenge CSV: columns `emotion,pixels,Usage`, 2304 space-separated grey levels per row.

- the field dataset (POST /feedback's labelled faces): the same `<emotion>/` folders, any file names
  (read_field_faces; its own split, data.field).

Every problem raises DataError naming the file or row and what is wrong; nothing is skipped silently (hidden
files such as .DS_Store, which operating systems leave in folders, are not data and are ignored).
"""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from fer_platform.contract import IMAGE_SHAPE, IMAGE_SIZE, NUM_PIXELS
from fer_platform.data.dataset import DataError, FerDataset
from fer_platform.data.field import FieldFaces
from fer_platform.labels import EMOTIONS, NUM_CLASSES, SPLIT_TO_CODE, SPLITS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
CSV_COLUMNS = ("emotion", "pixels", "Usage")
FOLDER_SPLITS = {"train": ("Training",), "test": ("PublicTest", "PrivateTest")}


def read_fer2013(source: str | Path) -> FerDataset:
    """Read either distribution: a directory is the image-folder release, a file the challenge CSV."""
    source = Path(source)
    if source.is_dir():
        dataset = read_image_folders(source)
    elif source.is_file():
        dataset = read_challenge_csv(source)
    else:
        raise DataError(f"{source}: no such file or directory (expected an image-folder root or a CSV)")
    _require_all_splits(dataset, source)
    return dataset


def read_image_folders(root: str | Path, workers: int = 4) -> FerDataset:
    root = Path(root)
    entries = _list_image_files(root)
    if not entries:
        raise DataError(f"{root}: no images found under train/<emotion>/ or test/<emotion>/")
    paths = [p for p, _, _ in entries]
    return FerDataset(
        images=_decode_faces(paths, workers),
        labels=np.array([label for _, label, _ in entries], dtype=np.uint8),
        splits=np.array([split for _, _, split in entries], dtype=np.uint8),
        source_ids=np.array([p.relative_to(root).as_posix() for p in paths]),
    )


def _list_image_files(root: Path) -> list[tuple[Path, int, int]]:
    present = {d.name for d in root.iterdir() if d.is_dir()} if root.is_dir() else set()
    if not present & set(FOLDER_SPLITS):
        raise DataError(f"{root}: expected folders 'train/' and 'test/', found {sorted(present) or 'none'}")
    entries: list[tuple[Path, int, int]] = []
    for folder, allowed_splits in FOLDER_SPLITS.items():
        split_dir = root / folder
        if not split_dir.is_dir():
            raise DataError(f"{split_dir}: missing (it holds the {'/'.join(allowed_splits)} split)")
        for path, label in _emotion_folder_images(split_dir):
            prefix = path.name.split("_", 1)[0]
            if prefix not in allowed_splits:
                raise DataError(
                    f"{path}: file name must start with one of "
                    f"{', '.join(p + '_' for p in allowed_splits)} (the split), got {prefix!r}"
                )
            entries.append((path, label, SPLIT_TO_CODE[prefix]))
    return entries


def _emotion_folder_images(folder: Path) -> list[tuple[Path, int]]:
    """(image, emotion code) of every image in `folder/<emotion>/`, in name order."""
    entries: list[tuple[Path, int]] = []
    for emotion_dir in sorted(folder.iterdir()):
        if not emotion_dir.is_dir():
            continue
        if emotion_dir.name not in EMOTIONS:
            raise DataError(
                f"{emotion_dir}: unknown emotion folder {emotion_dir.name!r}; known: {', '.join(EMOTIONS)}"
            )
        label = EMOTIONS.index(emotion_dir.name)
        for path in sorted(emotion_dir.iterdir()):
            if path.name.startswith("."):  # hidden files are the OS's (.DS_Store), never data
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{path}: not an image file this reader takes ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                                "move it out of the dataset folder")
            entries.append((path, label))
    return entries


def read_field_faces(root: str | Path, workers: int = 4) -> FieldFaces:
    """The field dataset: `<root>/<emotion>/<face_id>.png` as /feedback writes them (FER2013's label folders,
    48x48 greyscale, any file name). An absent or empty folder is no faces, not an error."""
    root = Path(root)
    if not root.exists():
        return FieldFaces.empty()
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (data.field names the field dataset's <emotion>/ folders)")
    entries = _emotion_folder_images(root)
    if not entries:
        return FieldFaces.empty()
    paths = [p for p, _ in entries]
    return FieldFaces(images=_decode_faces(paths, workers),
                      labels=np.array([label for _, label in entries], dtype=np.uint8),
                      source_ids=np.array([p.relative_to(root).as_posix() for p in paths]))


def _decode_faces(paths: list[Path], workers: int) -> np.ndarray:
    # cv2 releases the GIL while decoding, so threads overlap file I/O and decode.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.stack(list(pool.map(_decode_face, paths, chunksize=256)))


def _decode_face(path: Path) -> np.ndarray:
    raw = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE) if raw.size else None
    if image is None:
        raise DataError(f"{path}: not a decodable image (corrupt or not a JPEG/PNG)")
    if image.shape != IMAGE_SHAPE:
        raise DataError(f"{path}: image is {image.shape[1]}x{image.shape[0]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
    return image


def read_challenge_csv(path: str | Path) -> FerDataset:
    path = Path(path)
    try:
        return _read_csv_rows(path)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start} is {err.object[err.start:err.start + 1]!r}); "
                        "save the CSV as UTF-8") from None


def _read_csv_rows(path: Path) -> FerDataset:
    images, labels, splits, ids = [], [], [], []
    # utf-8-sig: a byte-order mark (as some editors write) is not part of the first column's name.
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}, "
                f"found {','.join(reader.fieldnames or []) or 'no header'}"
            )
        for row_no, row in enumerate(reader, start=1):
            where = f"{path}: row {row_no} (line {reader.line_num})"
            if row.get(None):  # DictReader files fields beyond the header under None
                raise DataError(f"{where}: {len(row[None])} more field(s) than the header's "
                                f"{len(reader.fieldnames or [])} ({','.join(CSV_COLUMNS)})")
            images.append(_parse_pixels(row["pixels"], where))
            labels.append(_parse_emotion(row["emotion"], where))
            usage = (row["Usage"] or "").strip()
            if usage not in SPLIT_TO_CODE:
                raise DataError(f"{where}: Usage {usage!r} is not one of {', '.join(SPLITS)}")
            splits.append(SPLIT_TO_CODE[usage])
            ids.append(f"row:{row_no}")
    if not images:
        raise DataError(f"{path}: the CSV has a header but no rows")
    return FerDataset(
        images=np.stack(images),
        labels=np.array(labels, dtype=np.uint8),
        splits=np.array(splits, dtype=np.uint8),
        source_ids=np.array(ids),
    )


def _parse_pixels(text: str | None, where: str) -> np.ndarray:
    parts = (text or "").split()
    if len(parts) != NUM_PIXELS:
        raise DataError(f"{where}: pixels has {len(parts)} values, expected {NUM_PIXELS} (48x48)")
    try:
        values = np.array(parts, dtype=np.int64)
    except ValueError:
        raise DataError(f"{where}: pixels contains a value that is not an integer") from None
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{where}: pixel values must be in 0..255, got {values.min()}..{values.max()}")
    return values.astype(np.uint8).reshape(IMAGE_SHAPE)


def _parse_emotion(text: str | None, where: str) -> int:
    try:
        code = int((text or "").strip())
    except ValueError:
        raise DataError(f"{where}: emotion {text!r} is not an integer 0..{NUM_CLASSES - 1}") from None
    if not 0 <= code < NUM_CLASSES:
        raise DataError(f"{where}: emotion {code} is outside 0..{NUM_CLASSES - 1}")
    return code


def _require_all_splits(dataset: FerDataset, source: Path) -> None:
    counts = np.bincount(dataset.splits, minlength=len(SPLITS))
    missing = [name for code, name in enumerate(SPLITS) if counts[code] == 0]
    if missing:
        raise DataError(f"{source}: split(s) {', '.join(missing)} have no images; FER2013 needs all of {SPLITS}")


def write_challenge_csv(dataset: FerDataset, path: str | Path) -> None:
    """Write a dataset in the original challenge format (used by tests and for exporting)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for image, label, split in zip(dataset.images, dataset.labels, dataset.splits, strict=True):
            writer.writerow([int(label), " ".join(map(str, image.reshape(-1).tolist())), SPLITS[split]])
