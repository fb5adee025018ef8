"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

Playwright's own browser download is not used; the tests skip, saying why, when the system's
Chromium is not installed (`.ci/run` installs it with apt-get).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest

from course.assignments import REPO_ROOT

ARTIFACTS = REPO_ROOT / "build" / "test-artifacts"  # screenshots kept for a person to look at
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

_chromium_installed = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")


def needs_chromium(test):
    """A browser test: slow (``make test-fast`` leaves it out), skipped saying why when
    Chromium is not installed."""
    return pytest.mark.slow(_chromium_installed(test))


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


def what_ran(browser, page_file) -> dict:
    """Open a local page with every request to elsewhere refused; return what ran in it:
    {"pwned": window.pwned (None when unset), "dialogs": [message], "jquery": whether the
    template's own jQuery loaded, "text": the page's visible text}."""
    context = browser.new_context()
    context.route(lambda url: not url.startswith("file://"), lambda route: route.abort())
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"file://{page_file}")
    page.wait_for_timeout(300)  # time for onload, onerror and timers
    for link in page.locator("a[href^='javascript:']").all():
        link.evaluate("a => a.click()")  # hidden or not
    found = page.evaluate("() => ({pwned: window.pwned ?? null, "
                          "jquery: typeof window.jQuery !== 'undefined', "
                          "text: document.body.innerText})")
    context.close()
    return {**found, "dialogs": dialogs}
