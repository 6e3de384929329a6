"""Each branch's share of the fusion, where sellers, staff and integrators see it."""

import pytest
from django.urls import reverse

from ml.models import Prediction
from ml.templatetags.ml_figures import fusion_shares

pytestmark = pytest.mark.django_db


def _percent(weights):
    return {name: round(100 * w) for name, w in weights.items()}


def test_fusion_shares_reads_like_a_sentence():
    assert fusion_shares({"text": 0.25, "tfidf": 0.6, "sentence": 0.15}) == (
        "BiGRU text 25 % · TF-IDF text 60 % · sentence encoder 15 %"
    )
    assert fusion_shares({}) == "—"


def test_the_sell_page_suggestions_show_each_branch_share(
    client_logged_in_as, seller, active_model
):
    response = client_logged_in_as(seller).post(
        "/products/suggestions/", {"title": "roman de poche auteur"}
    )

    prediction = Prediction.objects.get()
    assert prediction.shares == {
        name: pytest.approx(w)
        for name, w in active_model.fusion["weights"].items()
        if w
    }
    html = response.content.decode()
    assert (
        f'<span class="branch-shares">Shares: {fusion_shares(prediction.shares)}</span>'
        in html
    )


def test_the_model_versions_page_compares_shares_and_calibration(
    client_logged_in_as, staff_user, active_model
):
    page = client_logged_in_as(staff_user).get(
        reverse("ml:model_versions"), {"compare": [active_model.pk]}
    )

    html = page.content.decode()
    fusion = active_model.fusion
    assert (
        f'<td class="small fusion-shares">{fusion_shares(fusion["weights"])}</td>'
        in html
    )
    assert '<td class="small calibration">' in html


def test_the_api_gives_each_version_its_fusion(api_as, staff_user, active_model):
    body = api_as(staff_user).get("/api/v1/model-versions/").json()

    (row,) = [v for v in body["results"] if v["id"] == active_model.pk]
    assert set(row["fusion"]) == {
        "weights",
        "temperatures",
        "fused_temperature",
        "ece_before",
        "ece_after",
    }
    assert row["fusion"]["weights"] == active_model.metrics["fusion"]["weights"]
    assert list(row["fusion"]["weights"]) == ["text", "tfidf", "sentence"]
    assert sum(row["fusion"]["weights"].values()) == pytest.approx(1.0)
