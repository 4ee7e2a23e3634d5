#!/usr/bin/env bash
# Issue #16's GPU plan: one run on a lent GPU machine (H200), at most 9 minutes of wall time, through the hosted
# train/import path (README "Training on a GPU host"). Carried like train_on_gpu_host.sh: .whl/ and .devdata/.
#   phase 1 (teachers, in parallel, bfloat16): vgg13_bn (VGG-13 + BN, 40-px crops) and resnet_wide (ResNet
#            64-512, 44-px crops), SGD + Nesterov, reduce-on-plateau, random erasing: profile gpu72 of params.yaml
#   phase 2: their mean probabilities on every Training face (1 MB), then resnet_student (resnet_compact's size,
#            2.8 M parameters, ~10 ms a face on this CPU) distilled from them, alone on the GPU.
# Sizing (measured: resnet_compact alone 2.4 s/epoch at batch 64 with the GPU 24-71% busy): the teachers share
# the GPU for 270 s (assumed <= 4.5 s/epoch each: vgg13_bn 60, resnet_wide 50 epochs); the student gets 150 s
# (~2 s/epoch at 44 px: 60 epochs). A training the deadline cuts short still returns its results and predictions.
# Back here (see the end of this file): import, choose on PublicTest, report PrivateTest once.
# A dry run on a CPU (tiny subset, JAX): DRY_RUN=1 OUT=/tmp/plan72 bash infra/gpu/plan_72.sh
set -euo pipefail
OUT=${OUT:-/tmp/fer-plan72}
HERE=$(cd "$(dirname "$0")" && pwd)
PARAMS=artifacts/pipeline/params.gpu72.yaml
HOST_PARAMS=artifacts/pipeline/params.gpu72.host.yaml
SOFT=artifacts/teachers/gpu72_soft_labels.npz  # the student's distill.teacher in profile gpu72
if [ -d .whl ]; then  # the GPU host lacks these; elsewhere the environment has them
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD/src KERAS_BACKEND=jax PYTHONUNBUFFERED=1
mkdir -p "$OUT" artifacts/pipeline artifacts/teachers
# params.yaml with profile gpu72 (what the import here checks against), and the host's copy: + bfloat16 (how it
# runs, not what it trains: not part of a checkpoint's fingerprint). DRY_RUN also applies profile smoke.
python3 - "$PARAMS" "$HOST_PARAMS" "${DRY_RUN:-0}" <<'PY'
import sys, yaml
from fer_platform.config import apply_overrides, load_params
params, host, dry = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
raw = yaml.safe_load(open("params.yaml"))
loaded = load_params("params.yaml")
raw = apply_overrides(raw, loaded.profile("gpu72"))
if dry:
    raw = apply_overrides(raw, {**loaded.profile("smoke"), "train.common.epochs": 2})
for path, extra in ((params, {}), (host, {} if dry else {"train.common.precision": "mixed_bfloat16"})):
    open(path, "w").write(yaml.safe_dump(apply_overrides(raw, extra), sort_keys=False))
    load_params(path)
PY
if [ "${DRY_RUN:-0}" = 1 ]; then T1=120 G1=60 T2=60 G2=60; else T1=270 G1=30 T2=150 G2=30; fi
# phase 1: the teachers, side by side
OUT="$OUT/teachers" PARAMS=$HOST_PARAMS ARCHS="vgg13_bn resnet_wide" RETURN_WEIGHTS=none \
  DEADLINE_S=$T1 GRACE_S=$G1 bash "$HERE/train_on_gpu_host.sh"
# phase 2: soft labels from the teachers' best epochs, then the student
python3 -m fer_platform.hosted soft-labels --work /tmp/fer-hosted --arch vgg13_bn --arch resnet_wide --out "$SOFT" \
  --student resnet_student --params "$HOST_PARAMS"
cp "$SOFT" "$OUT/"
OUT="$OUT/student" PARAMS=$HOST_PARAMS ARCHS="resnet_student" RETURN_WEIGHTS=resnet_student \
  DEADLINE_S=$T2 GRACE_S=$G2 bash "$HERE/train_on_gpu_host.sh"
ls -la "$OUT" "$OUT"/*
# Back here, with OUT copied to results/ (7 files: two results.tar.gz, train logs, gpu_util, the soft labels,
# resnet_student.keras):
#   cp results/gpu72_soft_labels.npz artifacts/teachers/ && python -c "from flows.pipeline import profile_params;
#     profile_params('params.yaml', 'gpu72')"          # the same artifacts/pipeline/params.gpu72.yaml
#   python -m fer_platform.hosted import results/teachers --params artifacts/pipeline/params.gpu72.yaml
#   python -m fer_platform.hosted import results/student --params artifacts/pipeline/params.gpu72.yaml
#   python -m flows.train --params artifacts/pipeline/params.gpu72.yaml --arch resnet_student   # logs it
#   python -m flows.evaluate --params artifacts/pipeline/params.gpu72.yaml --arch resnet_student
# then choose on PublicTest (student alone, with ten-crop TTA, or in an ensemble with the release) against the
# latency budget (<= 15 ms a face in ONNX Runtime, <= 20 MB), report PrivateTest once, and release.
