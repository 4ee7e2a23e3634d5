#!/usr/bin/env bash
# The pack (44.1 MiB) and the wheels (5.5 MiB) do not fit in one device call beside the tracked tree (41.2 MiB:
# release/ and bench/ models; one call carries 64 MiB in all). So the pack travels in three carried parts:
# .devdata-1/ and .devdata-2/ (21 MiB each) in two short calls that copy them to /tmp/stage there, the last
# part and its sha256 in .devdata-3/ with the call that runs plan_72.sh (which reassembles and checks it).
# The three calls must follow each other while the machine is still warm (30 s after each call).
#   bash infra/gpu/stage_pack.sh        # here, after building .devdata/fer2013_pack.npz (docs/gpu.md)
set -euo pipefail
PACK=.devdata/fer2013_pack.npz
PART_MIB=${PART_MIB:-21}
rm -rf .devdata-[0-9]
tmp=$(mktemp -d .devdata-split.XXXX)
split -b "${PART_MIB}M" -d -a 1 "$PACK" "$tmp/fer2013_pack.npz."
n=0
for part in "$tmp"/fer2013_pack.npz.*; do n=$((n + 1)); mkdir ".devdata-$n"; mv "$part" ".devdata-$n/"; done
rmdir "$tmp"
(cd .devdata && sha256sum fer2013_pack.npz) >".devdata-$n/fer2013_pack.npz.sha256"
git check-ignore -q .devdata-1 || { echo ".devdata-N must be git-ignored (it would travel in every call)"; exit 1; }
du -sh .devdata-[0-9] .whl 2>/dev/null || true
