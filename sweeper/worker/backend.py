"""Process-level setup of the Keras backend: thread counts so that several workers on one CPU
don't fight, GPU memory growth so that several workers can share one GPU (JAX's equivalent is set
in the environment before the process starts: ``sweeper.worker.gpus.sharing_env``), and a warning when a
process given a GPU trains on the CPU. This is the one module that may touch a backend directly;
models and the training loop use Keras APIs only."""

from __future__ import annotations

import os
import sys

from sweeper.worker.gpus import parse_cuda_visible_devices

# What to install when a backend sees no GPU although the process was given one.
GPU_INSTALL = {
    "tensorflow": "pip install -e '.[gpu]' (TensorFlow with CUDA)",
    "jax": "pip install -e '.[gpu-jax]' (JAX with CUDA)",
}


def configure(threads: int | None, debug: bool = False) -> str:
    """Call before the first Keras op of the process. Returns the backend name. ``debug``
    (``Settings.debug``) keeps TensorFlow's own warnings."""
    if threads:
        # Read by OpenMP/BLAS (numpy, JAX on CPU, torch) when their thread pools start.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    backend = keras.backend.backend()
    gpus_seen: int | None = None
    if backend == "tensorflow":
        import tensorflow as tf

        if not debug:
            # "N out of the last N calls to <function> triggered tf.function retracing": said for
            # the short probe batches of `sweeper check`, noise to a user; --debug shows it.
            tf.get_logger().setLevel("ERROR")
        gpus = tf.config.list_physical_devices("GPU")
        gpus_seen = len(gpus)
        try:
            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            # TensorFlow already ran in this process (a worker started in-process, e.g. in a
            # notebook or a test): its settings can no longer change, and that is harmless.
            pass
    elif backend == "jax":
        import jax

        gpus_seen = sum(device.platform == "gpu" for device in jax.devices())
    elif backend == "torch" and threads:
        import torch

        torch.set_num_threads(threads)
    warning = missing_gpu_warning(os.environ.get("CUDA_VISIBLE_DEVICES"), backend, gpus_seen)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return backend


def missing_gpu_warning(cuda_visible_devices: str | None, backend: str, gpus_seen: int | None) -> str | None:
    """One line when this process was given a GPU (``CUDA_VISIBLE_DEVICES`` names one, as the
    supervisor sets it) but its backend sees none: a CPU-only build would otherwise train every
    trial on the CPU without a word. None when no GPU was asked for, or the backend's count is
    unknown (``gpus_seen`` None)."""
    if cuda_visible_devices is None or gpus_seen is None or gpus_seen > 0:
        return None
    if not parse_cuda_visible_devices(cuda_visible_devices):
        return None
    fix = GPU_INSTALL.get(backend, "install a CUDA build of it")
    return (f"sweeper: CUDA_VISIBLE_DEVICES={cuda_visible_devices} but Keras' {backend} backend sees no GPU, "
            f"so this worker trains on the CPU: {fix}")


def default_threads(local_workers: int, cores: int | None = None) -> int:
    """Threads per worker process when ``local_workers`` share ``cores`` CPU threads
    (``Settings.threads``; None: the machine's cores), at least 1."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, local_workers))
