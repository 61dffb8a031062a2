"""The widgets in a real browser: JupyterLab and the Voila demo on loopback, driven by headless
Chromium through Playwright.

In JupyterLab: opens notebook 03, runs all cells, checks that the attack panel rendered as
widgets, moves the poison-rate slider, clicks Train and waits for the new attack success
rate. In the demo app (`make demo`): the same on the page Voila serves, without code.
Screenshots are kept in runs/test-artifacts/. Without a Chromium on the machine the tests
are skipped, unless BACKDOOR_LAB_REQUIRE_BROWSER=1 (as in CI), where they fail.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.reuses_models

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "runs" / "test-artifacts"
NOTEBOOK = "03_triggered_evaluation.ipynb"
DEMO = REPO / "demo" / "backdoor_demo.ipynb"
CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def write_settings(folder: Path, settings: dict) -> None:
    """JupyterLab user settings, one file per plugin of @jupyterlab."""
    for plugin, values in settings.items():
        package, name = plugin.split("/")
        path = folder / "@jupyterlab" / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def stop(server: subprocess.Popen) -> None:
    """End the server and every kernel it started (they share its process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            pass
        try:
            server.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


def need_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("BACKDOOR_LAB_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium found: install Debian's chromium package (.ci/run does)")
        pytest.skip(
            "no Chromium on this machine (install Debian's chromium package to run this test)"
        )


@contextmanager
def server(command: list[str], port: int, ready_path: str, folder: Path, env: dict):
    """Run a web server on loopback until it answers at ready_path; stop it, and free its port,
    whatever happens."""
    log_path = folder / "server.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=2)
                break
            except urllib.error.HTTPError:  # an error page is an answer too: the server is up
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{' '.join(command[:4])} did not start; its log:\n{log_path.read_text()}"
                    )
                time.sleep(0.5)
        yield
    finally:
        stop(process)
        log.close()
        deadline = time.monotonic() + 10
        while not port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert port_is_free(port), f"port {port} still in use after the server stopped"


def jupyter_environment(folder: Path) -> dict:
    """Settings, runtime files and workspaces kept in `folder`, away from the user's own."""
    settings = folder / "settings"
    # render every cell
    write_settings(
        settings,
        {
            "notebook-extension/tracker": {"windowingMode": "none"},
            "apputils-extension/notification": {"fetchNews": "false"},
        },
    )
    return dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(folder / "config"),
        JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
    )


@pytest.fixture
def jupyter_lab(tmp_path):
    """A JupyterLab server on loopback serving a copy of notebook 03."""
    need_chromium()
    root = tmp_path / "lab"
    root.mkdir()
    # the copy, not the repository's file, gets autosaved
    shutil.copy(REPO / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
    ]
    command += ["--allow-root"] if os.geteuid() == 0 else []
    with server(
        command, port, f"/api/status?token={token}", tmp_path, jupyter_environment(tmp_path)
    ):
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"


@pytest.fixture
def voila_demo(tmp_path):
    """The demo app as `make demo` serves it, on loopback."""
    need_chromium()
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "voila",
        str(DEMO),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
    ]
    with server(command, port, "/favicon.ico", tmp_path, jupyter_environment(tmp_path)):
        yield f"http://127.0.0.1:{port}/"


@contextmanager
def chromium_page(screenshot: str):
    """A page of headless Chromium; a screenshot of it is kept in runs/test-artifacts/, whatever
    happens."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
            browser.close()


def train_at_two_percent(page, panel) -> None:
    """Move the attack panel's poison-rate slider from 1% to 2% with the keyboard, click Train, wait
    for the result."""
    from playwright.sync_api import expect

    rate = panel.locator(".widget-slider", has_text="poison rate")
    expect(rate.locator(".widget-readout")).to_have_text("1.00%")
    rate.locator(".noUi-handle, .slider-handle, [role='slider']").first.focus()
    page.keyboard.press("ArrowRight")
    expect(rate.locator(".widget-readout")).to_have_text("2.00%")
    panel.get_by_role("button", name="Train").click()
    expect(panel).to_contain_text("poison rate 2.00%", timeout=300_000)
    expect(panel).to_contain_text("attack success rate")


def test_the_attack_panel_works_in_jupyterlab_in_a_real_browser(jupyter_lab):
    from playwright.sync_api import expect

    with chromium_page("browser_notebook_03.png") as page:
        page.goto(jupyter_lab)
        expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(
            timeout=120_000
        )
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()

        train = page.get_by_role("button", name="Train")
        # from a fresh clone the notebook trains nine models first
        expect(train).to_be_visible(timeout=900_000)
        panel = page.locator(".jp-OutputArea-output", has=train)
        expect(panel.locator(".widget-slider")).to_have_count(4)
        expect(panel).not_to_contain_text("Loading widget")
        expect(panel).not_to_contain_text("VBox(children")
        expect(page.locator(".jp-StatusBar-Widget", has_text="Idle").first).to_be_visible(
            timeout=900_000
        )
        train_at_two_percent(page, panel)
        panel.scroll_into_view_if_needed()


def test_the_demo_app_trains_a_new_backdoor_in_a_real_browser(voila_demo):
    from playwright.sync_api import expect

    with chromium_page("demo_app.png") as page:
        page.goto(voila_demo)
        # both panels
        expect(page.get_by_role("button", name="Train")).to_have_count(2, timeout=300_000)
        # a page without code
        expect(page.locator("body")).not_to_contain_text("import ")
        mnist_panel = page.locator(
            ".widget-vbox", has=page.locator(".widget-slider", has_text="trigger row")
        ).first
        train_at_two_percent(page, mnist_panel)
