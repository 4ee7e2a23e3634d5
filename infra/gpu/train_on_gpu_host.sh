#!/usr/bin/env bash
# Train every architecture of params.yaml on a GPU host that has Python + JAX but not our stack, in one go.
# The host gets the working tree plus (carried, git-ignored):
#   .whl/      keras, namex, optree, pydantic(+core, annotated-types, typing-inspection, typing-extensions) wheels
#              for the host's Python (3.12 on the lent H200: cp312 builds of optree and pydantic-core)
#   .devdata/  fer2013_pack.npz  (python -c "from fer_platform.data.pack import pack_image_folders as p;
#                                 p('data/fer2013', '.devdata/fer2013_pack.npz')")
# and writes to $OUT: results.tar.gz, <arch>.keras for the models small enough to return, train.log, gpu_util.csv
# (GPU_UTIL= for none). Back here: python -m fer_platform.hosted import <that folder>   (see docs/gpu.md)
# PACK (default .devdata/fer2013_pack.npz), WHEELS (default .whl) and PIP_PYTHON (default python3: a python with pip) for a dry run elsewhere;
# FER_SITE_READY=1 when the caller already installed them into /tmp/site.
set -euo pipefail
OUT=${OUT:-/tmp/fer-hosted-out}
WORK=${WORK:-/tmp/fer-hosted}
DEADLINE_S=${DEADLINE_S:-450}
GRACE_S=${GRACE_S:-75}
ARCHS=${ARCHS:-"cnn vgg19 resnet32 resnet_compact"}
PARAMS=${PARAMS:-params.yaml}
RETURN_WEIGHTS=${RETURN_WEIGHTS:-resnet_compact,resnet32}
WHEELS=${WHEELS:-.whl}
PACK=${PACK:-.devdata/fer2013_pack.npz}
GPU_UTIL=${GPU_UTIL-$OUT/gpu_util.csv}
mkdir -p "$OUT"
if [ -z "${FER_SITE_READY:-}" ] && [ -d "$WHEELS" ]; then  # the GPU host lacks these; elsewhere the env has them
  "${PIP_PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD/src KERAS_BACKEND=jax PYTHONUNBUFFERED=1
if [ -n "$GPU_UTIL" ]; then
  nvidia-smi -L || true
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 60 >"$GPU_UTIL" 2>&1 &
fi
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
python3 -m fer_platform.hosted train --images-pack "$PACK" --out "$OUT" \
  --work "$WORK" --deadline-s "$DEADLINE_S" --grace-s "$GRACE_S" $(printf -- '--arch %s ' $ARCHS) \
  --params "$PARAMS" --return-weights "$RETURN_WEIGHTS" 2>&1 | tee "$OUT/train.log"
