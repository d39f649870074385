# One image for every sweeper service: launch, worker, report and dashboard.
#
#   GPU (default):  docker build -t sweeper .
#   CPU only:       docker build -t sweeper --build-arg BASE_IMAGE=python:3.11-slim --build-arg TF_FLAVOUR=cpu .
#
# The GPU base brings TensorFlow with its CUDA libraries; the CPU path installs tensorflow-cpu
# (the project's `cpu` extra). Any base with Python >= 3.11 and pip works.
ARG BASE_IMAGE=tensorflow/tensorflow:2.20.0-gpu
FROM ${BASE_IMAGE}

# gpu: use the TensorFlow of the base image; cpu: install tensorflow-cpu from PyPI.
ARG TF_FLAVOUR=gpu
# More of the project's extras, comma-separated, for what your tasks import (e.g. examples).
ARG EXTRAS=""

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KERAS_BACKEND=tensorflow \
    TF_CPP_MIN_LOG_LEVEL=2 \
    SWEEPER_DATA_DIR=/data/cache \
    SWEEPER_TASK_PATH=/tasks

COPY . /src
RUN set -eu; \
    case "$TF_FLAVOUR" in \
      gpu) extras="$EXTRAS" ;; \
      cpu) extras="cpu${EXTRAS:+,$EXTRAS}" ;; \
      *) echo "TF_FLAVOUR must be gpu or cpu, got '$TF_FLAVOUR'" >&2; exit 2 ;; \
    esac; \
    target="/src${extras:+[$extras]}"; \
    python3 -m pip install "$target"; \
    python3 -c "import tensorflow, keras, optuna, optuna_dashboard, psycopg2, sweeper"; \
    rm -rf /src

# Non-root. The dataset cache is a named volume: it takes this folder's owner when created.
# /tasks: your own tasks (files or modules), mounted by docker-compose.yml or copied into an image
# built FROM this one.
RUN useradd --create-home --uid 10001 --user-group sweeper \
    && mkdir -p /data/cache /reports /tasks \
    && chown sweeper:sweeper /data/cache /reports
USER sweeper
WORKDIR /home/sweeper

CMD ["sweeper", "--help"]
