"""Drift scores, the log window, the report and the monitor command's errors (pure logic, no servers)."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fer_platform.errors import UserError
from fer_platform.face_stats import NUMERIC_FIELDS, distribution, face_stats
from fer_platform.monitoring.drift import Thresholds, binned, compare, psi, scores
from fer_platform.monitoring.log_window import read_window
from fer_platform.monitoring.report import render

LIMITS = Thresholds(psi=0.2, ks_pvalue=0.01, bins=10, min_faces=20)  # the subset has 42 PublicTest faces


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 2000)
    assert psi(*binned(ref, ref, 10)) == pytest.approx(0, abs=1e-9)
    same, small, large = (psi(*binned(ref, rng.normal(m, 1, 1000), 10)) for m in (0, 0.3, 1.5))
    assert same < 0.05 < small < 0.2 < large
    assert psi([10, 10], [0, 20]) > 1  # an emptied bin is finite (floored), not infinite


@pytest.fixture(scope="module")
def stream(small_dataset):
    """Real faces with peaked probabilities, as records and as a reference distribution."""
    faces = small_dataset.split("PublicTest").images
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(7, 0.3), len(faces)).astype(np.float32)
    return faces, probs


def records(faces, probs, start=datetime(2026, 12, 5, tzinfo=UTC)):
    return [{**r, "time": (start + timedelta(seconds=i)).isoformat(), "face_id": f"{i:016x}"}
            for i, r in enumerate(face_stats(faces, probs))]


def test_an_undrifted_window_passes_and_a_brightened_or_one_label_window_drifts(stream):
    faces, probs = stream
    reference = distribution(faces, probs)
    same = compare(reference, records(faces, probs), LIMITS)
    assert same["verdict"] == "no drift" and same["drifted"] == [] and set(same["fields"]) == set(NUMERIC_FIELDS)
    brighter = np.clip(faces.astype(int) + 70, 0, 255).astype(np.uint8)
    shifted = compare(reference, records(brighter, probs), LIMITS)
    assert shifted["drift"] and "brightness" in shifted["drifted"] and "label" not in shifted["drifted"]
    assert shifted["fields"]["brightness"]["psi"] > 1 and shifted["fields"]["brightness"]["ks_p"] < 1e-6
    happy = np.zeros_like(probs)
    happy[:, 3] = 1
    forced = compare(reference, records(faces, happy), LIMITS)
    assert "label" in forced["drifted"] and forced["labels"]["window"]["happy"] == len(faces)
    flat = scores(forced)
    assert flat["drift"] == 1 and flat["psi_label"] > 1 and {f"psi_{f}" for f in NUMERIC_FIELDS} <= set(flat)
    few = compare(reference, records(faces, probs)[:10], LIMITS)
    assert few["verdict"] == "too few faces" and not few["drift"]


def test_the_window_reads_rotated_files_in_time_order_since_a_time_or_the_newest(tmp_path, stream):
    faces, probs = stream
    lines = records(faces, probs)
    (tmp_path / "predictions.jsonl.1").write_text("".join(json.dumps(r) + "\n" for r in lines[:20]))
    (tmp_path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines[20:]) + '{"cut sh')
    window = read_window(tmp_path)
    assert [r["face_id"] for r in window] == [r["face_id"] for r in lines]  # the torn last line is skipped
    newest = read_window(tmp_path, last=5)
    assert len(newest) == 5 and newest[-1]["face_id"] == lines[-1]["face_id"]
    since = datetime.fromisoformat(lines[30]["time"])
    assert read_window(tmp_path, since=since)[0]["face_id"] == lines[30]["face_id"]
    with pytest.raises(UserError, match="no prediction log"):
        read_window(tmp_path / "nowhere")


def test_the_report_is_one_page_with_its_plots_embedded(stream):
    faces, probs = stream
    reference = distribution(faces, probs)
    window = records(np.clip(faces.astype(int) + 70, 0, 255).astype(np.uint8), probs)
    page = render(compare(reference, window, LIMITS), reference, window, "Drift of fer-classifier")
    assert page.count('src="data:image/png;base64,') == 2 and "brightness" in page and "<b>drift</b>" in page


def test_the_monitor_command_says_what_is_missing_in_one_line(tmp_path, capsys):
    from flows.monitor import main

    assert main(["--log", str(tmp_path / "logs"), "--reference", str(tmp_path / "r.json")]) == 1
    assert "logs: no such directory" in capsys.readouterr().err
    assert main(["--log", str(tmp_path), "--reference", str(tmp_path / "r.json")]) == 1
    assert "r.json" in capsys.readouterr().err
    (tmp_path / "r.json").write_text("{}")
    assert main(["--log", str(tmp_path), "--reference", str(tmp_path / "r.json")]) == 1
    assert "not a reference distribution" in capsys.readouterr().err
    (tmp_path / "r.json").write_text(json.dumps({"n": 1, "labels": {}, "fields": {}}))
    assert main(["--log", str(tmp_path), "--reference", str(tmp_path / "r.json"), "--since", "2026-12-05T10:00"]) == 1
    assert "time zone" in capsys.readouterr().err
