"""Render bench/results/*.json as the Markdown table in bench/README.md.

    python bench/report.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import NOT_CODE, REPO, RESULTS

HEADER = """# Benchmarks

Each script writes `results/<name>.json` (with commit and machine); `python bench/report.py` renders this table.
A commit marked **(not HEAD)** was measured on code that has changed since; **(dirty tree)**, on uncommitted code.

| benchmark | result | target | commit | machine |
|---|---|---|---|---|
"""


def freshness(commit: str) -> str:
    """'' when the result was measured on a clean tree whose code is HEAD's; otherwise what is off, in bold."""
    if commit.endswith("+dirty"):
        return " **(dirty tree)**"
    try:
        same = subprocess.run(["git", "diff", "--quiet", commit, "HEAD", "--", ".", *NOT_CODE], cwd=REPO, check=False,
                              capture_output=True).returncode == 0
    except OSError:
        same = False
    return "" if same else " **(not HEAD)**"


def row(r: dict) -> str:
    name, where = r["benchmark"], f"{r['machine']['cores']} cores {r['machine']['cpu']}"
    if name == "ingest_validate":
        totals = " / ".join(f"{run['total_s']:.1f}" for run in r["runs"])
        result = f"{r['median_total_s']:.1f} s median ingest+validate (runs: {totals} s), {r['n_images']} images"
        target = f"<= {r['target_s']} s"
    elif name == "fer_package":
        result = f"PrivateTest accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f} (n={r['n']}); {r['caveat']}"
        target = "peer baseline"
    elif "reproduces_model_card" in r:  # bench/evaluate_release.py, for the release or any exported model
        p = r["privatetest"]
        result = (f"{r['arch']}: PrivateTest {p['accuracy']:.4f} vs model card {p['model_card_accuracy']:.4f} "
                  f"-> reproduces: {r['reproduces_model_card']}")
        target = "model card to 0.1 pt"
    elif name == "model_ceiling":
        k, o = r["keras_predict"], r["onnxruntime_1_thread"]
        result = (f"one face: Keras {k['1']['median_ms']} ms, ONNX Runtime {o['1']['median_ms']} ms "
                  f"({r['one_face_speedup']}x); batch 128: {k['128']['faces_per_s']} vs {o['128']['faces_per_s']} "
                  f"faces/s (2 threads: {r['onnxruntime_2_threads']['128']['faces_per_s']})")
        target = "serving runtime chosen by measurement"
    elif name == "service_load":
        o, acc = r["open_loop_30rps"], r["served_accuracy"]
        one = {c["clients"]: c for c in r["closed_loop"] if c["faces_per_request"] == 1}
        result = (f"/readyz {r['readyz_s']} s; 30 req/s for {o['seconds']:.0f} s: p50 {o['p50']} p95 {o['p95']} "
                  f"p99 {o['p99']} ms, {o['errors']} errors; 1 client p50 {one[1]['p50']} ms; 16 clients "
                  f"{one[16]['faces_per_s']} faces/s = {r['sixteen_clients_vs_in_process']:.0%} of in-process "
                  f"{r['in_process_faces_per_s']}; /detect 640x480 p50 {r['detect']['p50']} ms; served PrivateTest "
                  f"{acc['accuracy']} (card {acc['model_card_accuracy']})")
        if "prediction_log_cost" in r:
            on, off = r["prediction_log_cost"]["log_on"], r["prediction_log_cost"]["log_off"]
            result += (f"; prediction log on vs off: 30 req/s p50 {on['open_loop_30rps']['p50']} vs "
                       f"{off['open_loop_30rps']['p50']}, p99 {on['open_loop_30rps']['p99']} vs "
                       f"{off['open_loop_30rps']['p99']} ms; 16 clients {on['sixteen_clients_faces_per_s']} vs "
                       f"{off['sixteen_clients_faces_per_s']} faces/s")
        target = "p99 <= 30 ms, 0 errors; >= 70%; /readyz <= 15 s; = card; the log's cost within noise"
    elif name == "reliability_load":
        p, d, m = r["predict"], r["detect"], r["rss_mb"]
        result = (f"{r['clients']} clients for {r['seconds']:.0f} s: {r['requests']} requests, {r['errors']} errors "
                  f"{r['error_kinds'] or ''}; /predict p50 {p['p50']} p99 {p['p99']} max {p['max']} ms; /detect "
                  f"p50 {d['p50']} p99 {d['p99']} ms; RSS {m['baseline']} -> peak {m['peak']} -> {m['after']} MB (every 10 s: "
                  f"{', '.join(map(str, m.get('every_10_s', [])))})")
        target = "0 errors, bounded memory"
    elif name == "edge_fps":
        d = r["detection"]
        runs = "; ".join(f"{k.replace('_', ' ')}: {v['fps']} FPS, p95 {v['latency_ms_p95']} ms, {v['dropped']} dropped"
                         for k, v in r["runs"].items())
        result = (f"{runs}; Haar {d['full_ms_per_frame']} -> {d['reduced_ms_per_frame']} ms/frame at "
                  f"x{d['downscale']}, faces {d['full_faces']} -> {d['reduced_faces']} ({d['faces_lost_by_reducing']} lost)")
        for speed, m in r.get("moving", {}).items():
            live, full = m["live"], m["full_scan"]
            result += (f"; moving faces {speed.split('_')[0]} px/frame, live vs full scan: found {live['found']:.1%} vs "
                       f"{full['found']:.1%}, track ids per person {live['track_ids_per_person']} vs "
                       f"{full['track_ids_per_person']}, {live['ms_per_frame']} vs {full['ms_per_frame']} ms/frame")
        target = ">= 30 FPS (1 face), >= 20 (3), p95 <= 100 ms; moving: as found as a full scan, 1 track id a person"
    elif name == "real_faces":
        def side(m: dict) -> str:
            p = m["pipeline"]
            return (f"PrivateTest {m['privatetest_accuracy']:.4f}, robustness mean {m['robustness_mean']:.4f} "
                    f"(not trained with: {m['robustness_unseen_mean']:.4f}), in frames {p['detection_rate']:.0%} found, "
                    f"{p['accuracy_on_detected']:.4f} of those right")
        result = (f"release: {side(r['release'])}; fer package: {side(r['fer_package'])} "
                  f"({r['robustness_faces']} faces x 25 perturbations, {r['frames']} frames)")
        target = "release >= fer package on each"
    elif name == "python_api":
        theirs = next(v for k, v in r.items() if k.startswith("fer_"))
        ours = r["ours"]
        at_50 = r.get("ours_min_face_50", {})
        result = (f"FER.from_release(): ready {ours['ready_s']} s, {ours['fps']} frames/s (TensorFlow imported: "
                  f"{ours['tensorflow_imported']}); with min_face=50: {at_50.get('fps', '-')} frames/s; fer package: "
                  f"ready {theirs['ready_s']} s, {theirs['fps']} frames/s; ratio {r['fps_ratio']}x, at min face 50 "
                  f"{r.get('fps_ratio_min_face_50', '-')}x; detect_video: "
                  f"{r.get('ours_detect_video', {}).get('fps', '-')} frames/s, {r.get('fps_ratio_detect_video', '-')}x "
                  f"({r['clip']})")
        target = "ready <= 2 s, >= 1.5x fer's frame rate"
    elif name == "int8":
        p = r["parity"]
        result = (f"one face {r['float']['ms_one_face']} -> {r['int8']['ms_one_face']} ms ({r['speedup_one_face']}x), "
                  f"batch 8 {r['float']['ms_batch_8']} -> {r['int8']['ms_batch_8']} ms, {p['size_mb']['float']} -> "
                  f"{p['size_mb']['int8']} MB; labels agree {p['label_agreement']:.1%}, PublicTest "
                  f"{p['selection_accuracy']['float']:.4f} -> {p['selection_accuracy']['int8']:.4f}; served: {r['served']}")
        target = "agree >= 98%, PublicTest within 0.3 points"
    elif name == "live_page":
        pg, t320, t640 = r["page"], r["transports"]["320x240"], r["transports"]["640x480"]
        result = (f"page in Chromium, fake camera (2 faces): {pg['fps']} FPS, capture to label p50 {pg['latency_ms_p50']} "
                  f"p95 {pg['latency_ms_p95']} ms (service {pg['server_ms_p50']} ms), labels right "
                  f"{pg['smoothed_label_right']:.0%}; one frame in flight, 320x240: /live/ws p50 "
                  f"{t320['websocket']['p50_ms']} vs /detect {t320['detect']['p50_ms']} ms, 640x480: "
                  f"{t640['websocket']['p50_ms']} vs {t640['detect']['p50_ms']} ms (load {r['load_average_1min_before']})")
        target = ">= 10 FPS; transport chosen by measurement"
    elif name == "serving_env":
        result = (f"bento env {r['serving_env_mb']:.0f} MB vs full project env {r['full_project_env_mb']:.0f} MB; "
                  f"training stack in it: {r['training_stack_in_serving_env'] or 'none'}; served /predict "
                  f"{r['predict_status']} ({r['label']}), /readyz {r['readyz_s']} s")
        target = "only what serving imports, pinned"
    else:
        result, target = json.dumps({k: v for k, v in r.items() if k not in ("machine",)})[:120], ""
    return f"| {name} | {result} | {target} | {r['commit']}{freshness(r['commit'])} | {where} |"


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def main() -> int:
    rows = [row(json.loads(p.read_text())) for p in sorted(RESULTS.glob("*.json"))]
    table = HEADER.split("\n\n", 2)[2] + "\n".join(rows) + "\n"
    out = Path(__file__).with_name("README.md")
    out.write_text(HEADER + "\n".join(rows) + "\n")
    readme = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"  # the docs page carries the same table
    text = readme.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        readme.write_text(f"{head}{START}\n{table}{END}{rest.split(END, 1)[1]}")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
