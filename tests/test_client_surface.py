"""The two clients keep one surface: the same public methods with the same parameters, the same
constructor options; and the root exports what a caller of those methods needs, no more."""

from __future__ import annotations

import inspect
import warnings

import pytest

import kie_gpt_image as kie
from kie_gpt_image import webhooks

WEBHOOK_DETAILS = (
    "MissingHeaderError",
    "BadTimestampError",
    "StaleTimestampError",
    "FutureTimestampError",
    "BadSignatureError",
)


def _parameters(function: object) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def _public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member) and name not in ("close", "aclose")
    }


def test_both_clients_take_the_same_parameters_in_every_public_method() -> None:
    sync, async_ = _public_methods(kie.Client), _public_methods(kie.AsyncClient)
    assert sync.keys() == async_.keys()
    assert len(sync) >= 12  # edit, generate, create_task, get_task, wait, ... (a vacuous pass is caught)
    different = {
        name: (_parameters(sync[name]), _parameters(async_[name]))
        for name in sync
        if _parameters(sync[name]) != _parameters(async_[name])
    }
    assert different == {}


def test_both_constructors_take_the_same_options_with_the_same_defaults() -> None:
    own = {"transport", "http_client", "sleep"}  # typed per client (sync or async)
    sync = [p for p in _parameters(kie.Client.__init__) if p[0] not in own]
    async_ = [p for p in _parameters(kie.AsyncClient.__init__) if p[0] not in own]
    assert sync == async_
    assert {"api_key", "base_url", "create_timeout", "rate_limits"} <= {name for name, _, _ in sync}


def test_webhook_details_left_the_root_but_stay_in_webhooks() -> None:
    for name in WEBHOOK_DETAILS:
        assert name not in kie.__all__
        with pytest.raises(AttributeError):
            getattr(kie, name)
        error = getattr(webhooks, name)
        assert issubclass(error, kie.WebhookVerificationError)
        assert issubclass(error, kie.KieError)
    assert {"WebhookVerificationError", "ReplayedCallbackError", "MalformedCallbackError"} <= set(kie.__all__)


def test_the_default_models_are_named_alike_and_model_is_a_deprecated_alias() -> None:
    assert kie.DEFAULT_EDIT_MODEL in kie.MODELS
    assert kie.DEFAULT_GENERATE_MODEL in kie.MODELS
    assert "MODEL" not in kie.__all__
    with pytest.warns(DeprecationWarning, match="DEFAULT_EDIT_MODEL"):
        assert kie.MODEL == kie.DEFAULT_EDIT_MODEL
    for name, field in (("ASPECT_RATIOS", "aspect_ratio"), ("QUALITIES", "quality")):
        assert name not in kie.__all__
        with pytest.warns(DeprecationWarning, match=r"MODELS\[model\]"):
            assert getattr(kie, name) == kie.MODELS[kie.DEFAULT_EDIT_MODEL].field(field).enum
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from kie_gpt_image import DEFAULT_EDIT_MODEL  # the new name warns nothing

    assert DEFAULT_EDIT_MODEL == "gpt-image/1.5-image-to-image"
