#!/usr/bin/env bash
# Installs Fashion-MNIST (MIT licence, 70,000 28×28 grey images) for the `fashion` profile:
# the Debian/Ubuntu package dataset-fashion-mnist puts the four gzipped IDX files into
# /usr/share/datasets/fashion-mnist. Elsewhere it says what to download.
set -euo pipefail
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then
    echo "Fashion-MNIST is in $dir"
    exit 0
fi
if command -v apt-get >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq dataset-fashion-mnist
    echo "Fashion-MNIST installed in $dir"
    exit 0
fi
cat >&2 <<TEXT
No apt-get here. Download these four files from https://github.com/zalandoresearch/fashion-mnist
(data/fashion/): train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; put them in one folder and run
  make reproduce PROFILE=fashion ARGS="--data FOLDER"
TEXT
exit 1
