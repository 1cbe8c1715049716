"""The batch gallery page: built from a real batch run against the emulator, checked as text (escaping,
links, media by suffix, read-only journal) and in a real browser (Debian's chromium, as the docs site)."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Run, png_bytes, write_manifest

from kie_gpt_image._cli._gallery import write_gallery
from kie_gpt_image._cli._journal import Journal
from kie_gpt_image._cli._states import ItemState
from kie_gpt_image.emulator import Emulator, Outcome, Schedule

INJECTED = '<script>window.kieInjected = 1</script><img src=x onerror="window.kieInjected = 2">'


def _blocking(body: Any) -> Outcome:
    if "forbidden" in body["input"]["prompt"]:
        return Outcome.fail("500", "blocked by the content policy <b>really</b>")
    return Outcome.success()


@pytest.fixture
def emulator() -> Emulator:
    from cli_support import SECRET_KEY

    return Emulator(api_key=SECRET_KEY, schedule=Schedule.instant(), credits=1000, outcome=_blocking)


def _batch(run: Run, folder: Path) -> Path:
    """Run a four-line batch (two images in, one failure, one text-to-image) and return the journal."""
    (folder / "person.png").write_bytes(png_bytes("blue", (16, 24)))
    (folder / "dress.png").write_bytes(png_bytes("red", (16, 24)))
    manifest = write_manifest(
        folder,
        [
            {"id": "look-1", "images": ["person.png", "dress.png"], "prompt": "Dress them", "out": "out/"},
            {
                "id": "look-2",
                "images": ["person.png"],
                "prompt": "Green shirt",
                "quality": "high",
                "out": "out/",
            },
            {"id": "bad", "images": ["person.png"], "prompt": f"{INJECTED} forbidden", "out": "out/"},
            {"model": "gpt-image/1.5-text-to-image", "prompt": 'A red fox & a "hen"', "out": "out/"},
        ],
    )
    result = run("batch", str(manifest))
    assert result.code == 4, result.err  # the worst item: a failed task
    return folder / "jobs.jsonl.journal.sqlite"


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="item [^"]*".*?</tr>', page)


def test_report_rebuilds_the_page_beside_the_manifest(run: Run, tmp_path: Path) -> None:
    journal = _batch(run, tmp_path)
    result = run("report", str(journal), "--json", key=None)  # no key needed: nothing is sent
    assert result.code == 0, result.err
    data = result.json()
    page = tmp_path / "jobs.gallery.html"
    assert data == {"page": str(page), "items": 4, "states": {"done": 3, "failed": 1}}
    text = page.read_text(encoding="utf-8")
    rows = _rows(text)
    assert len(rows) == 4
    look1, look2, bad, fox = rows
    # Inputs and outputs are linked relative to the page, so the folder can be moved or zipped whole.
    assert look1.count('<img src="person.png"') == 1
    assert '<img src="dress.png"' in look1
    assert re.search(r'<img src="out/task_[^"]+-0\.png"', look1)
    assert "quality" in look2
    assert "high" in look2
    assert "4 credits" in look2
    assert "gpt-image/1.5-text-to-image" in fox
    assert "none" in fox
    assert "A red fox &amp; a &quot;hen&quot;" in fox
    # The failure: its state, exit code and kie.ai's message, all as text.
    assert "failed" in bad
    assert "exit code 4" in bad
    assert "blocked by the content policy &lt;b&gt;really&lt;/b&gt;" in bad
    assert html.escape(INJECTED) in bad
    assert "<script" not in text.lower()
    assert "onerror=" not in text.replace("onerror=&quot;", "")
    assert "http://" not in text
    assert "https://" not in text
    # Human mode prints the path; the page is replaced, not appended to, on the next report.
    assert run("report", str(journal), key=None).out.strip() == str(page)
    assert len(_rows(page.read_text(encoding="utf-8"))) == 4


def test_write_gallery_reads_the_journal_without_changing_or_locking_it(run: Run, tmp_path: Path) -> None:
    journal = _batch(run, tmp_path)
    before = journal.read_bytes()
    with Journal(journal):  # a batch holding the journal's lock does not stop the page
        page = write_gallery(journal, tmp_path / "site" / "index.html")
    assert journal.read_bytes() == before
    assert page == tmp_path / "site" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert '<img src="../person.png"' in text
    assert oct(page.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_rows_follow_the_manifest_as_it_is_now(run: Run, tmp_path: Path) -> None:
    journal = _batch(run, tmp_path)
    manifest = tmp_path / "jobs.jsonl"
    lines = manifest.read_text().splitlines()
    changed = json.loads(lines[1]) | {"prompt": "Red shirt"}
    # Line 2 changed, line 3 emptied, a new line 5 whose input file is missing, and a line not yet run.
    new = [lines[0], json.dumps(changed), "", lines[3]]
    new += [json.dumps({"id": "gone", "images": ["missing.png"], "prompt": "p"})]
    new += [json.dumps({"id": "later", "images": ["person.png"], "prompt": "later"})]
    manifest.write_text("\n".join(new) + "\n")
    text = write_gallery(journal).read_text(encoding="utf-8")
    rows = {re.search(r'id="item-([^"]+)"', row).group(1): row for row in _rows(text)}  # type: ignore[union-attr]
    assert list(rows) == ["look-1", "look-2", "4", "gone", "later", "bad"]
    assert "this line changed after the run" in rows["look-2"]
    assert "Red shirt" in rows["look-2"]
    assert "not valid now" in rows["gone"]
    assert "missing.png" in rows["gone"]
    assert '<tr class="item not-run"' in rows["later"]
    assert "task_" not in rows["later"]
    assert "not in the manifest any more (it was line 3)" in rows["bad"]


def test_video_and_audio_outputs_are_playable_and_odd_links_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    manifest = write_manifest(
        tmp_path,
        [
            {"id": "a", "images": ["in.png"], "prompt": "p"},
            {"id": "b", "images": ["javascript:alert(1)"], "prompt": "q"},  # invalid: shown, never linked
        ],
    )
    journal_path = tmp_path / "media.sqlite"  # not MANIFEST.journal.sqlite: the manifest must be named
    with Journal(journal_path) as journal:
        journal.add([("a", 1, "f")])
        for state in (ItemState.SUBMITTING, ItemState.SUBMITTED):
            journal.update("a", state, task_id="task_1")
        paths = [str(tmp_path / f"out/clip{suffix}") for suffix in (".mp4", ".mp3", ".wav", ".webp", ".bin")]
        journal.update("a", ItemState.DONE, result_paths=paths, result_urls=["https://x.test/r.mp4"])
    page = write_gallery(journal_path, manifest_path=manifest)
    text = page.read_text(encoding="utf-8")
    assert '<video class="output" controls preload="metadata" src="out/clip.mp4"' in text
    assert '<audio controls preload="metadata" src="out/clip.mp3"' in text
    assert '<audio controls preload="metadata" src="out/clip.wav"' in text
    assert '<img src="out/clip.webp"' in text
    assert '<a class="file" href="out/clip.bin">clip.bin</a>' in text
    assert '="javascript:' not in text  # a relative path ("javascript%3A..."), never a script URL


def test_report_errors_are_usage_errors(run: Run, tmp_path: Path) -> None:
    missing = run("report", str(tmp_path / "nope.jsonl.journal.sqlite"), key=None)
    assert missing.code == 2
    assert "does not exist" in missing.err
    (tmp_path / "j.sqlite").write_bytes(b"")
    unnamed = run("report", str(tmp_path / "j.sqlite"), key=None)
    assert unnamed.code == 2
    assert "--manifest" in unnamed.err
    (tmp_path / "x.jsonl.journal.sqlite").write_bytes(b"not a database at all, just some bytes" * 40)
    (tmp_path / "x.jsonl").write_text('{"images": [], "prompt": "p"}\n')
    broken = run("report", str(tmp_path / "x.jsonl.journal.sqlite"), key=None)
    assert broken.code == 2
    assert "not a batch journal" in broken.err


# ------------------------------------------------------------------------------------ in a browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless chromium (flags as tests/docs/test_site.py), or a skip that says why there is none."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.skip(f"no browser: {', '.join(missing)} missing (scripts/system-deps installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    flags = (
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
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    )
    for flag in flags:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_page_in_a_browser_shows_every_row_and_image_and_runs_no_prompt(
    run: Run, tmp_path: Path, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    page = write_gallery(_batch(run, tmp_path))
    browser.get(page.as_uri())
    assert browser.title == "Batch jobs.jsonl"
    rows = browser.find_elements(By.CSS_SELECTOR, "tbody tr.item")
    assert len(rows) == 4
    # Every image loaded from its relative path: 4 inputs and 3 outputs, none broken.
    images = browser.find_elements(By.CSS_SELECTOR, "tbody img")
    assert len(images) == 7
    for image in images:
        browser.execute_script("arguments[0].scrollIntoView()", image)  # lazy images load once in view
    loaded = browser.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded == [True] * 7
    prompt = rows[2].find_element(By.CSS_SELECTOR, ".prompt").text
    assert prompt == f"{INJECTED} forbidden"  # shown as typed, as text
    assert browser.execute_script("return window.kieInjected === undefined") is True
    assert rows[2].find_element(By.CSS_SELECTOR, ".state").text.lower() == "failed"
    assert (
        "blocked by the content policy <b>really</b>" in rows[2].find_element(By.CSS_SELECTOR, ".error").text
    )
