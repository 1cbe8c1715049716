"""Against the real kie.ai: only with KIE_API_KEY set and `-m live` chosen (free calls only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kie_gpt_image as kie

pytestmark = pytest.mark.live
SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "samples" / "person.png"


@pytest.fixture
def client() -> kie.Client:
    if not os.environ.get("KIE_API_KEY"):
        pytest.skip("KIE_API_KEY is not set")
    return kie.Client()


def test_live_credits_and_unknown_task(client: kie.Client) -> None:
    with client:
        assert client.credits() >= 0
        with pytest.raises((kie.NotFoundError, kie.UnprocessableRequestError)):
            client.get_task("task_does-not-exist_0")


def test_live_upload_is_free_and_returns_a_url(client: kie.Client) -> None:
    with client:
        uploaded = client.upload(SAMPLE)
        assert uploaded.url.startswith("https://")
