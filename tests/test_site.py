"""The course website in a real browser: `make site` builds it, a local server serves it, and
headless Chromium (Playwright) checks every notebook page with its figures, every page of docs/site
(running, teaching, sweeps, results, ...), every internal link, the launch buttons and the search.
Run by `make classroom`."""

import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from test_browser import ARTIFACTS, CHROMIUM, free_port, need_chromium, server
from test_course_pages import course_pages

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "runs" / "site" / "_build" / "html"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = "backdoor-lab/backdoor-lab"

pytestmark = [pytest.mark.classroom, pytest.mark.xdist_group("site")]  # one build, one folder


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site as `make site` builds it, served on loopback."""
    need_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(["make", "-s", "site"], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "http.server",
        str(port),
        "--bind",
        "127.0.0.1",
        "--directory",
        str(HTML),
    ]
    with server(command, port, "/index.html", tmp_path_factory.mktemp("site"), env=None):
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def internal_links(page, base: str) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    return {href.split("#")[0] for href in hrefs if href.startswith(base)}


def test_every_notebook_page_loads_with_its_stored_figures_and_no_internal_link_is_broken(
    site, browser
):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    links = set()
    for name in NOTEBOOKS:
        page.goto(site + f"{name}.html")
        expect(page.locator("article h1").first).to_be_visible()
        figures = page.locator("main .cell_output img")
        if name != "00_index":
            assert figures.count() >= 2, f"{name}: {figures.count()} figures"
            loaded = page.eval_on_selector_all(
                "main .cell_output img",
                "images => images.every(i => i.complete && i.naturalWidth > 0)",
            )
            assert loaded, f"{name}: a figure did not load"
        links |= internal_links(page, site)
    page.goto(site + "03_triggered_evaluation.html")
    page.screenshot(path=str(ARTIFACTS / "site_03.png"))
    for extra in (*course_pages.SITE_PAGES, "search"):
        page.goto(site + f"{extra}.html")
        links |= internal_links(page, site)
    page.close()
    assert len(links) > len(NOTEBOOKS)
    for link in sorted(links):
        with urllib.request.urlopen(link) as response:  # raises for a 404
            assert response.status == 200, link


def test_the_launch_buttons_open_each_notebook_on_binder_and_colab(site, browser):
    page = browser.new_page()
    page.goto(site + "02_poisoning.html")
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    page.close()
    binder = [h for h in hrefs if h.startswith(f"https://mybinder.org/v2/gh/{REPOSITORY}/")]
    colab = [
        h for h in hrefs if h.startswith(f"https://colab.research.google.com/github/{REPOSITORY}/")
    ]
    assert binder and "notebooks/02_poisoning.ipynb" in urllib.parse.unquote(binder[0])
    assert colab and colab[0].endswith("/notebooks/02_poisoning.ipynb")


def test_the_glossary_and_references_are_there(site, browser):
    page = browser.new_page()
    page.goto(site + "glossary.html")
    terms = page.locator("dl.glossary dt")
    assert terms.count() >= 20
    assert any(term.startswith("Attack success rate") for term in terms.all_inner_texts())
    page.goto(site + "references.html")
    entries = page.locator("main li")
    assert entries.count() >= 20
    assert any(
        "BadNets" in text and "notebooks 00, 01, 02" in text for text in entries.all_inner_texts()
    )
    page.close()


def test_the_search_finds_the_notebooks_that_mention_a_word(site, browser):
    page = browser.new_page()
    page.goto(site + "search.html?q=sticker")
    results = page.locator("#search-results li")
    results.first.wait_for(timeout=30_000)
    found = " ".join(results.all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "site_search.png"))
    page.close()
    assert "Street signs" in found
