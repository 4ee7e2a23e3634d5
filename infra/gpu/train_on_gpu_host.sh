#!/usr/bin/env bash
# Train every architecture of params.yaml on a GPU host that has Python + JAX but not our stack, in one go.
# The host gets the working tree plus (carried, git-ignored):
#   .whl/      keras, namex, optree, pydantic(+core, annotated-types, typing-inspection, typing-extensions) wheels
#   .devdata/  fer2013_pack.npz  (python -c "from fer_platform.data.pack import pack_image_folders as p;
#                                 p('data/fer2013', '.devdata/fer2013_pack.npz')")
# and writes to $OUT: results.tar.gz, <arch>.keras for the models small enough to return, train.log.
# Back here: python -m fer_platform.hosted import <that folder>   (see README "Training on a GPU host")
set -euo pipefail
OUT=${OUT:-/tmp/fer-hosted-out}
DEADLINE_S=${DEADLINE_S:-450}
GRACE_S=${GRACE_S:-75}
ARCHS=${ARCHS:-"cnn vgg19 resnet32 resnet_compact"}
PARAMS=${PARAMS:-params.yaml}
RETURN_WEIGHTS=${RETURN_WEIGHTS:-resnet_compact,resnet32}
mkdir -p "$OUT"
[ ! -d .whl ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD/src KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi -L || true
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 60 >"$OUT/gpu_util.csv" 2>&1 &
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
python3 -m fer_platform.hosted train --images-pack .devdata/fer2013_pack.npz --out "$OUT" \
  --work /tmp/fer-hosted --deadline-s "$DEADLINE_S" --grace-s "$GRACE_S" $(printf -- '--arch %s ' $ARCHS) \
  --params "$PARAMS" --return-weights "$RETURN_WEIGHTS" 2>&1 | tee "$OUT/train.log"
