"""The CLI masks the key with the library's one rule (issue 24 item 11): whole tokens of a real-length key."""

from __future__ import annotations

import io

from kie_gpt_image._cli._output import Output


def _printed(secret: str, text: str) -> str:
    stdout = io.StringIO()
    Output(json_mode=False, secret=secret, stdout=stdout, stderr=io.StringIO(), tty=False).line(text)
    return stdout.getvalue().rstrip("\n")


def test_a_short_key_leaves_messages_readable() -> None:
    message = "kie-gpt-image: error: images[0]: not a supported image"
    assert _printed("image", message) == message


def test_a_real_key_is_masked_where_it_stands_alone() -> None:
    key = "sk_live_0123456789abcdef0123456789abcdef"
    assert _printed(key, f"kie.ai refused the key {key}.") == "kie.ai refused the key ***."
    assert _printed(key, f"prefix{key}") == f"prefix{key}"  # inside a longer token: not this key
