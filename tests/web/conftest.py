"""Fixtures for the browser tests: a real ``handshake-game serve`` on loopback and Debian's
Chromium driven by Playwright (never a downloaded browser).

``new_page(size)`` opens a page in a fresh browser context (its own localStorage, as a
separate student's laptop or phone would have); ``shot(page, name)`` saves a screenshot
under ``build/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# A loaded CI machine runs the server, Chromium and pytest on two cores: wait up to 15 s
# for a page to show what it should (the default is 5 s). Never a sleep: the wait ends as
# soon as the page is right.
expect.set_options(timeout=15_000)

SIZES = {
    "phone": {"width": 375, "height": 740},
    "laptop": {"width": 1280, "height": 800},
    "projector": {"width": 1920, "height": 1080},
}


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT/
    token: str  # the instructor token
    process: subprocess.Popen[str]
    log: list[str]

    @property
    def instructor_url(self) -> str:
        return f"{self.base}instructor.html#token={self.token}"  # the sign-in link serve prints


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One game server for the whole browser test session, on a fresh SQLite file."""
    db = tmp_path_factory.mktemp("web") / "handshake.db"
    token = secrets.token_urlsafe(16)
    process = subprocess.Popen(
        [sys.executable, "-m", "handshake_game", "serve", "--host", "127.0.0.1", "--port", "0",
         # "=": a token_urlsafe token may start with "-", which argparse would take for an option.
         "--db", f"sqlite:///{db}", f"--instructor-token={token}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    log: list[str] = []
    base = None
    for line in process.stdout:
        log.append(line)
        if line.startswith("Handshake classroom server: "):
            base = line.split(": ", 1)[1].strip()
            break
    assert base, "the server did not start:\n" + "".join(log)
    # Keep reading its output so the pipe never fills (and the log is there if a test fails).
    threading.Thread(target=lambda: log.extend(process.stdout or ()), daemon=True).start()
    yield Served(base, token, process, log)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    contexts = []

    def make(size: str = "laptop") -> Page:
        context = browser.new_context(viewport=SIZES[size])
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def shot() -> Callable[[Page, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
