"""Headless Chromium for the browser tests: Debian's ``chromium`` package driven by Playwright
(no browser is downloaded), the flags it runs with, and the skip when it is not installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: The mark of a test that needs the browser: skipped, saying how to install it, without it.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (/usr/bin/chromium): install it with "
    "`sudo apt-get install -y --no-install-recommends chromium` (.ci/run does this in CI)",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, closed (with Playwright's driver) on leaving."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
