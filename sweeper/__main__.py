from __future__ import annotations

from sweeper.cli import console

console()
