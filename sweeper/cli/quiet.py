"""Keeping TensorFlow's C++ start-up lines out of what a person reads.

TensorFlow 2.16+ logs through absl before absl is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` does
not hide lines such as "oneDNN custom operations are on" or "This TensorFlow binary is optimized
to use available CPU instructions": every worker prints them between the progress lines. They are
dropped from the stderr of the sweeper processes that start Keras (workers, ``run``, ``check``)
unless ``--debug`` / ``SWEEPER_DEBUG=1`` (``Settings.debug``) asks for everything. Only these known
start-up lines are dropped; anything else, warnings and errors included, passes.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:. ]+\s+\d+ (port|cpu_feature_guard|cpu_allocator_impl)\.cc:\d+\] .*"
    r"|To enable the following instructions: .*in other operations, rebuild TensorFlow with the appropriate compiler flags\."
    r")$"
)


def is_noise(line: str) -> bool:
    return bool(NOISE.match(line.rstrip("\r\n")))


def filter_stderr() -> None:
    """For the rest of this process, what is written to file descriptor 2 (by Python or by
    TensorFlow's C++ code) passes through a pipe that drops start-up noise on its way to the real
    stderr. Restored at exit, after the last line has gone through. Not called under --debug."""
    if _installed:
        return
    original = os.dup(2)
    read_end, write_end = os.pipe()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as source, os.fdopen(original, "wb", buffering=0) as target:
            for raw in iter(source.readline, b""):
                if not is_noise(raw.decode("utf-8", errors="replace")):
                    target.write(raw)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    restore = os.dup(original)

    def finish() -> None:
        sys.stderr.flush()
        os.dup2(restore, 2)  # closes the pipe's last write end: the pump drains it and stops
        os.close(restore)
        thread.join(timeout=5)

    atexit.register(finish)
    _installed.append(thread)


_installed: list[threading.Thread] = []
