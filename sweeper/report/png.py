"""PNG export through kaleido, which drives a local Chromium (Debian's ``chromium`` package)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go

from sweeper.errors import ReportError

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser(environ: Mapping[str, str] | None = None, candidates: tuple[str, ...] = CANDIDATES) -> str:
    """``BROWSER_PATH`` (kaleido's own override) if set, else the first Chromium found."""

    environ = os.environ if environ is None else environ
    given = environ.get("BROWSER_PATH")
    if given:
        if Path(given).is_file() and os.access(given, os.X_OK):
            return given
        raise ReportError(f"BROWSER_PATH={given!r} is not an executable browser: unset it, or apt-get install chromium")
    for name in candidates:
        found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name, path=environ.get("PATH"))
        if found:
            return found
    raise ReportError("--png needs a Chromium browser and none was found: apt-get install chromium (or set BROWSER_PATH)")


def write_png(fig: go.Figure, path: Path, *, width: int = 1200, height: int = 560) -> Path:

    browser = find_browser()
    # kaleido (through choreographer) reads the browser from BROWSER_PATH; set only meanwhile.
    previous = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = browser
    try:
        fig.write_image(str(path), format="png", width=width, height=height, scale=1)
    except Exception as exc:  # kaleido raises its own, browser-specific errors
        raise ReportError(f"PNG export to {path} failed ({type(exc).__name__}: {str(exc)[:200]}): "
                          "check that `chromium --headless` runs on this machine") from exc
    finally:
        if previous is None:
            os.environ.pop("BROWSER_PATH", None)
        else:
            os.environ["BROWSER_PATH"] = previous
    return path
