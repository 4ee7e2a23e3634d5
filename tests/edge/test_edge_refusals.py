"""fer-edge against a service that refuses its requests (a real HTTP server on loopback, answering in the
service's error shape): a wrong token or a too-large request is a mistake on this side that sending again
cannot fix, so it is named in one line with its own exit code, not retried and not called an outage."""

import json
from contextlib import contextmanager

import numpy as np
import pytest

from fer_platform.edge import cli
from tests.edge.fake_service import fake_service

CROPS = np.zeros((2, 48, 48), np.uint8)


@contextmanager
def service_answering(status: int, error: str):
    """A service that answers every POST with `status` and {"error", "status"}; yields the requests' auth headers."""
    seen: list[str | None] = []

    def answer(headers):
        seen.append(headers.get("authorization"))
        return status, {"error": error, "status": status}

    with fake_service(answer) as url:
        yield url, seen


@pytest.fixture(scope="module")
def demo_video(tmp_path_factory):
    from fer_platform.edge.demo import generate
    from tests.conftest import SHARED_FER

    video = tmp_path_factory.mktemp("refusals") / "demo.mp4"
    generate(SHARED_FER, video, frames_per_segment=2)
    return video


def test_a_refused_request_is_not_retried_later_and_an_outage_is():
    from fer_platform.edge.client import PredictClient, RequestRefused, ServiceUnavailable

    for status in (401, 403, 413, 422):
        with service_answering(status, "no") as (url, seen):
            client = PredictClient(url, backoff_initial=30.0)
            try:
                for _ in range(2):  # the second is sent at once: no backoff after a refusal
                    with pytest.raises(RequestRefused):
                        client.submit(CROPS).result(timeout=10)
                assert len(seen) == 2 and client.refused.status == status and client.refused.error == "no"
            finally:
                client.close()
    for status in (408, 429, 500, 503):  # "try again later" and the service's own failures: back off
        with service_answering(status, "later") as (url, seen):
            client = PredictClient(url, backoff_initial=30.0)
            try:
                for _ in range(2):
                    with pytest.raises(ServiceUnavailable):
                        client.submit(CROPS).result(timeout=10)
                assert len(seen) == 1 and client.refused is None  # the second waited out the backoff
            finally:
                client.close()


def test_a_wrong_or_missing_token_is_named_with_its_own_exit_code(demo_video, capsys, monkeypatch):
    monkeypatch.delenv(cli.TOKEN_ENV, raising=False)
    error = "missing or wrong bearer token (send Authorization: Bearer <token>)"
    with service_answering(401, error) as (url, seen):
        code = cli.main(["--video", str(demo_video), "--no-display", "--url", url, "--token", "not-the-token"])
        err = capsys.readouterr().err
        assert (f"fer-edge: the service refused the token (HTTP 401): set {cli.TOKEN_ENV} (or --token) to the "
                "service's token") in err.splitlines()
        assert code == cli.EXIT_REFUSED != cli.EXIT_NO_SERVICE
        assert "bentoml serve" not in err and "retrying" not in err and "not-the-token" not in err
        assert 1 <= len(seen) <= 4  # the run stopped at the first refusal (up to --max-in-flight were out)
        seen.clear()
        code = cli.main(["--video", str(demo_video), "--no-display", "--url", url])
        assert code == cli.EXIT_REFUSED and "the service requires a token (HTTP 401)" in capsys.readouterr().err
        assert seen and not any(seen)  # no token was sent, and the line says so


def test_a_request_over_the_services_limit_names_the_limit(demo_video, tmp_path, capsys, small_dataset):
    import cv2

    from fer_platform.edge.demo import compose

    error = "3 faces in one request; the limit is 1"
    with service_answering(413, error) as (url, _):
        code = cli.main(["--video", str(demo_video), "--no-display", "--url", url])
        err = capsys.readouterr().err
        assert f"fer-edge: the request was too large for the service (HTTP 413): {error}" in err
        assert code == cli.EXIT_REFUSED and "retrying" not in err
        faces = small_dataset.split("PrivateTest").images  # the same for one photo (--image)
        frame, _ = compose([faces[0], faces[7]], [(165, 240), (475, 240)])
        cv2.imwrite(str(tmp_path / "photo.png"), frame)
        code = cli.main(["--image", str(tmp_path / "photo.png"), "--url", url])
        out = capsys.readouterr()
        assert code == cli.EXIT_REFUSED and f"(HTTP 413): {error}" in out.err
        assert json.loads(out.out)["classified"] is False  # the record still says what was found
