#!/usr/bin/env bash
# Checks dnlts' CUDA path on a machine with an NVIDIA GPU, in a few minutes:
#   1. `dnlts env` sees the GPU and cuDNN;
#   2. the ci profile runs end to end on the GPU, in f32 and with --amp --channels-last,
#      each timed; the f32 run twice, to say whether the GPU run repeats its bytes;
#   3. a batch far too big for the card stops with dnlts' out-of-memory advice, not a crash
#      (needs the generator_study example built beside dnlts);
#   4. the evaluation goldens (golden/evaluation, made on a CPU) hold on the GPU: the fixed
#      ci stages must give the same predictions up to ties (needs the golden test binary,
#      GOLDEN_TEST, built by `make gpu-check`);
#   5. data-parallel pre-training (--pretrain-devices) against --accumulate 2 on one GPU;
#   6. `dnlts bench --profile paper` in f32 and in bf16 channels-last: each stage's step at
#      paper scale (img/s, TFLOP/s, MFU, memory, projected time of the paper profile on 1, 2,
#      4 and 8 GPUs), then bf16 channels-last again with --fast (cuDNN autotuning), to
#      measure what that lever gives.
#
#   DNLTS=target/cuda/release/dnlts [STUDY=…/generator_study] [GOLDEN_TEST=…] \
#     scripts/gpu-check.sh OUT_DIR
#
# `make gpu-check` builds both binaries with TORCH=cuda and runs this into results/gpu-check
# (`make build TORCH=cuda` builds dnlts alone, so the out-of-memory step is then skipped).
# Each step's exit status, time and output go to OUT_DIR/gpu-check.md; the ci reports are kept
# under OUT_DIR/ci-*/report.md.
set -uo pipefail
dnlts=${DNLTS:-target/cuda/release/dnlts}
study=${STUDY:-$(dirname "$dnlts")/examples/generator_study}
out=${1:?usage: gpu-check.sh OUT_DIR}
mkdir -p "$out"
log="$out/gpu-check.md"
: >"$log"

# Runs one step: a heading, the command, its exit status and seconds, and its last lines.
step() {
  local name=$1
  shift
  local started=$SECONDS
  "$@" >"$out/$name.log" 2>&1
  local status=$?
  {
    echo "## $name"
    echo '```'
    echo "\$ $*"
    tail -n 25 "$out/$name.log"
    echo "exit $status after $((SECONDS - started)) s"
    echo '```'
  } >>"$log"
  return $status
}

# sha256 of every weight file, figure and JSON result (timing lines removed): the bytes a
# repeated run must reproduce. One line per file.
result_digests() {
  (
    cd "$1" || exit
    find . -type f \( -name '*.safetensors' -o -name '*.json' -o -name '*.svg' -o -name '*.png' \) \
      ! -name run.json ! -name options.json | LC_ALL=C sort | while read -r file; do
      case $file in
        *.json) digest=$(grep -v -E '"(wall_)?seconds"' "$file" | sha256sum) ;;
        *) digest=$(sha256sum <"$file") ;;
      esac
      echo "${digest:0:16} $file"
    done
  )
}

step env "$dnlts" env
step ci-f32 "$dnlts" reproduce --profile ci --device cuda --out "$out/ci-f32"
step ci-f32-again "$dnlts" reproduce --profile ci --device cuda --out "$out/ci-f32-again"
step ci-amp "$dnlts" reproduce --profile ci --device cuda --amp --channels-last \
  --out "$out/ci-amp"
{
  echo "## determinism (files that differ between the two f32 runs)"
  diff <(result_digests "$out/ci-f32") <(result_digests "$out/ci-f32-again") | grep '^<' \
    || echo "none: $(result_digests "$out/ci-f32" | wc -l) files identical"
} >>"$log"
# Data-parallel pre-training on the GPU: two copies of the AE (on two GPUs when there are two,
# else both on the first) must step as --accumulate 2 does on one GPU, up to rounding: the
# first step losses of the two runs are printed side by side.
second_gpu=$("$dnlts" env --json | python3 -c \
  'import json, sys; print("cuda:1" if json.load(sys.stdin)["cuda_devices"] > 1 else "cuda:0")')
step pretrain-split "$dnlts" pretrain --profile ci --device cuda:0 \
  --pretrain-devices "cuda:0,$second_gpu" --out "$out/split"
step pretrain-accumulate "$dnlts" pretrain --profile ci --device cuda:0 --accumulate 2 \
  --out "$out/accumulate"
{
  echo "## data-parallel pre-training: first losses (split over cuda:0,$second_gpu; then --accumulate 2)"
  for run in split accumulate; do
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_losses"])' \
      "$out/$run/stages/pretrain.json" 2>&1
  done
} >>"$log"
# One batch of 2^20 images of 32×32 through VGG16-BN/8: its first block's activations alone
# need ~100 GB. The profiles' training sets are smaller than such a batch, so the generator study
# (same training loop) makes the step.
if [ -x "$study" ]; then
  step oom "$study" --families V --device cuda --train-images 1048576 --epochs 1 \
    --batch 1048576 --threads 16
fi
# The newest golden test binary (older builds leave theirs in deps/ too).
golden_test=${GOLDEN_TEST:-$(ls -t "$(dirname "$dnlts")"/deps/golden-* 2>/dev/null | grep -v '\.d$' | head -n 1)}
if [ -n "$golden_test" ] && [ -x "$golden_test" ]; then
  step golden-evaluation-on-gpu env DNLTS_BIN="$dnlts" DNLTS_GOLDEN_DEVICE=cuda DNLTS_ROOT="$PWD" \
    "$golden_test" evaluation_layer --nocapture
fi
# The paper-scale step table of docs/performance.md ("How fast a stage runs") (batch 32, the profile's).
step bench-paper-f32 "$dnlts" bench --profile paper --device cuda
step bench-paper-bf16 "$dnlts" bench --profile paper --device cuda --amp --channels-last
step bench-paper-bf16-fast "$dnlts" bench --profile paper --device cuda --amp --channels-last \
  --fast
cat "$log"
