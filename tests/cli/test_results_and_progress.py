"""The CLI side of issues 13 and 16: ``-o`` follows the library's one save rule, the hosts come from
``KIE_BASE_URL``/``KIE_UPLOAD_BASE_URL``, and large uploads show their progress in bytes on a terminal."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from cli_support import SECRET_KEY, Run
from PIL import Image

from kie_gpt_image._cli import Context, _commands, main
from kie_gpt_image._download import Destination, check_destination, parse_destination
from kie_gpt_image.emulator import Emulator


def _large_png(path: Path) -> int:
    side = 700  # random pixels do not compress: about 1.5 MB
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


def test_large_uploads_show_progress_in_bytes_on_a_terminal(run: Run, tmp_path: Path) -> None:
    person = tmp_path / "person.png"
    size = _large_png(person)
    result = run("edit", str(person), "-p", "x", "--no-wait", tty=True)
    assert result.code == 0, result.err
    shown = re.findall(r"uploading person\.png: (\d+\.\d)/(\d+\.\d) MB", result.err)
    assert len(shown) > 3, result.err
    assert {total for _, total in shown} == {f"{size / 1e6:.1f}"}
    assert shown[-1][0] == shown[-1][1], "ends at the full size"
    assert "\r" in result.err


def test_upload_command_shows_progress_too(run: Run, tmp_path: Path) -> None:
    person = tmp_path / "person.png"
    _large_png(person)
    result = run("upload", str(person), tty=True)
    assert result.code == 0, result.err
    assert "uploading person.png:" in result.err


def test_no_progress_without_a_terminal_or_for_small_files(run: Run, tmp_path: Path, image: Path) -> None:
    person = tmp_path / "person.png"
    _large_png(person)
    assert "uploading person.png" not in run("edit", str(person), "-p", "x", "--no-wait").err
    assert "uploading" not in run("edit", str(image), "-p", "x", "--no-wait", tty=True).err.replace(
        "uploading and submitting", ""
    )


def test_hosts_come_from_the_environment(emulator: Emulator, capsys: object) -> None:
    env = {
        "KIE_API_KEY": SECRET_KEY,
        "KIE_BASE_URL": emulator.base_url,
        "KIE_UPLOAD_BASE_URL": emulator.upload_base_url,
    }
    assert main(["credits"], context=Context(env=env, transport=emulator.transport, tty=False)) == 0
    assert emulator.call_count("get-account-credits") == 1


def test_the_cli_uses_the_librarys_save_rule(tmp_path: Path) -> None:
    # One implementation: the CLI's -o check and EditResult.save read a destination the same way.
    assert _commands.Destination is Destination
    for given in ["a.png", "a.JPG", "dir/", "dir", "b.webp/", str(tmp_path), "x.gif"]:
        value = (
            given if given.startswith("/") else str(tmp_path / given) + ("/" if given.endswith("/") else "")
        )
        assert _commands.check_destination(value) == check_destination(value, "--output")
        assert check_destination(value) == parse_destination(value)


def test_a_refused_key_names_the_variable_it_came_from(run: Run) -> None:
    result = run("credits", key="sk-wrong-0123456789abcdef")
    assert result.code != 0
    assert "the KIE_API_KEY environment variable, ending in ...cdef" in result.err
    assert "https://kie.ai/api-key" in result.err
    assert "sk-wrong-0123456789" not in result.err
