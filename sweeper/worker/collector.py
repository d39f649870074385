"""How a worker process uses Python's cyclic garbage collector.

A worker builds a large heap once and keeps it until it exits: Optuna and SQLAlchemy, then
TensorFlow and Keras (about 370,000 objects), then the data set. Each full collection walks all of
it. Measured on the CIFAR-10 overhead benchmark (2 cores): a plain Keras loop spends 2.4 s of 26 s
in 12 full collections, and 1.4 s more at exit while the interpreter collects once again; the
TensorFlow import itself runs several full collections over its own growing heap. Freezing that
heap (``gc.freeze``, the permanent generation that collections skip) cuts those passes to what
each trial builds, which is still collected as usual. Reference counting frees frozen objects too;
only a garbage cycle that is frozen is kept for good, so garbage is collected before each freeze
where that is cheap.

This is for processes the worker owns: the ``sweeper`` command opts in (``own_process``). A
``Worker`` run inside somebody else's process (a notebook, the test suite) leaves their heap alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_owned = False


def own_process() -> None:
    """Called by the ``sweeper`` command: this process is ours until it exits."""
    global _owned
    _owned = True


def owns_process() -> bool:
    return _owned


@contextmanager
def long_lived() -> Iterator[None]:
    """Import what lives until exit, then freeze it. The collector is paused meanwhile: an import
    makes almost no garbage, and each pass over its growing heap is wasted (0.2 s of Optuna's and
    SQLAlchemy's imports, 0.5 s of TensorFlow's, on this machine)."""
    if not _owned:
        yield
        return
    # Garbage from before would otherwise be frozen for good, with whatever it holds (a
    # connection, an array). Cheap: what came before is frozen already, or a fresh heap.
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # The garbage an import leaves (about 2,000 of TensorFlow's 350,000 objects) is frozen
        # along: collecting it would cost the full pass this avoids.
        gc.freeze()
        if enabled:
            gc.enable()


def freeze_survivors() -> None:
    """After loading a data set, before any trial: collect what the load left (cheap, as only
    objects made since the last freeze are walked), then freeze what survives. Not after a trial
    ran: its leftovers that are still alive (a model, its GPU memory) would be kept for good."""
    if _owned:
        gc.collect()
        gc.freeze()
