"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

Playwright's own browser download is not used; the tests skip, saying why, when the system's
Chromium is not installed (`.ci/run` installs it with apt-get).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest

from utils.course.assignments import REPO_ROOT

ARTIFACTS = REPO_ROOT / "build" / "test-artifacts"  # screenshots kept for a person to look at
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")


@contextmanager
def chromium():
    """A headless Chromium browser (Playwright), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_path(name: str):
    """build/test-artifacts/<name>, its folder created and any older file removed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    return path
