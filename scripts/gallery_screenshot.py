"""Remake docs/img/gallery.png: a real four-line batch (one failure) against the in-process emulator, its
gallery page, and a headless-chromium screenshot of it (Debian's chromium and chromedriver, as the site test).

    .venv/bin/python scripts/gallery_screenshot.py [FOLDER]
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from kie_gpt_image._cli import Context, main
from kie_gpt_image._cli._gallery import write_gallery
from kie_gpt_image.emulator import Emulator, Outcome, Schedule

ROOT = Path(__file__).resolve().parent.parent
KEY = "emulator-key-for-the-screenshot"
LINES = [
    {
        "id": "look-1",
        "images": ["person.png", "dress.jpg"],
        "prompt": "Dress the person in the red dress",
        "aspect_ratio": "2:3",
        "out": "out/",
    },
    {
        "id": "look-2",
        "images": ["person.png"],
        "prompt": "Make the shirt green",
        "quality": "high",
        "out": "out/",
    },
    {
        "id": "blocked",
        "images": ["person.png"],
        "prompt": "<script>alert('x')</script> a forbidden edit",
        "out": "out/",
    },
    {"id": "fox", "model": "gpt-image/1.5-text-to-image", "prompt": "A red fox in the snow", "out": "out/"},
]


def outcome(body: dict[str, object]) -> Outcome:
    prompt = body["input"]["prompt"]  # type: ignore[index]
    return (
        Outcome.fail("500", "blocked by the content policy") if "forbidden" in prompt else Outcome.success()
    )


def main_() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("person.png", "dress.jpg"):
        shutil.copy(ROOT / "examples" / "samples" / name, folder / name)
    (folder / "batch.jsonl").write_text("".join(json.dumps(line) + "\n" for line in LINES))
    emulator = Emulator(api_key=KEY, schedule=Schedule.instant(), outcome=outcome)
    context = Context(
        env={"KIE_API_KEY": KEY}, transport=emulator.transport, async_transport=emulator.transport, tty=False
    )
    urls = ["--base-url", emulator.base_url, "--upload-base-url", emulator.upload_base_url]
    print("batch exit code", main(["batch", str(folder / "batch.jsonl"), *urls], context=context))
    page = write_gallery(folder / "batch.jsonl.journal.sqlite")

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1200,900",
        f"--user-data-dir={folder / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
    try:
        driver.get(page.as_uri())
        for image in driver.find_elements("css selector", "img"):
            driver.execute_script("arguments[0].scrollIntoView()", image)
        time.sleep(0.5)  # lazy images decode
        driver.execute_script("window.scrollTo(0, 0)")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1200, height)
        png = driver.get_screenshot_as_png()
    finally:
        driver.quit()
    # A palette PNG at 70% size keeps the committed file small.
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    shot = shot.resize((shot.width * 7 // 10, shot.height * 7 // 10), Image.LANCZOS)
    target = ROOT / "docs" / "img" / "gallery.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shot.quantize(colors=128).save(target, optimize=True)
    print(target, target.stat().st_size, "bytes", shot.size)


if __name__ == "__main__":
    main_()
