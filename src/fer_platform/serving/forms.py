"""The shape of a multipart upload, checked before BentoML sees it.

BentoML reads a form field declared as a file that arrives as *text* as a URL or path and tries to fetch it
(a server-side request forgery), and accepts up to 1000 files per form. A /detect form must be exactly one
file part named `image`; anything else is a 400 with a message. Parsed with Starlette's own multipart parser,
the one BentoML uses, so both read the same parts.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser


async def form_problem(scope: dict[str, Any], body: bytes, file_field: str) -> str | None:
    """Why this multipart body is not exactly one file part named `file_field`, or None if it is."""

    async def stream():
        yield body

    parser = MultiPartParser(Headers(scope=scope), stream(), max_files=1, max_fields=1)
    try:
        form = await parser.parse()
    except MultiPartException as err:
        return f"the form must hold exactly one file part, `{file_field}`, and nothing else ({err})"
    try:
        value = form.get(file_field)
        if not isinstance(value, UploadFile):
            return f"the form has no file part `{file_field}` (send the image as a file upload, not a text field)"
        others = sorted(k for k in form if k != file_field)
        if others:
            return f"unexpected form parts {others}: the form takes only the file `{file_field}`"
        return None
    finally:
        await form.close()
