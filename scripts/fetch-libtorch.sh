#!/usr/bin/env bash
# Installs the CPU libtorch that tch needs, taken from PyPI wheels, into a cache outside the
# checkout, and prints its path on stdout. Idempotent and safe to interrupt: everything is
# assembled under a temporary name, verified, then renamed into place in one step.
#
# Why wheels: the PyPI torch wheel carries libtorch's shared libraries and headers. Its CPU
# libraries are all tch needs, except that libtorch_cpu.so links against libcudart and libcupti,
# which come from two small NVIDIA wheels. The CUDA libraries (~3.5 GB) are dropped.
set -euo pipefail

TORCH_VERSION=2.11.0
CACHE="${DNLTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dnlts}"
DEST="$CACHE/libtorch-$TORCH_VERSION-cpu"

# name=version sha256 — pinned so a changed upload is caught, not silently used.
WHEELS=(
  "torch==$TORCH_VERSION 7aa2f9bbc6d4595ba72138026b2074be1233186150e9292865e04b7a63b8c67a"
  "nvidia-cuda-runtime==13.0.96 7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548"
  "nvidia-cuda-cupti==13.0.85 4eb01c08e859bf924d222250d2e8f8b8ff6d3db4721288cf35d14252a4d933c8"
)
KEEP_LIBS=(libtorch_cpu.so libtorch.so libc10.so libgomp.so.1 libshm.so libtorch_global_deps.so)

say() { echo "fetch-libtorch: $*" >&2; }

if [ -f "$DEST/.complete" ]; then
  echo "$DEST"
  exit 0
fi

mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say "downloading libtorch $TORCH_VERSION (CPU) from the PyPI torch wheel into $DEST"
for entry in "${WHEELS[@]}"; do
  spec=${entry% *}
  want=${entry#* }
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$WORK/wheels" "$spec" >&2 ||
    { say "pip could not download $spec; check your network or proxy, or set LIBTORCH to an existing libtorch"; exit 1; }
  name=${spec%%==*}
  file=$(ls "$WORK/wheels/${name//-/_}-"*.whl)
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    say "sha256 mismatch for $file: expected $want, got $got"
    exit 1
  fi
done

OUT="$WORK/libtorch"
mkdir -p "$OUT/lib"
say "unpacking headers and CPU libraries"
unzip -q "$WORK/wheels/torch-"*.whl 'torch/include/*' -d "$WORK/torch"
mv "$WORK/torch/torch/include" "$OUT/include"
for lib in "${KEEP_LIBS[@]}"; do
  unzip -q -j "$WORK/wheels/torch-"*.whl "torch/lib/$lib" -d "$OUT/lib"
done
unzip -q -j "$WORK/wheels/nvidia_cuda_runtime-"*.whl 'nvidia/cu13/lib/libcudart.so.13' -d "$OUT/lib"
unzip -q -j "$WORK/wheels/nvidia_cuda_cupti-"*.whl 'nvidia/cu13/lib/libcupti.so.13' -d "$OUT/lib"
echo "$TORCH_VERSION" > "$OUT/build-version"
touch "$OUT/.complete"

rm -rf "$DEST"
mv "$OUT" "$DEST"
say "done: $DEST"
echo "$DEST"
