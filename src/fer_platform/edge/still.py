"""`fer-edge --image PHOTO`: one still image, the faces in it classified by the service, as JSON on stdout (the
/detect shape: box, label, confidence, probabilities) and, with --output, the annotated image."""

from __future__ import annotations

import argparse
import sys

import cv2

from fer_platform.edge.client import PredictClient
from fer_platform.edge.exits import EXIT_NO_SERVICE, EXIT_OK, EXIT_OUTPUT, EXIT_REFUSED, EXIT_SOURCE, refused_line
from fer_platform.edge.outputs import OutputFailed, RunOutputs
from fer_platform.edge.overlay import draw
from fer_platform.faces import DetectorSettings, FaceDetector, crop_faces, detected_face, to_gray
from fer_platform.streams.face_tracks import FaceTracker


def classify_image(args: argparse.Namespace) -> int:
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)  # applies EXIF orientation: phone photos stand upright
    if image is None:
        print(f"fer-edge: cannot read image {args.image!r} (missing, or not an image OpenCV reads)", file=sys.stderr)
        return EXIT_SOURCE
    gray = to_gray(image)
    if args.min_face is None:  # the search /detect and the Python API make: the same faces on the same photo
        detector = FaceDetector()
        boxes = detector.detect(gray)
    else:
        detector = FaceDetector(DetectorSettings(min_face=args.min_face))
        boxes = detector.detect(gray, downscale=detector.lossless_downscale())
    probs = refused = None
    if boxes:
        client = PredictClient(args.url, timeout=args.timeout, max_in_flight=1, token=args.token)
        try:
            probs = client.submit(crop_faces(gray, boxes)).result()
        except Exception:  # noqa: BLE001 - the client has said why (or kept it in refused); unclassified
            probs = None
        finally:
            client.close()
        refused = client.refused
    faces = [detected_face(box, None if probs is None else probs[i]) for i, box in enumerate(boxes)]
    record = {"image": args.image, "width": int(gray.shape[1]), "height": int(gray.shape[0]),
              "classified": probs is not None or not boxes, "faces": faces}
    try:
        target = sys.stdout if args.jsonl in (None, "-") else open(args.jsonl, "w")  # noqa: SIM115 (closed below)
        outputs = RunOutputs(target, args.jsonl or "-", None, 0.0)
        outputs.record(record)
        problem = outputs.close()
    except OSError as err:
        problem = f"cannot write --jsonl {args.jsonl}: {err.strerror or err}"
    except OutputFailed as err:
        problem = str(err)
    if problem:
        print(f"fer-edge: {problem}", file=sys.stderr)
        return EXIT_OUTPUT
    if args.output:
        tracks = FaceTracker(window=1).update(boxes, probs)
        annotated = draw(image, boxes, tracks, probs, 0.0, probs is not None or not boxes)
        if not cv2.imwrite(args.output, annotated):
            print(f"fer-edge: cannot write --output {args.output} (unknown extension or unwritable)",
                  file=sys.stderr)
            return EXIT_OUTPUT
    if refused:
        print(f"fer-edge: {refused_line(refused, args.token)}", file=sys.stderr)
        return EXIT_REFUSED
    if boxes and probs is None:
        print(f"fer-edge: {len(boxes)} faces found, but the service at {args.url} classified none",
              file=sys.stderr)
        return EXIT_NO_SERVICE
    return EXIT_OK

