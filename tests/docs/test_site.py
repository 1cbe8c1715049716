"""The documentation site: it builds with ``mkdocs build --strict``, lists every public name, and works
in a real browser (Debian's chromium driven through Debian's chromedriver by selenium)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# One site build and one browser per test process: under xdist every test of this file goes to one worker.
pytestmark = pytest.mark.xdist_group("site")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The flags this machine's chromium needs: no sandbox as root, no GPU, nothing fetched in the
# background (the machine reaches no Google services), a profile of its own.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)
PAGES = {
    "": "kie-gpt-image",
    "getting-started/": "Getting started",
    "guarantees/": "Guarantees",
    "errors/": "Errors",
    "callbacks/": "Callbacks",
    "emulator/": "The emulator",
    "testing/": "Testing with pytest",
    "cli/": "Command line and batch",
    "gallery/": "The batch gallery",
    "recipes/fastapi/": "A FastAPI back end that edits in the background",
    "recipes/notebook/": "A notebook with the async client",
    "recipes/resume/": "Resuming after a crash",
    "reference/": "kie_gpt_image",
    "reference/webhooks/": "kie_gpt_image.webhooks",
    "reference/emulator/": "kie_gpt_image.emulator",
    "reference/pytest-plugin/": "kie_gpt_image.pytest_plugin",
    "reference/testing/": "kie_gpt_image.testing",
}


def _build(project: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the pinned mkdocs from this venv, offline
        [str(Path(sys.executable).with_name("mkdocs")), "build", "--strict", "--site-dir", str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )


def _project(tmp: Path, defects: tuple[str, ...] = ()) -> Path:
    """A copy of the site's sources (docs/ copied, the rest linked), with ``defects`` appended to pages."""
    shutil.copytree(ROOT / "docs", tmp / "docs")
    for name in ("mkdocs.yml", "README.md", "facade", "generated"):
        (tmp / name).symlink_to(ROOT / name)
    for defect, name in zip(defects, ("guarantees.md", "errors.md", "emulator.md"), strict=False):
        page = tmp / "docs" / name
        page.write_text(page.read_text(encoding="utf-8") + f"\n\nSee {defect}.\n", encoding="utf-8")
    return tmp


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as scripts/check builds it (strict: any warning fails), from a copy of its sources
    (the same copy the broken-link build starts from, so that build fails for its defects alone)."""
    project = _project(tmp_path_factory.mktemp("site-project"))
    build = _build(project, project / "site")
    assert build.returncode == 0, build.stdout + build.stderr
    return project / "site"


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    """The built site served on a loopback port (search needs http: it fetches its index)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless chromium, or a skip that says why there is none."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.skip(
            f"no browser: {', '.join(missing)} missing; install Debian's chromium and chromium-driver "
            "(scripts/system-deps does so when run as root)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    # Both paths are given, so selenium never runs selenium-manager (which would try to download).
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))


def test_reference_pages_list_every_public_name(site: Path) -> None:
    import kie_gpt_image
    import kie_gpt_image.emulator
    import kie_gpt_image.pytest_plugin
    import kie_gpt_image.testing
    import kie_gpt_image.webhooks

    main = _ids(site / "reference" / "index.html")
    assert {f"kie_gpt_image.{name}" for name in kie_gpt_image.__all__} <= main
    emulator = _ids(site / "reference" / "emulator" / "index.html")
    assert {f"kie_gpt_image.emulator.{name}" for name in kie_gpt_image.emulator.__all__} <= emulator
    plugin = _ids(site / "reference" / "pytest-plugin" / "index.html")
    assert {f"kie_gpt_image.pytest_plugin.{name}" for name in kie_gpt_image.pytest_plugin.__all__} <= plugin
    testing = _ids(site / "reference" / "testing" / "index.html")
    assert {f"kie_gpt_image.testing.{name}" for name in kie_gpt_image.testing.__all__} <= testing
    # The webhook errors are kie_gpt_image's own exceptions: documented once, on the main page.
    webhooks = _ids(site / "reference" / "webhooks" / "index.html")
    for name in kie_gpt_image.webhooks.__all__:
        assert f"kie_gpt_image.webhooks.{name}" in webhooks or f"kie_gpt_image.{name}" in main, name


def test_site_reuses_the_readme_and_loads_nothing_from_outside(site: Path) -> None:
    guarantees = (site / "guarantees" / "index.html").read_text(encoding="utf-8")
    assert "A paid task is never submitted twice by accident" in guarantees
    assert "--8&lt;--" not in guarantees
    assert "--8<--" not in guarantees
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        # No stylesheet, script or font from another host (the site works offline).
        assert not re.search(r'<(?:link|script)[^>]+(?:href|src)="(?:https?:)?//', text), page


def test_browser_renders_pages_searches_and_shows_client_edit(browser: Any, site_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    seen: dict[str, Any] = {"pages": {}}
    for path, heading in PAGES.items():
        browser.get(site_url + path)
        h1 = browser.find_element(By.CSS_SELECTOR, "article h1").text
        seen["pages"][path or "/"] = {"title": browser.title, "h1": h1}
        assert browser.title.endswith("kie-gpt-image"), browser.title
        assert h1.startswith(heading), (path, h1)
        # Material's stylesheet applied (the header is laid out), and the navigation is there.
        assert browser.find_element(By.CSS_SELECTOR, "header.md-header").size["height"] > 0
        assert browser.find_elements(By.CSS_SELECTOR, "nav.md-nav a.md-nav__link")

    browser.get(site_url + "reference/")
    edit = browser.find_element(By.ID, "kie_gpt_image.Client.edit")
    seen["Client.edit"] = edit.text
    assert "edit" in edit.text
    assert edit.is_displayed()
    signature = edit.find_element(By.XPATH, "following::div[contains(@class, 'doc-signature')][1]").text
    seen["Client.edit signature"] = " ".join(signature.split())
    assert "prompt" in signature
    # The options are each model's (issue 12): the docs show **options, and name them in the text.
    assert "**options" in signature
    assert "aspect_ratio" in browser.find_element(By.XPATH, "//*[@id='kie_gpt_image.Client.edit']/..").text

    browser.get(site_url)
    query = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    query.click()
    query.send_keys("SubmissionOutcomeUnknownError")
    wait = WebDriverWait(browser, 20)
    wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".md-search-result__item")))
    meta = browser.find_element(By.CSS_SELECTOR, ".md-search-result__meta").text
    results = browser.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
    links = [
        a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".md-search-result__link")
    ]
    seen["search"] = {"query": "SubmissionOutcomeUnknownError", "meta": meta, "items": len(results)}
    assert re.match(r"\d+ matching documents?", meta), meta
    assert any("/reference/" in link for link in links), links
    assert any("/guarantees/" in link for link in links), links

    query.clear()
    query.send_keys("zzqqxx")
    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".md-search-result__meta"), "No matching documents"
        )
    )
    seen["search miss"] = browser.find_element(By.CSS_SELECTOR, ".md-search-result__meta").text

    # What the browser saw, for the record (pytest -s shows it).
    print("BROWSER-SAW " + json.dumps(seen, indent=1))


DEFECTS = {
    "[a page](no-such-page.md)": "no-such-page.md",
    "[an anchor](errors.md#no-such-anchor)": "no-such-anchor",
    "[a method][kie_gpt_image.Client.no_such_method]": "kie_gpt_image.Client.no_such_method",
}


@pytest.fixture(scope="module")
def broken_build(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One strict build of the copy with every defect at once (mkdocs reports every warning, then aborts)."""
    project = _project(tmp_path_factory.mktemp("broken-project"), tuple(DEFECTS))
    return _build(project, project / "site")


def test_the_copy_without_defects_builds(site: Path) -> None:
    assert (site / "index.html").exists()  # the control: the copy builds (the fixture asserts it)


@pytest.mark.parametrize(("defect", "message"), DEFECTS.items())
def test_a_broken_link_or_reference_fails_the_build(
    broken_build: subprocess.CompletedProcess[str], defect: str, message: str
) -> None:
    assert broken_build.returncode != 0
    assert message in broken_build.stderr + broken_build.stdout, defect
