"""The Python API on real faces: the committed release model in process, and the same call against a real
`bentoml serve` of that release (its answers agree: the served ONNX graph is parity-checked against Keras)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_platform.api import FER
from fer_platform.edge.demo import compose
from fer_platform.errors import UserError
from fer_platform.labels import EMOTIONS
from tests.conftest import REPO


@pytest.fixture(scope="module")
def photo(small_dataset, tmp_path_factory):
    faces = small_dataset.split("PrivateTest").images
    frame, _ = compose([faces[0], faces[7]], [(165, 240), (475, 240)])
    path = tmp_path_factory.mktemp("api") / "two_faces.png"
    cv2.imwrite(str(path), frame)
    return frame, path


@pytest.fixture(scope="module")
def local():
    return FER.from_release(REPO / "release")


def test_detect_emotions_in_process_gives_the_detect_shape(local, photo):
    frame, path = photo
    found = local.detect_emotions(frame)
    assert len(found) == 2
    for face in found:
        assert set(face) == {"box", "label", "confidence", "probabilities"} and set(face["box"]) == set("xywh")
        assert list(face["probabilities"]) == list(EMOTIONS)
        assert abs(sum(face["probabilities"].values()) - 1) < 1e-4
        assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)
        assert face["confidence"] == face["probabilities"][face["label"]]
    assert local.detect_emotions(path) == local.detect_emotions(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    assert local.detect_emotions(np.full((240, 320, 3), 128, np.uint8)) == []


def test_a_larger_minimum_face_searches_a_reduced_copy_and_finds_the_large_faces(local, photo):
    """`min_face` (fer's default is 50): the photo is searched where that face is the cascade's window, so its
    150-px faces are found again (boxes within a few pixels), a 40-px one no longer is."""
    from fer_platform.faces import iou

    frame, _ = photo
    fast = FER.from_release(REPO / "release", min_face=50)
    full, reduced = local.detect_emotions(frame), fast.detect_emotions(frame)
    assert len(reduced) == len(full) == 2
    for a, b in zip(sorted(full, key=lambda f: f["box"]["x"]), sorted(reduced, key=lambda f: f["box"]["x"])):
        assert iou(tuple(a["box"].values()), tuple(b["box"].values())) > 0.8
    small = cv2.resize(frame, None, fx=0.27, fy=0.27)  # the faces become ~40 px
    assert local.detect_emotions(small) and not fast.detect_emotions(small)


def test_a_video_is_searched_near_the_last_faces_and_finds_and_labels_them_as_a_full_search_does(small_dataset):
    """`detect_video`: the faces of two people moving at 8 px a frame, found in every frame (as a full search per
    frame finds them) with the same labels on nearly every face, while most frames search only small regions."""
    from fer_platform.edge.moving_demo import moving_clip
    from fer_platform.faces import iou

    faces = small_dataset.split("PrivateTest").images
    clip = moving_clip([faces[0], faces[7]], frames=45)
    fer = FER.from_release(REPO / "release")
    detector, searched = fer._face_detector(), []  # the pixels the cascade is run over, at the scale searched
    search = detector.detect
    detector.detect = lambda gray, scale=1.0, *size: searched.append(gray.size * scale**2) or search(gray, scale, *size)
    video = list(fer.detect_video(frame for frame, _ in clip))  # any iterable, consumed in order
    full = detector.lossless_downscale() ** 2 * clip[0][0].size
    assert len(video) == len(clip) and sum(searched) < 0.3 * len(clip) * full, sum(searched) / (len(clip) * full)
    per_frame = [fer.detect_emotions(frame) for frame, _ in clip]
    same = judged = 0
    for (_, truth), ours, full in zip(clip, video, per_frame, strict=True):
        for box in truth:
            def at(found, box=box):
                return max(found, key=lambda f: iou(box, tuple(f["box"].values())), default=None)

            mine, theirs = at(ours), at(full)
            assert mine and iou(box, tuple(mine["box"].values())) > 0.5, (box, ours)
            if theirs and iou(box, tuple(theirs["box"].values())) > 0.5:
                judged, same = judged + 1, same + (mine["label"] == theirs["label"])
    assert judged >= 0.95 * 2 * len(clip) and same >= 0.9 * judged, (same, judged)


def test_classify_crops(local, small_dataset):
    crops = small_dataset.split("PrivateTest").images[:5]
    answers = local.classify(crops)
    assert len(answers) == 5 and all(a["label"] in EMOTIONS for a in answers)
    alone = local.classify(crops[0])[0]  # one crop without the batch axis (float sums differ by batch: 1e-7)
    assert alone["label"] == answers[0]["label"] and abs(alone["confidence"] - answers[0]["confidence"]) < 1e-5


def test_mistakes_are_clear_errors(local, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        local.detect_emotions(tmp_path / "missing.jpg")
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(UserError, match="not an image"):
        local.detect_emotions(tmp_path / "notes.jpg")
    with pytest.raises(UserError, match="uint8"):
        local.detect_emotions(np.zeros((10, 10), np.float32))
    with pytest.raises(UserError, match=r"\(N, 48, 48\)"):
        local.classify(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(FileNotFoundError, match="no release model"):
        FER.from_release(tmp_path)


@pytest.mark.slow
def test_the_same_call_against_the_service_agrees_with_in_process(local, release_server, photo, small_dataset):
    frame, path = photo
    remote = FER.from_service(release_server.url)
    here, there = local.detect_emotions(frame), remote.detect_emotions(path)
    assert [f["box"] for f in there] == [f["box"] for f in here]
    assert [f["label"] for f in there] == [f["label"] for f in here]
    for a, b in zip(here, there, strict=True):
        assert max(abs(a["probabilities"][e] - b["probabilities"][e]) for e in EMOTIONS) < 1e-3
    crops = small_dataset.split("PrivateTest").images[:8]
    assert [f["label"] for f in remote.classify(crops)] == [f["label"] for f in local.classify(crops)]
    with pytest.raises(UserError, match="HTTP 415"):
        remote.detect_emotions(REPO / "README.md")  # the service's error, in one line


def test_a_service_that_is_not_there_is_one_line_naming_the_fix():
    """#25: FER.from_service() with no service running was a 65-line traceback ending in ConnectError."""
    from fer_platform.errors import UserError
    from tests.team_stack import free_port

    remote = FER.from_service(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UserError, match=r"/predict: no answer \(ConnectError.*is `bentoml serve` running there"):
        remote.classify(np.zeros((1, 48, 48), np.uint8))


def test_fer_edge_image_finds_the_same_faces_as_the_python_api_and_detect(local):
    """#25: `fer-edge --image` searched a half-size copy from 48 px while /detect and the API search full size
    from 30 px, so the same photo got other boxes. A photo is now searched the same way everywhere (the API and
    /detect agree: test_the_same_call_against_the_service_agrees_with_in_process). No service here: the boxes
    are printed unclassified."""
    import json
    import subprocess
    import sys

    photo = REPO / "release" / "sample.jpg"
    out = subprocess.run([sys.executable, "-m", "fer_platform.edge.cli", "--image", str(photo), "--url",
                          "http://127.0.0.1:9", "--timeout", "1"], capture_output=True, text=True, timeout=60)
    record = json.loads(out.stdout.splitlines()[0])
    assert [f["box"] for f in record["faces"]] == [f["box"] for f in local.detect_emotions(photo)]
    assert len(record["faces"]) == 3 and not record["classified"]


def test_a_detect_answer_that_is_not_one_is_one_line_not_a_key_error(tmp_path):
    """A 200 from /detect without its faces (a proxy's page, another service on the port) was a KeyError
    traceback; /predict answers were checked already. Both are now checked by the one service client."""
    from fer_platform.errors import UserError
    from tests.edge.fake_service import fake_service

    photo = REPO / "release" / "sample.jpg"
    for body in ({"status": "ok"}, {"faces": [{"box": {"x": 1}}]}, {"faces": "none"}):
        with fake_service(lambda headers, body=body: (200, body)) as url:
            with pytest.raises(UserError, match=r"/detect: not a /detect answer"):
                FER.from_service(url).detect_emotions(photo)
    from fer_platform.faces import detected_face

    good = {"faces": [detected_face((1, 2, 3, 4), np.array([0.1, 0, 0, 0.9, 0, 0, 0]))]}
    with fake_service(lambda headers: (200, good)) as url:
        assert FER.from_service(url).detect_emotions(photo) == good["faces"]


def test_from_release_labels_a_photo_without_importing_tensorflow_or_keras():
    """#25: FER.from_release() runs the release's ONNX graph: no TensorFlow start-up (15 s, and its log lines)."""
    import subprocess
    import sys

    code = ("import sys; from fer_platform.api import FER; faces = FER.from_release().detect_emotions("
            "'release/sample.jpg'); print(len(faces), [m for m in ('tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.stdout.strip() == "3 []", out.stdout + out.stderr[-2000:]
    assert "tensorflow" not in out.stderr.lower(), out.stderr[-2000:]  # no start-up noise either

