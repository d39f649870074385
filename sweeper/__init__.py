"""sweeper: regularization sweeps for Keras models, stored in Optuna studies."""

from __future__ import annotations

__version__ = "0.1.0"
