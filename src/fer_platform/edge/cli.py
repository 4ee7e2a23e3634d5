"""fer-edge: Haar-crop faces from a camera or video, classify them on the service, smooth per face, draw.

Exit codes: 0 done; 2 bad arguments (or no display for the window); 3 the camera/video cannot be opened, or the
camera disconnected and did not come back; 4 an output cannot be written (disk full: nothing claims success); 5 faces were found but the service classified none of them (it was down throughout);
6 the service refused a request for a reason retrying cannot fix (a wrong or missing token, a request over its
limits: any 4xx but 408/429); the run stops at the first.
The service being down for a while is not an error: frames are marked unclassified and the client reconnects.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from fer_platform import version
from fer_platform.contract import (
    EDGE_MIN_FACE,
    HAAR_MIN_FACE,
    HAAR_WINDOW,
    LIVE_FULL_SCAN_EVERY,
    SMOOTHING_WINDOW,
    TOKEN_ENV,
)
from fer_platform.edge.exits import (
    EXIT_NO_SERVICE,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_REFUSED,
    EXIT_SOURCE,
    EXIT_USAGE,
    refused_line,
)
from fer_platform.errors import entry_point


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fer-edge", description=__doc__.split("\n\n")[0],
                                     epilog="exit codes: 0 ok, 2 bad arguments or no display, 3 source cannot be "
                                            "opened or the camera was lost, 4 output cannot be written, 5 nothing was classified "
                                            "(service unreachable), 6 the service refused a request (token, "
                                            "limits)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="INDEX", help="camera index (e.g. 0)")
    source.add_argument("--video", metavar="PATH", help="a video file")
    source.add_argument("--image", metavar="PATH", help="one photo: its faces as JSON on stdout (or --jsonl), "
                                                        "the annotated image with --output (e.g. out.jpg)")
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="service URL (default: %(default)s)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                        help=f"bearer token of a service that requires one (default: ${TOKEN_ENV})")
    parser.add_argument("--no-display", action="store_true", help="no window (headless)")
    parser.add_argument("--jsonl", metavar="PATH|-", help="write one JSON object per frame ('-' = stdout)")
    parser.add_argument("--output", metavar="PATH", help="write the annotated video (e.g. annotated.mp4)")
    parser.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    parser.add_argument("--realtime", action="store_true",
                        help="play a --video at its own frame rate, as a camera would deliver it")
    parser.add_argument("--window", type=positive_int, default=SMOOTHING_WINDOW,
                        help="smoothing window in frames (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=5.0, help="request timeout in seconds")
    parser.add_argument("--max-in-flight", type=positive_int, metavar="N",
                        help="requests out at once (default: 1 for a camera or --realtime, where a deeper pipeline "
                             "only adds latency; 4 for a file, where it adds throughput)")
    parser.add_argument("--min-face", type=positive_int,
                        help=f"smallest face side in pixels; frames are searched at the scale where this is the "
                             f"cascade's {HAAR_WINDOW} px window (default {EDGE_MIN_FACE}: half size). A photo (--image) is "
                             f"searched as /detect and the Python API search it: from {HAAR_MIN_FACE} px, full size")
    parser.add_argument("--full-scan-every", type=positive_int, metavar="N",
                        help="search the whole frame every N frames; in between, only around the faces of the "
                             f"last frame (default: {LIVE_FULL_SCAN_EVERY} for a camera or --realtime, 1 = always for a file)")
    parser.add_argument("--reconnect-s", type=float, default=10.0, metavar="S",
                        help="a camera that stops delivering frames is reopened for up to S seconds before fer-edge "
                             "gives up with exit 3 (default %(default)s)")
    parser.add_argument("--progress-s", type=float, default=5.0, metavar="S",
                        help="a progress line on stderr every S seconds (0: none; default %(default)s)")
    parser.add_argument("--stats", metavar="PATH", help="write the run's summary (FPS, latency, stages) as JSON")
    parser.add_argument("--verbose", action="store_true", help="show OpenCV's own warnings (hidden by default)")
    args = parser.parse_args(argv)
    if args.min_face is None and args.image is None:
        args.min_face = EDGE_MIN_FACE
    live = args.video is None or args.realtime  # a camera, or a file played as one
    if args.max_in_flight is None:
        args.max_in_flight = 1 if live else 4
    if args.full_scan_every is None:
        args.full_scan_every = LIVE_FULL_SCAN_EVERY if live else 1
    return args


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1, with a message that says so."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


@entry_point("fer-edge")  # its own exit codes above; a user error anywhere else is one line, exit 1
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.verbose:  # a missing camera printed ten lines of OpenCV's own before ours
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    if args.image is not None:  # a still: JSON out, no window
        from fer_platform.edge.still import classify_image

        return classify_image(args)
    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not args.no_display and headless:
        # OpenCV's window would abort the process (exit 134, Qt noise) on a machine without a display.
        print("fer-edge: no display for the window: use --no-display (and --jsonl or --output)", file=sys.stderr)
        return EXIT_USAGE
    # After parsing, not at the top: OpenCV takes a moment to import and `fer-edge --help` stays instant.
    from fer_platform.edge.loop import EdgeLoop, open_source

    capture, error = open_source(args.camera, args.video)
    if capture is None:
        print(f"fer-edge: {error}", file=sys.stderr)
        return EXIT_SOURCE
    try:
        jsonl = _open_jsonl(args.jsonl)
    except OSError as err:
        capture.release()
        print(f"fer-edge: cannot write --jsonl {args.jsonl}: {err}", file=sys.stderr)
        return EXIT_OUTPUT
    loop = EdgeLoop(args, capture, jsonl)
    ok = loop.run()
    summary = loop.stats.summary(loop.client.failures)
    print(loop.stats.line(summary), file=sys.stderr)
    if args.stats:
        try:
            with open(args.stats, "w") as fh:
                json.dump(summary, fh, indent=2)
        except OSError as err:
            print(f"fer-edge: cannot write --stats {args.stats}: {err}", file=sys.stderr)
            return EXIT_OUTPUT
    if not ok:
        return EXIT_OUTPUT
    if loop.client.refused:
        print(f"fer-edge: {refused_line(loop.client.refused, args.token)}", file=sys.stderr)
        return EXIT_REFUSED
    if loop.reader.lost:
        print(f"fer-edge: {loop.reader.lost}", file=sys.stderr)
        return EXIT_SOURCE
    if summary["frames_with_faces"] and not summary["frames_classified"]:
        print(f"fer-edge: the service at {args.url} classified none of the {summary['frames_with_faces']} frames "
              f"with faces (is `bentoml serve` running there?)", file=sys.stderr)
        return EXIT_NO_SERVICE
    return EXIT_OK


def _open_jsonl(target: str | None):
    if target is None:
        return None
    if target == "-":
        return sys.stdout
    return open(target, "w")


if __name__ == "__main__":
    raise SystemExit(main())
