"""fer-edge's exit codes and the line that names a refusal: shared by the video loop (cli) and the photo path
(still), which both end a run this way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fer_platform.contract import TOKEN_ENV

if TYPE_CHECKING:  # the client imports httpx and numpy: not at start-up (`fer-edge --help` stays instant)
    from fer_platform.edge.client import RequestRefused

EXIT_OK, EXIT_USAGE, EXIT_SOURCE, EXIT_OUTPUT, EXIT_NO_SERVICE, EXIT_REFUSED = 0, 2, 3, 4, 5, 6


def refused_line(refused: RequestRefused, token: str | None) -> str:
    """What to fix (the service's own message says which limit; the token itself is never shown)."""
    if refused.status == 401:
        what = "refused the token" if token else "requires a token"
        return f"the service {what} (HTTP 401): set {TOKEN_ENV} (or --token) to the service's token"
    if refused.status == 413:
        return f"the request was too large for the service (HTTP 413): {refused.error}"
    return f"the service refused the request (HTTP {refused.status}): {refused.error}"
