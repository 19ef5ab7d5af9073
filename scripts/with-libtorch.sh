#!/usr/bin/env bash
# Runs a command (usually cargo) with libtorch configured for tch, then prints nothing else.
#
#   TORCH=cpu  (default) CPU libtorch from the PyPI torch wheel, cached in ~/.cache/dnlts and
#              fetched on first use; a LIBTORCH or LIBTORCH_USE_PYTORCH you set yourself wins.
#   TORCH=cuda a virtualenv (.venv-cuda) with the full torch wheel (CUDA 13.0 build) and
#              LIBTORCH_USE_PYTORCH=1; its own target folder (target/cuda) so CPU and GPU
#              builds never overwrite each other.
#
# The environment is the same on every call, so cargo never rebuilds tch because a variable
# changed between two commands.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
TORCH_VERSION=2.11.0

case "${TORCH:-cpu}" in
  cpu)
    if [ -z "${LIBTORCH:-}" ] && [ -z "${LIBTORCH_USE_PYTORCH:-}" ]; then
      LIBTORCH=$("$here/fetch-libtorch.sh")
      export LIBTORCH
    fi
    ;;
  cuda)
    venv="$root/.venv-cuda"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
      echo "with-libtorch: creating $venv with torch==$TORCH_VERSION (CUDA build, several GB)" >&2
      python3 -m venv "$venv"
      "$venv/bin/python" -m pip install --quiet "torch==$TORCH_VERSION"
    fi
    export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1
    export CARGO_TARGET_DIR="$root/target/cuda"
    ;;
  *)
    echo "with-libtorch: TORCH must be cpu or cuda, not '$TORCH'" >&2
    exit 2
    ;;
esac
exec "$@"
