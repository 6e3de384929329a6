"""The Sell page while the model it waits for trains (``make run`` on a fresh
platform): the run's progress, polled from a seller-visible endpoint, then the
active model and its suggestions."""

import pytest

from ml.models import ModelVersion, Prediction, TrainingRun

pytestmark = pytest.mark.django_db

SELL_URL = "/products/new/"
STATUS_URL = "/products/suggestions/model/"
POLL = f'hx-get="{STATUS_URL}" hx-trigger="every 2s" hx-swap="outerHTML"'


def _starter_run(**fields) -> TrainingRun:
    return TrainingRun.objects.create(
        parameters={"text_only": True, "epochs": 10, "activate": True, "is_demo": True},
        **fields,
    )


def test_the_status_endpoint_requires_login(client):
    response = client.get(STATUS_URL)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={STATUS_URL}"


def test_the_status_endpoint_only_answers_get(client_logged_in_as, seller):
    assert client_logged_in_as(seller).post(STATUS_URL).status_code == 405


def test_sell_page_shows_the_queued_starter_run_and_polls(client_logged_in_as, seller):
    # Given no active model and the starter run waiting for the worker
    _starter_run()
    # When the seller opens the Sell page
    html = client_logged_in_as(seller).get(SELL_URL).content.decode()
    # Then it says a model is training, queued, and polls the status endpoint
    assert "A model is training (the demo starter model)" in html
    assert "Training: queued, waiting for a worker" in html
    assert POLL in html
    assert "No model is active yet" not in html


def test_sell_page_and_status_show_the_running_run_s_progress(
    client_logged_in_as, seller
):
    # Given the starter run 40% through its text stage, with a log (staff only)
    _starter_run(
        status=TrainingRun.Status.RUNNING,
        progress=0.4,
        stage="text",
        log="text epoch 4/10 val weighted F1 0.5000\n",
    )
    client = client_logged_in_as(seller)
    # When the seller opens the Sell page, and the page polls
    page = client.get(SELL_URL).content.decode()
    response = client.get(STATUS_URL)
    # Then both show the progress, the partial keeps polling, and no staff detail
    status = response.content.decode()
    assert response.status_code == 200
    for html in (page, status):
        assert (
            '<div class="small mt-1 model-training-progress">Training: 40% (text)'
            in html
        )
        assert 'aria-valuenow="40"' in html
        assert POLL in html
        assert "epoch 4/10" not in html
    assert status.lstrip().startswith('<div id="model-status" hx-get=')


def test_status_endpoint_shows_the_model_once_active_and_stops_polling(
    client_logged_in_as, seller
):
    # Given the starter run succeeded and activated its model
    _starter_run(status=TrainingRun.Status.SUCCEEDED, progress=1.0)
    ModelVersion.objects.create(
        name="demo text 2026-01-01", status=ModelVersion.Status.ACTIVE, is_demo=True
    )
    # When the Sell page polls its status
    html = client_logged_in_as(seller).get(STATUS_URL).content.decode()
    # Then it names the model, says suggestions are on, asks for them, stops polling
    assert (
        'Suggestions by <strong class="model-name">demo text 2026-01-01</strong>'
        in html
    )
    assert "The model is ready: suggestions are on. Type the title to get them." in html
    assert 'hx-post="/products/suggestions/" hx-trigger="load"' in html
    assert "hx-get" not in html
    assert "Training:" not in html


def test_sell_page_with_an_active_model_shows_the_normal_summary(
    client_logged_in_as, seller
):
    # Given an active model (and a run still queued that would activate another)
    ModelVersion.objects.create(name="v1", status=ModelVersion.Status.ACTIVE)
    _starter_run()
    # When the seller opens the Sell page
    html = client_logged_in_as(seller).get(SELL_URL).content.decode()
    # Then the summary is the usual one: no progress, no polling, no "ready" notice
    assert 'Suggestions by <strong class="model-name">v1</strong>.' in html
    assert "Training:" not in html
    assert "hx-get" not in html
    assert "suggestions are on" not in html


def test_sell_page_without_a_training_run_says_no_model(client_logged_in_as, seller):
    # Given no active model and only a failed starter run
    _starter_run(status=TrainingRun.Status.FAILED, error="MLError: boom")
    # Then the page says there is no model, without polling or the error
    html = client_logged_in_as(seller).get(SELL_URL).content.decode()
    assert "No model is active yet" in html
    assert "hx-get" not in html
    assert "boom" not in html


def test_suggestions_come_once_the_trained_model_is_active(
    client_logged_in_as, seller, active_model
):
    # Given the model became active while the seller was on the page
    client = client_logged_in_as(seller)
    assert "suggestions are on" in client.get(STATUS_URL).content.decode()
    # When the page asks for suggestions for the typed title
    response = client.post(
        "/products/suggestions/", {"title": "roman de poche", "description": ""}
    )
    # Then the model suggests
    assert response.status_code == 200
    assert "suggestion-list" in response.content.decode()
    assert Prediction.objects.count() == 1
