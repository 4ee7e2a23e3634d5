"""An upload's format and size read from its first bytes, before anything is decoded.

Only JPEG and PNG are served (other formats OpenCV can decode, such as TIFF, JPEG 2000 or HDR, are refused by
their magic bytes), and an image's width and height come from its header, so a tiny file that would decode to
gigabytes (a decompression bomb) is refused without being decoded.
"""

from __future__ import annotations

import struct
from http import HTTPStatus

from fer_platform.serving.errors import RequestError

PNG_MAGIC, JPEG_MAGIC = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry height and width.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_NO_LENGTH = {0x01, *range(0xD0, 0xD9)}  # TEM, RSTn, SOI: markers without a length field


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) of a JPEG or PNG; RequestError 415 for anything else, 400 if the header is cut."""
    if data.startswith(PNG_MAGIC):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise RequestError(HTTPStatus.BAD_REQUEST, "PNG upload is truncated: no image header")
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(JPEG_MAGIC):
        return ("jpeg", *_jpeg_size(data))
    raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                       "upload is not a JPEG or PNG image (send JPEG or PNG)")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise RequestError(HTTPStatus.BAD_REQUEST, "JPEG upload is corrupt: no marker where one must be")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _NO_LENGTH:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in _SOF:
            if i + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        i += 2 + length
    raise RequestError(HTTPStatus.BAD_REQUEST, "JPEG upload is truncated or corrupt: no frame header")
