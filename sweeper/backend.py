"""Process-level setup of the Keras backend: thread counts so that several workers on one CPU
don't fight, and GPU memory growth so that several workers can share one GPU. This is the one
module that may touch a backend directly; models and the training loop use Keras APIs only."""

from __future__ import annotations

import os


def configure(threads: int | None) -> str:
    """Call before the first Keras op of the process. Returns the backend name."""
    if threads:
        # Read by OpenMP/BLAS (numpy, JAX on CPU, torch) when their thread pools start.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            if threads:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            # TensorFlow already ran in this process (a worker started in-process, e.g. in a
            # notebook or a test): its settings can no longer change, and that is harmless.
            pass
    elif backend == "torch" and threads:
        import torch

        torch.set_num_threads(threads)
    return backend


def default_threads(local_workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, local_workers))
