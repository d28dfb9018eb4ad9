"""Drive JupyterLab in headless Chromium for the browser suite (issue 9).

Plain classes and functions, no pytest fixtures (``conftest.py`` builds those):

- :func:`find_chromium` picks the browser: ``$KMSLAB_CHROMIUM``, then ``/usr/bin/chromium``
  (Debian's package), then the browser Playwright downloaded for itself, if there is one.
- :class:`LabServer` runs ``python -m jupyter lab`` on a free 127.0.0.1 port with a token,
  isolated from the user's Jupyter config and settings, over a scratch root folder; an
  ``overrides.json`` turns off the news and update checks (which would call the internet and
  pop a toast over the page) and notebook windowing (so that every cell is in the page).
- :class:`NotebookPage` opens one notebook, runs all its cells, waits for the kernel, and
  :meth:`NotebookPage.problems` lists everything a learner would see go wrong: error outputs,
  tracebacks on stderr or in Output widgets, widgets that failed to render (or never did),
  exceptions shown by a widget's result panel, errors in JupyterLab's log console (where the
  traceback of a widget callback lands), and uncaught errors in the page.

The notebooks themselves are never touched: the server serves a copy.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # playwright may be missing: conftest turns that into a skip
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "browser"

HOST = "127.0.0.1"
DEBIAN_CHROMIUM = "/usr/bin/chromium"

#: Flags for Chromium on a machine with no network and no GPU; Playwright adds --headless and
#: a fresh --user-data-dir of its own.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

#: A normal laptop window: what the screenshots should be readable at.
VIEWPORT = {"width": 1366, "height": 900}

#: JupyterLab settings for the test server (the app-level overrides.json).
LAB_OVERRIDES: dict[str, dict[str, Any]] = {
    # No news toast over the page, no calls to the internet for news or new releases.
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Every cell stays in the page, so that the checks see the whole notebook.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}

SERVER_START_TIMEOUT = 120.0  # s; a cold start on a busy 2-core machine takes 10-20 s
OPEN_TIMEOUT = 180_000  # ms: page load, kernel start
RUN_TIMEOUT = 600_000  # ms: run all cells of one notebook
SETTLE_TIMEOUT = 120_000  # ms: one widget callback
RENDER_TIMEOUT = 30_000  # ms: widget views to appear after the run

# A Python exception as a widget's result panel shows it (kmslab.ui.Panel.guard writes
# "TypeName: message"): builtin ...Error names, botocore's ClientError, or a traceback. AWS
# error codes (ValidationException, NotFoundException, ...) are expected results, not this.
PYTHON_EXCEPTION = re.compile(r"Traceback \(most recent call last\)|\b\w+Error: |\bClientError\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


# == the browser ===================================================================================


@dataclass(frozen=True)
class BrowserChoice:
    path: str | None
    how: str  # where it came from, or why there is none


def find_chromium() -> BrowserChoice:
    """``$KMSLAB_CHROMIUM``, then Debian's ``/usr/bin/chromium``, then Playwright's own."""
    chosen = os.environ.get("KMSLAB_CHROMIUM", "").strip()
    if chosen:
        if os.path.isfile(chosen) and os.access(chosen, os.X_OK):
            return BrowserChoice(chosen, "KMSLAB_CHROMIUM")
        return BrowserChoice(None, f"KMSLAB_CHROMIUM={chosen!r} is not an executable file")
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return BrowserChoice(DEBIAN_CHROMIUM, "Debian's chromium package")
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            bundled = p.chromium.executable_path
    except Exception as exc:  # playwright missing or broken: say so in the skip reason
        return BrowserChoice(None, f"no {DEBIAN_CHROMIUM}, and Playwright failed: {exc}")
    if bundled and os.access(bundled, os.X_OK):
        return BrowserChoice(bundled, "Playwright's own Chromium")
    return BrowserChoice(
        None,
        f"no browser: set KMSLAB_CHROMIUM, install Chromium at {DEBIAN_CHROMIUM} "
        "(apt-get install chromium), or run `playwright install chromium`",
    )


# == the server ====================================================================================


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class LabServer:
    """``jupyter lab`` over ``root`` (a scratch folder), on 127.0.0.1 with a token.

    Jupyter's config, data, runtime and settings folders all live under ``home`` so that
    nothing of the user's own setup (kernelspecs, settings, workspaces) leaks in; kernels get
    ``KMSLAB_QUICK=1`` and the default backend (kmslab)."""

    def __init__(self, root: Path, home: Path, log_path: Path) -> None:
        self.root = root
        self.home = home
        self.log_path = log_path
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        settings = self.home / "app-settings"
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.app_settings_dir={settings}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.extension_manager=readonly",
            "--LanguageServerManager.autodetect=False",
            "--ServerApp.log_level=WARN",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("KMSLAB_BACKEND", None)  # the browser suite runs the lessons on kmslab
        env.update(
            {
                "JUPYTER_CONFIG_DIR": str(self.home / "config"),
                "JUPYTER_DATA_DIR": str(self.home / "data"),
                "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
                "JUPYTERLAB_SETTINGS_DIR": str(self.home / "user-settings"),
                "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
                "JUPYTER_PREFER_ENV_PATH": "1",
                "IPYTHONDIR": str(self.home / "ipython"),
                "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                "PYTHONUNBUFFERED": "1",
                "KMSLAB_QUICK": "1",
            }
        )
        return env

    def start(self) -> None:
        for name in ("config", "data", "runtime", "user-settings", "workspaces", "ipython"):
            (self.home / name).mkdir(parents=True, exist_ok=True)
        settings = self.home / "app-settings"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=2), "utf-8")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kernels go with it
            )
        finally:
            log.close()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with suppress(OSError, urllib.error.URLError):
                if self.api("GET", "api/status") is not None:
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"jupyter lab did not answer in {SERVER_START_TIMEOUT:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def url(self, path: str, **query: str) -> str:
        params = {"token": self.token, **query}
        return f"{self.base}/{path.lstrip('/')}?{urllib.parse.urlencode(params)}"

    def api(self, method: str, path: str, timeout: float = 10.0) -> Any:
        request = urllib.request.Request(
            f"{self.base}/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def shutdown_session(self, session_id: str) -> None:
        with suppress(OSError, urllib.error.URLError):
            self.api("DELETE", f"api/sessions/{session_id}", timeout=30.0)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # SIGTERM: the server shuts its kernels down and exits.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # Anything left in the group (a kernel that ignored the shutdown) goes too.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def copy_notebooks(source: Path, root: Path) -> Path:
    """A copy of ``source`` (notebooks/) under ``root``; the repository's files stay as they are."""
    target = root / source.name
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.db*", "*.root-key"),
    )
    return target


# == one notebook in the page ======================================================================

# Installed in the page before JupyterLab starts (page.add_init_script): once the notebook
# ``path`` is open with an idle kernel, count the kernel's status messages (so that a test can
# wait for "busy, then idle again" after a click instead of sleeping) and, if ``run`` is set,
# start Run > Run All Cells. It all happens in the page, so a notebook loads and runs in the
# background while Python checks the previous one.
_BOOT = """(() => {
  const path = %(path)s;
  const run = %(run)s;
  const boot = () => {
    const app = window.jupyterapp;
    const w = app && app.shell.currentWidget;
    const session = w && w.context && w.context.path === path && w.sessionContext
      && w.sessionContext.session;
    const kernel = session && session.kernel;
    if (!kernel || kernel.status !== 'idle' || !w.context.isReady) {
      setTimeout(boot, 250);
      return;
    }
    const state = { busy: 0, idle: 0, panel: w, sessionId: session.id,
                    openedAt: performance.now(), run: undefined, ranAt: null };
    window.__kmslab = state;
    w.sessionContext.iopubMessage.connect((_, msg) => {
      if (msg.header.msg_type === 'status') {
        if (msg.content.execution_state === 'busy') state.busy += 1;
        if (msg.content.execution_state === 'idle') state.idle += 1;
      }
    });
    if (run) window.__kmslabRunAll();
  };
  window.__kmslabRunAll = () => {
    const state = window.__kmslab;
    state.run = undefined;
    const started = performance.now();
    window.jupyterapp.commands.execute('notebook:run-all-cells').then(
      (ok) => { state.run = ok === false ? 'stopped' : 'done'; },
      (err) => { state.run = 'error: ' + err; }
    ).finally(() => { state.ranAt = performance.now(); state.runStarted = started; });
  };
  setTimeout(boot, 250);
})();"""

_KERNEL_STATUS = """() => {
  const k = window.__kmslab.panel.sessionContext.session?.kernel;
  return k ? k.status : 'none';
}"""

# Everything the checks need, cell by cell, from the notebook model and the page.
_REPORT = "\n".join(
    line
    for line in (Path(__file__).parent / "page_report.js").read_text("utf-8").splitlines()
    if not line.startswith("//")
)


@dataclass
class CellReport:
    index: int
    type: str
    count: int | None
    outputs: list[dict[str, Any]]
    widget_views: int
    rendered: int
    failed: list[str]
    stderr_texts: list[str]
    output_widget_texts: list[str]
    status_texts: list[str]
    source: str


@dataclass
class PageReport:
    cells: list[CellReport]
    log: list[dict[str, str]]
    log_console: bool
    kernel: str
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @classmethod
    def from_page(cls, raw: dict[str, Any]) -> PageReport:
        cells = [
            CellReport(
                index=c["index"],
                type=c["type"],
                count=c["count"],
                outputs=c["outputs"],
                widget_views=c["widgetViews"],
                rendered=c["rendered"],
                failed=c["failed"],
                stderr_texts=c["stderrTexts"],
                output_widget_texts=c["outputWidgetTexts"],
                status_texts=c["statusTexts"],
                source=c["source"],
            )
            for c in raw["cells"]
        ]
        return cls(cells, raw["log"], raw["logConsole"], raw["kernel"])

    def widget_cells(self) -> list[CellReport]:
        return [c for c in self.cells if c.widget_views]


def problems_in(report: PageReport, *, ran_all: bool = True) -> list[str]:
    """Everything wrong that a learner would see, one line each; [] when all is well.

    ``ran_all``: every code cell must have run (a cell that stops "Run All" leaves the rest
    without an execution count)."""
    found: list[str] = []
    for cell in report.cells:
        if cell.type != "code":
            continue
        where = f"cell {cell.index} ({cell.source.splitlines()[0] if cell.source else ''!r})"
        if ran_all and cell.count is None:
            found.append(f"{where}: did not run")
        for out in cell.outputs:
            if out["type"] == "error":
                found.append(f"{where}: error output {out['ename']}: {out['evalue']}")
            elif out["type"] == "stream" and out["name"] == "stderr" and "Traceback" in out["text"]:
                found.append(f"{where}: traceback on stderr: {_last_line(out['text'])}")
        for text in cell.stderr_texts:
            if "Traceback" in text and not any(o["type"] == "error" for o in cell.outputs):
                found.append(f"{where}: traceback shown in the page: {_last_line(text)}")
        for text in cell.output_widget_texts:
            if "Traceback" in text or PYTHON_EXCEPTION.search(text):
                found.append(f"{where}: an Output widget shows an error: {_last_line(text)}")
        for text in cell.failed:
            found.append(f"{where}: a widget failed to render: {text}")
        if cell.rendered < cell.widget_views and not cell.failed:
            found.append(
                f"{where}: {cell.widget_views} widget(s) displayed, "
                f"{cell.rendered} rendered in the page"
            )
        for text in cell.status_texts:
            if PYTHON_EXCEPTION.search(text):
                found.append(f"{where}: a widget's result shows an exception: {text.strip()}")
    for entry in report.log:
        if entry["level"] in ("error", "critical"):
            text = ANSI.sub("", entry["text"])
            found.append(f"log console ({entry['level']}): {_last_line(text)}")
    if not report.log_console:
        found.append("JupyterLab's log console could not be read (plugin not found)")
    if report.kernel not in ("idle", "busy"):
        found.append(f"the kernel is {report.kernel}")
    found += [f"uncaught error in the page: {e}" for e in report.page_errors]
    found += [f"browser console error: {e}" for e in report.console_errors]
    return found


def _last_line(text: str) -> str:
    lines = [line for line in ANSI.sub("", text).strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


# Browser console errors that are not the lesson's fault.
_BENIGN_CONSOLE = (re.compile(r"Failed to load resource: .*favicon"),)
# The widget manager's own report of a view it could not make: the console line is the only
# place with the reason, so it is kept even though the page shows an error widget too.
_WIDGET_CONSOLE = re.compile(r"(Could not create a view|Class \S+ not found|Error: .*widget)", re.I)


class NotebookPage:
    """One notebook open in its own browser context (fresh storage, its own window)."""

    def __init__(self, browser: Browser, server: LabServer, path: str) -> None:
        # A context (a window) of its own: a tab behind another gets no animation frames, and
        # JupyterLab draws on animation frames, so a background tab would hardly load or run.
        self.context: BrowserContext = browser.new_context(viewport=VIEWPORT)
        self.server = server
        self.path = path  # relative to the server's root, e.g. "notebooks/04_the_4kb_limit.ipynb"
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(SETTLE_TIMEOUT)
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.session_id: str | None = None
        self.run_seconds = 0.0
        self.open_seconds = 0.0
        self.run_result = ""
        self._load_started: float | None = None
        self.autorun = False
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)[:500]))
        self.page.on("console", self._on_console)

    @property
    def name(self) -> str:
        return Path(self.path).stem

    @property
    def workspace(self) -> str:
        """A workspace of its own: two windows on one workspace would fight over its layout."""
        return "kmslab-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = str(message.text)
        if any(p.search(text) for p in _BENIGN_CONSOLE) and not _WIDGET_CONSOLE.search(text):
            return
        self.console_errors.append(text.splitlines()[0][:500] if text else "(empty)")

    # -- opening and running --------------------------------------------------------------------

    def load(self, run: bool = False) -> None:
        """Start loading JupyterLab on this notebook (a workspace of its own) and, with
        ``run``, running all its cells; returns at once: the page and the kernel go on while
        Python does something else."""
        self._load_started = time.monotonic()
        self.autorun = run
        boot = _BOOT % {"path": json.dumps(self.path), "run": json.dumps(run)}
        self.page.add_init_script(script=boot)
        self.page.goto(
            self.server.url(f"lab/workspaces/{self.workspace}/tree/{self.path}", reset=""),
            timeout=OPEN_TIMEOUT,
            wait_until="commit",
        )

    def open(self) -> None:
        """Load (unless :meth:`load` began it) and wait for the notebook and an idle kernel."""
        if self._load_started is None:
            self.load()
        self.page.wait_for_function(
            "() => window.__kmslab && window.__kmslab.sessionId",
            timeout=OPEN_TIMEOUT,
            polling=250,
        )
        self.session_id = self.page.evaluate("() => window.__kmslab.sessionId")
        self.open_seconds = self.page.evaluate("() => window.__kmslab.openedAt") / 1000

    def run_all(self, render_timeout: float = RENDER_TIMEOUT) -> None:
        """Run > Run All Cells (unless the page began it on opening); wait for the last cell,
        the kernel and the widget views."""
        if not self.autorun:
            self.page.evaluate("() => window.__kmslabRunAll()")
        self.autorun = False  # a second call runs everything again
        self.page.wait_for_function(
            "() => window.__kmslab.run !== undefined", timeout=RUN_TIMEOUT, polling=500
        )
        self.run_result = str(self.page.evaluate("() => window.__kmslab.run"))
        self.wait_idle()
        self.wait_rendered(render_timeout)
        self.run_seconds = (
            self.page.evaluate("() => window.__kmslab.ranAt - window.__kmslab.runStarted") / 1000
        )

    def wait_idle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        self.page.wait_for_function(
            f"() => ({_KERNEL_STATUS})() !== 'busy'", timeout=timeout, polling=200
        )

    def wait_rendered(self, timeout: float = RENDER_TIMEOUT) -> None:
        """Wait until every displayed widget has a view in the page (or an error in its place);
        returns quietly at the deadline, and :meth:`problems` says which did not render."""
        with suppress(Exception):
            self.page.wait_for_function(
                """() => window.__kmslab.panel.content.widgets.every((cell) => {
                     if (cell.model.type !== 'code') return true;
                     const want = cell.model.outputs.toJSON().filter(
                       (o) => o.data && o.data['application/vnd.jupyter.widget-view+json']).length;
                     const have = cell.node.querySelectorAll(
                       '.jp-OutputArea-output > .jupyter-widgets').length;
                     return have >= want;
                   })""",
                timeout=timeout,
                polling=250,
            )

    def busy_count(self) -> int:
        count: int = self.page.evaluate("() => window.__kmslab.busy")
        return count

    def settle(self, action: Callable[[], Any], timeout: float = SETTLE_TIMEOUT) -> None:
        """Do ``action`` (a click, a key press) and wait until the kernel has handled what it
        sent: it went busy at least once more and is idle again. Returns at once when the
        action sent nothing to the kernel within two seconds (a purely front-end change)."""
        before = self.busy_count()
        action()
        try:
            self.page.wait_for_function(
                "(n) => window.__kmslab.busy > n", arg=before, timeout=2_000, polling=50
            )
        except Exception:
            return
        self.wait_idle(timeout)

    # -- reading --------------------------------------------------------------------------------

    def report(self) -> PageReport:
        report = PageReport.from_page(self.page.evaluate(_REPORT))
        report.page_errors = list(self.page_errors)
        report.console_errors = list(self.console_errors)
        return report

    def problems(self, *, ran_all: bool = True) -> list[str]:
        found = problems_in(self.report(), ran_all=ran_all)
        if ran_all and self.run_result not in ("done", ""):
            found.insert(0, f"Run All Cells ended with: {self.run_result}")
        return found

    def cell(self, index: int) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def cell_index(self, pattern: str) -> int | None:
        """The first cell whose source matches the regular expression ``pattern``."""
        index: int = self.page.evaluate(
            """(pattern) => window.__kmslab.panel.content.widgets.findIndex(
                 (c) => new RegExp(pattern).test(c.model.sharedModel.getSource()))""",
            pattern,
        )
        return None if index < 0 else index

    def widget_cell(self, pattern: str) -> Locator:
        """The output of the first cell matching ``pattern``; fails when there is none or when
        it shows no widget (a view that never rendered)."""
        index = self.cell_index(pattern)
        assert index is not None, f"{self.path}: no cell matches {pattern!r}"
        cell = self.cell(index)
        widgets = cell.locator(".jp-OutputArea-output > .jupyter-widgets")
        assert widgets.count() > 0, f"{self.path}: cell {index} ({pattern!r}) shows no widget"
        return cell.locator(".jp-Cell-outputArea")

    def widget_indices(self) -> list[int]:
        return [c.index for c in self.report().widget_cells()]

    # -- pictures -------------------------------------------------------------------------------

    def screenshot(self, folder: Path, label: str, target: Locator | None = None) -> Path:
        """The window as a learner sees it, with ``target`` scrolled into view."""
        folder.mkdir(parents=True, exist_ok=True)
        if target is not None:
            target.scroll_into_view_if_needed()
            target.evaluate(
                "(el) => (el.closest('.jp-Cell') || el).scrollIntoView({block: 'start'})"
            )
            self.page.wait_for_timeout(300)
        path = folder / f"{self.name}{'-' + label if label else ''}.png"
        self.page.screenshot(path=str(path))
        return path

    def full_screenshot(self, folder: Path, max_height: int = 16_000) -> Path:
        """The whole notebook in one tall picture (the window grown to the notebook's height)."""
        folder.mkdir(parents=True, exist_ok=True)
        height: int = self.page.evaluate(
            """() => { const s = document.querySelector('.jp-WindowedPanel-outer')
                          || document.querySelector('.jp-NotebookPanel-notebook');
                       return s ? s.scrollHeight : 0; }"""
        )
        tall = min(max(height + 200, VIEWPORT["height"]), max_height)
        path = folder / f"{self.name}-full.png"
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": tall})
        try:
            self.page.wait_for_timeout(500)
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(VIEWPORT)
        return path

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        """Shut the kernel down and close the window."""
        if self.session_id is None:
            with suppress(Exception):
                self.session_id = self.page.evaluate("() => window.__kmslab.sessionId")
        if self.session_id:
            self.server.shutdown_session(self.session_id)
        with suppress(Exception):
            self.context.close()


# == the notebooks of one session ================================================================


class Lab:
    """The notebooks open in the browser, each run once and kept for the tests that follow.

    :meth:`preload` starts loading and running the next notebook while the current one is
    checked, so that JupyterLab's start-up and the kernel's work overlap other work."""

    def __init__(self, browser: Browser, server: LabServer, artifacts: Path) -> None:
        self.browser = browser
        self.server = server
        self.artifacts = artifacts
        self.pages: dict[str, NotebookPage] = {}
        self.loading: dict[str, NotebookPage] = {}
        self.timings: list[tuple[str, float, float]] = []

    @staticmethod
    def find(prefix: str) -> Path | None:
        """notebooks/<prefix>*.ipynb, if it has been written."""
        found = sorted(NOTEBOOKS.glob(f"{prefix}*.ipynb"))
        return found[0] if found else None

    @staticmethod
    def relative(notebook: Path) -> str:
        return f"{NOTEBOOKS.name}/{notebook.name}"

    def preload(self, notebook: Path) -> None:
        if notebook.name in self.pages or notebook.name in self.loading:
            return
        page = NotebookPage(self.browser, self.server, self.relative(notebook))
        try:
            page.load(run=True)
        except Exception:
            page.close()
            return  # ran() will try again and report
        self.loading[notebook.name] = page

    def open(self, relative: str, page: NotebookPage | None = None) -> NotebookPage:
        """A notebook (path relative to the server's root) in a fresh browser context."""
        page = page or NotebookPage(self.browser, self.server, relative)
        try:
            page.open()
        except Exception:
            with suppress(Exception):
                page.screenshot(self.artifacts, "FAILED-to-open")
            page.close()
            raise
        return page

    def ran(self, notebook: Path) -> NotebookPage:
        """``notebook`` opened and run top to bottom (once per session)."""
        if notebook.name not in self.pages:
            loading = self.loading.pop(notebook.name, None)
            if loading is None:
                loading = NotebookPage(self.browser, self.server, self.relative(notebook))
                loading.load(run=True)
            page = self.open(self.relative(notebook), loading)
            self.pages[notebook.name] = page
            page.run_all()
            self.timings.append((notebook.stem, page.open_seconds, page.run_seconds))
        return self.pages[notebook.name]

    def close(self, notebook: Path) -> None:
        page = self.pages.pop(notebook.name, None)
        if page is not None:
            page.close()

    def close_all(self) -> None:
        for page in [*self.pages.values(), *self.loading.values()]:
            page.close()
        self.pages.clear()
        self.loading.clear()

    def write_timings(self) -> None:
        lines = [f"{'notebook':<34} {'open s':>7} {'run s':>7}"]
        lines += [f"{name:<34} {o:>7.1f} {r:>7.1f}" for name, o, r in self.timings]
        (self.artifacts / "timings.txt").write_text("\n".join(lines) + "\n", "utf-8")
