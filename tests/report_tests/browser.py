"""Opening written pages in Debian's Chromium through Playwright (no browser download): console
errors, rendered plot elements, and a screenshot checked for content."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class PageCheck:
    console_errors: list[str] = field(default_factory=list)
    rendered: dict[str, bool] = field(default_factory=dict)  # figure div id -> has a plot svg
    screenshot: bytes = b""
    requests: list[str] = field(default_factory=list)  # any URL that is not file:// or data:


def open_page(page_path: Path, figure_ids: list[str], *, screenshot_of: str | None = None,
              full_page: bool = False) -> PageCheck:
    from playwright.sync_api import sync_playwright

    check = PageCheck()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: check.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: check.console_errors.append(f"page error: {e}"))
            page.on("request", lambda r: check.requests.append(r.url)
                    if not r.url.startswith(("file:", "data:", "blob:")) else None)
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            for div_id in figure_ids:
                locator = page.locator(f"#{div_id}.js-plotly-plot .main-svg")
                try:
                    locator.first.wait_for(state="visible", timeout=15_000)
                    check.rendered[div_id] = True
                except Exception:
                    check.rendered[div_id] = False
            if screenshot_of:
                target = page.locator(f"#{screenshot_of}")
                target.scroll_into_view_if_needed()
                check.screenshot = target.screenshot()
            else:
                check.screenshot = page.screenshot(full_page=full_page)
        finally:
            browser.close()
    return check


def pixel_std(png: bytes) -> float:
    """Standard deviation of the grey levels: ~0 for a blank (single-colour) image."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        grey = np.asarray(image.convert("L"), dtype=float)
    return float(grey.std())
