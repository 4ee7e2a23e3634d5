"""What BodyGuard checks in a JSON body before BentoML sees it: that it is not nested beyond what the parser can
take (a 2 KB `[[[...]]]` raised RecursionError, a 500), and that a JSON object names only fields the route takes
(BentoML drops a misspelt `face_b64` without a word and answers about the field it then misses)."""

from __future__ import annotations

import difflib
import json

NAMED_AT_MOST = 3  # unknown fields named in one answer (a body of 100k keys gets a short message, not 1 MB)
KEY_CHARS = 40


def json_body_problem(path: str, body: bytes, fields: tuple[str, ...]) -> tuple[int, str] | None:
    """(status, message) for a body the route cannot take, or None (also for invalid JSON or a non-object: BentoML's
    own validation answers those, in the service's error shape)."""
    try:
        data = json.loads(body)
    except RecursionError:
        return 400, f"the JSON body of {path} is nested too deeply"
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    unknown = [key for key in data if key not in fields]
    if not unknown:
        return None
    named = ", ".join(f"`{_short(key)}`" + _did_you_mean(key, fields) for key in unknown[:NAMED_AT_MOST])
    more = f" and {len(unknown) - NAMED_AT_MOST} more" if len(unknown) > NAMED_AT_MOST else ""
    takes = " or ".join(f"`{f}`" for f in fields) if fields else "no fields (send {})"
    return 422, f"{path} does not take {named}{more}; it takes {takes}"


def _short(key: str) -> str:
    return key if len(key) <= KEY_CHARS else key[: KEY_CHARS - 1] + "…"


def _did_you_mean(key: str, fields: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key[:KEY_CHARS], fields, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
