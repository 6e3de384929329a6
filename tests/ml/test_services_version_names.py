"""A version's name says what the model is: its own backbone (none for a text-only
model), whatever the run's options asked for."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from ml.services.training_runs import _version_name


@pytest.fixture
def now(monkeypatch):
    moment = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return "2026-12-02 09:30"


def test_a_text_only_full_run_is_named_text(now):
    params = {"text_only": True, "backbone": "efficientnet_lite0"}
    assert _version_name(params, backbone="") == f"text {now}"


def test_a_fine_tuned_text_only_model_is_never_named_after_a_backbone(now):
    # An incremental run started with the default options (a backbone, text_only
    # off) on a text-only active model: the model it makes is text-only
    params = {"text_only": False, "backbone": "efficientnet_lite0"}
    assert _version_name(params, backbone="", finetuned=True) == (
        f"text fine-tuned {now}"
    )


def test_a_photo_model_is_named_after_its_backbone(now):
    params = {"backbone": "vgg16", "is_demo": True}
    assert _version_name(params, backbone="vgg16") == f"demo text+vgg16 {now}"
    assert _version_name(
        {"backbone": "vgg16"}, backbone="efficientnet_lite0", finetuned=True
    ) == (f"text+efficientnet_lite0 fine-tuned {now}")
