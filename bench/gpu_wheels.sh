#!/usr/bin/env bash
# Download, on this machine (PyPI reachable), the wheels that bench_gpu.py needs on the lent GPU
# machine, into .whl/ (ignored by git; about 8 MiB), to be carried with the run. That machine has
# Python 3.12 with JAX (CUDA), numpy, scipy, h5py, ml-dtypes, absl-py, rich, tqdm, PyYAML,
# packaging, MarkupSafe and typing-extensions, but no Keras, Optuna or SQLAlchemy, no TensorFlow,
# and no registry (/work/.library/device/README.md and KINDS.md). The versions are the ones the
# CPU runs here were made with. Usage: bash bench/gpu_wheels.sh; the command to run there is in
# bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"

# Keras and its two needs the machine lacks; Optuna and its three; SQLAlchemy (2.1 needs no greenlet);
# tenacity (sweeper/storage/retry). The bench's probe imports what `sweeper launch` and `sweeper
# worker` import, so a wheel missing here stops it in its first minute.
WHEELS=(
  keras==3.15.1 namex==0.1.0 optree==0.20.0
  optuna==5.0.0 alembic==1.20.1 Mako==1.4.3 colorlog==6.12.0
  SQLAlchemy==2.1.9 tenacity==9.2.1
)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"
ls -1 .whl
du -sh .whl
