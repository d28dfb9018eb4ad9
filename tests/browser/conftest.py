"""Fixtures of the browser suite: a Chromium, a JupyterLab server over a copy of notebooks/,
and the notebooks opened and run in it (each once per session, shared by the tests that
look at it).

Without a browser the suite skips and says why; with ``KMSLAB_REQUIRE_BROWSER=1`` (set by
``.ci/run``) it fails instead. Screenshots and the server's log go to
``test-artifacts/browser/`` (ignored by git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .jupyterlab_driver import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    NOTEBOOKS,
    Lab,
    LabServer,
    copy_notebooks,
    find_chromium,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run after every other test, also under a plain ``pytest``."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def browser_required() -> bool:
    return os.environ.get("KMSLAB_REQUIRE_BROWSER", "") == "1"


def no_browser(reason: str) -> None:
    if browser_required():
        pytest.fail(f"KMSLAB_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser suite skipped: {reason}")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/browser/, emptied of the last run's pictures."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path() -> str:
    choice = find_chromium()
    if choice.path is None:
        no_browser(choice.how)
    assert choice.path is not None
    return choice.path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        no_browser("the Python package playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[LabServer]:
    """JupyterLab over a scratch root holding a copy of notebooks/ (and room for the test's own
    notebooks), on a free 127.0.0.1 port with a random token."""
    scratch = tmp_path_factory.mktemp("jupyterlab")
    root = scratch / "root"
    root.mkdir()
    copy_notebooks(NOTEBOOKS, root)
    server = LabServer(root, scratch / "home", scratch / "jupyter-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.copyfile(server.log_path, artifacts / "jupyter-server.log")


@pytest.fixture(scope="session")
def lab(browser: Any, lab_server: LabServer, artifacts: Path) -> Iterator[Lab]:
    opened = Lab(browser, lab_server, artifacts)
    try:
        yield opened
    finally:
        opened.close_all()
        opened.write_timings()
