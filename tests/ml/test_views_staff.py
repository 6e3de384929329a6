"""Staff pages: performance, training, model versions and datasets."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from ml.models import DatasetReset, ModelActivation, ModelVersion, TrainingRun
from tests.factories import (
    CategoryFactory,
    ModelVersionFactory,
    PredictionFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

STAFF_PAGES = [
    ("get", "/staff/performance/"),
    ("get", "/staff/training/"),
    ("get", "/staff/training/1/progress/"),
    ("get", "/staff/models/"),
    ("post", "/staff/models/1/activate/"),
    ("post", "/staff/models/rollback/"),
    ("get", "/staff/datasets/"),
    ("post", "/staff/datasets/"),
]


@pytest.mark.parametrize(("method", "url"), STAFF_PAGES)
@pytest.mark.parametrize("role", [User.Role.SELLER, User.Role.INTEGRATOR])
def test_staff_pages_are_forbidden_to_other_roles(
    client_logged_in_as, method, url, role
):
    # When a seller or an integrator opens a staff page
    response = getattr(client_logged_in_as(UserFactory(role=role)), method)(url)
    # Then it is forbidden
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "url"), STAFF_PAGES)
def test_staff_pages_send_anonymous_visitors_to_log_in(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_superusers_are_staff(client_logged_in_as):
    # Given a superuser with the default (seller) role
    root = UserFactory(username="root", is_superuser=True)
    # When they open a staff page
    response = client_logged_in_as(root).get("/staff/datasets/")
    # Then it is shown
    assert response.status_code == 200


def test_staff_see_the_staff_links_and_sellers_do_not(
    client_logged_in_as, staff_user, seller
):
    staff_html = client_logged_in_as(staff_user).get("/").content.decode()
    seller_html = client_logged_in_as(seller).get("/").content.decode()
    for link in ("/staff/performance/", "/staff/training/", "/staff/models/"):
        assert f'href="{link}"' in staff_html
        assert f'href="{link}"' not in seller_html
    assert 'href="/products/new/">Sell</a>' in seller_html
    assert 'href="/products/">My products</a>' in seller_html


# --- Performance ---------------------------------------------------------------------


def test_performance_page_shows_the_window_metrics(client_logged_in_as, staff_user):
    # Given an active demo model with two confirmed products, one predicted right
    version = ModelVersionFactory(
        status="active", active_marker=True, name="v-live", is_demo=True
    )
    books, games = CategoryFactory(code="L1"), CategoryFactory(code="J2")
    for real in (books, games):
        product = ProductFactory(category=real, confirmed_at=timezone.now())
        PredictionFactory(
            model_version=version, product=product, predicted_category=books
        )
    # When staff open the performance page for the last 7 days
    response = client_logged_in_as(staff_user).get("/staff/performance/?days=7")
    # Then the numbers, the tables and the chart data are there
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["metrics"]["count"] == 2
    assert '<div class="fs-3 fw-semibold" id="metric-count">2</div>' in html
    assert '<div class="fs-3 fw-semibold" id="metric-accuracy">0.500</div>' in html
    assert '<option value="7" selected>7 days</option>' in html
    assert 'id="trend-data"' in html
    assert "chart.umd.min.js" in html
    assert 'class="table table-sm table-bordered text-center confusion"' in html
    assert "demo model" in html


def test_performance_page_without_a_model_says_so(client_logged_in_as, staff_user):
    response = client_logged_in_as(staff_user).get("/staff/performance/")
    assert b"No model is active" in response.content


def test_performance_page_ignores_an_unknown_window(client_logged_in_as, staff_user):
    response = client_logged_in_as(staff_user).get("/staff/performance/?days=abc")
    assert response.context["days"] == 30


# --- Training ------------------------------------------------------------------------


def test_starting_a_training_run_queues_it_after_commit(
    client_logged_in_as, staff_user, django_capture_on_commit_callbacks
):
    # When staff start a run
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_logged_in_as(staff_user).post(
            "/staff/training/",
            {"backbone": "vgg16", "text_only": "on", "epochs": 3, "activate": "on"},
        )
    # Then the run is recorded with its options, and queued once committed
    run = TrainingRun.objects.get()
    assert response.status_code == 302
    assert (run.status, run.created_by, run.kind) == ("queued", staff_user, "full")
    assert run.parameters == {
        "backbone": "vgg16",
        "text_only": True,
        "epochs": 3,
        "activate": True,
        "allow_random_backbone": False,
    }
    assert len(callbacks) == 1


def test_staff_can_start_an_incremental_run(client_logged_in_as, staff_user):
    response = client_logged_in_as(staff_user).post(
        "/staff/training/",
        {"kind": "incremental", "backbone": "vgg16", "text_only": "on", "epochs": 2},
    )

    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert (run.status, run.kind) == ("queued", "incremental")
    assert run.parameters == {
        "backbone": "vgg16",
        "text_only": True,
        "epochs": 2,
        "activate": False,
        "allow_random_backbone": False,
    }


# What the form posts when staff change nothing, and what reaches the queued run then.
TRAINING_FORM_DEFAULTS = {"backbone": "efficientnet_lite0", "epochs": 8}
QUEUED_DEFAULTS = {
    "backbone": "efficientnet_lite0",
    "text_only": False,
    "epochs": 8,
    "activate": False,
    "allow_random_backbone": False,
}


@pytest.mark.parametrize(
    ("posted", "kind", "changed"),
    [
        pytest.param({}, "full", {}, id="defaults"),
        pytest.param({"kind": "full"}, "full", {}, id="kind-full"),
        pytest.param({"kind": "incremental"}, "incremental", {}, id="kind-incremental"),
        pytest.param({"backbone": "vgg16"}, "full", {"backbone": "vgg16"}, id="vgg16"),
        pytest.param({"text_only": "on"}, "full", {"text_only": True}, id="text-only"),
        pytest.param({"epochs": 200}, "full", {"epochs": 200}, id="epochs"),
        pytest.param({"activate": "on"}, "full", {"activate": True}, id="activate"),
        pytest.param(
            {"allow_random_backbone": "on"},
            "full",
            {"allow_random_backbone": True},
            id="allow-random-backbone",
        ),
        pytest.param(
            {
                "kind": "incremental",
                "backbone": "vgg16",
                "text_only": "on",
                "epochs": 1,
                "activate": "on",
                "allow_random_backbone": "on",
            },
            "incremental",
            {
                "backbone": "vgg16",
                "text_only": True,
                "epochs": 1,
                "activate": True,
                "allow_random_backbone": True,
            },
            id="every-option-changed",
        ),
    ],
)
def test_every_training_option_reaches_the_queued_run(
    client_logged_in_as,
    staff_user,
    django_capture_on_commit_callbacks,
    posted,
    kind,
    changed,
):
    # When staff post the training form with one option (or all) off its default
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_logged_in_as(staff_user).post(
            "/staff/training/", {**TRAINING_FORM_DEFAULTS, **posted}
        )
    # Then exactly that choice reaches the queued run: its kind, and every option
    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert (run.status, run.kind, run.created_by) == ("queued", kind, staff_user)
    assert run.parameters == {**QUEUED_DEFAULTS, **changed}
    assert len(callbacks) == 1


def test_training_with_bad_options_starts_nothing(client_logged_in_as, staff_user):
    response = client_logged_in_as(staff_user).post(
        "/staff/training/", {"backbone": "resnet", "epochs": 0}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"backbone", "epochs"}
    assert TrainingRun.objects.count() == 0


def test_training_page_lists_runs_and_the_tensorboard_folder(
    client_logged_in_as, staff_user, settings
):
    settings.ML_ARTIFACTS_DIR = "/srv/ml"
    run = TrainingRun.objects.create(
        status="succeeded",
        progress=1.0,
        parameters={"text_only": True, "epochs": 2},
        metrics={"fused": {"weighted_f1": 0.8123, "accuracy": 0.9, "n": 45}},
    )
    html = client_logged_in_as(staff_user).get("/staff/training/").content.decode()
    assert f"#{run.pk}" in html
    # Each figure with its sample size, and its 95 % interval on a small sample
    assert (
        'F1 0.812 <span class="figure-n text-muted small">'
        "(95 % CI 0.676–0.900, n=45)</span>"
    ) in html
    assert (
        'acc. 0.900 <span class="figure-n text-muted small">'
        "(95 % CI 0.779–0.958, n=45)</span>"
    ) in html
    assert "tensorboard --logdir /srv/ml/runs" in html
    assert f"/srv/ml/runs/{run.pk}/tensorboard" in html


def test_progress_partial_polls_while_the_run_is_running(
    client_logged_in_as, staff_user
):
    running = TrainingRun.objects.create(status="running", progress=0.42, stage="text")
    done = TrainingRun.objects.create(status="succeeded", progress=1.0)
    client = client_logged_in_as(staff_user)
    # When the partial of each run is fetched
    running_html = client.get(f"/staff/training/{running.pk}/progress/").content
    done_html = client.get(f"/staff/training/{done.pk}/progress/").content
    # Then the running one polls every 2 s and shows 42 %, the finished one stops
    assert b'hx-trigger="every 2s"' in running_html
    assert b"42%" in running_html
    assert b"hx-trigger" not in done_html
    assert b"100%" in done_html


def test_progress_of_an_unknown_run_is_not_found(client_logged_in_as, staff_user):
    response = client_logged_in_as(staff_user).get("/staff/training/999/progress/")
    assert response.status_code == 404


# --- Model versions ------------------------------------------------------------------


def test_models_page_compares_versions_side_by_side(client_logged_in_as, staff_user):
    category = CategoryFactory(code="L1", name="Livres")
    metrics = {
        "fused": {
            "n": 40,
            "weighted_f1": 0.7,
            "accuracy": 0.75,
            "per_class": {"L1": {"f1": 0.65, "support": 12}},
        }
    }
    first = ModelVersionFactory(name="first", metrics=metrics)
    second = ModelVersionFactory(
        name="second",
        warning="random weights: the backbone was not pretrained",
        metrics={
            "fused": {
                "n": 300,
                "weighted_f1": 0.9,
                "accuracy": 0.91,
                "per_class": {"L1": {"f1": 0.95, "support": 120}},
            }
        },
    )
    # When staff compare the two versions
    response = client_logged_in_as(staff_user).get(
        "/staff/models/", {"compare": [first.pk, second.pk]}
    )
    # Then their metrics are side by side, per category too, with the warning
    comparison = response.context["comparison"]
    assert comparison["versions"] == [first, second]
    [row] = comparison["rows"]
    assert (row["code"], row["name"], row["f1"]) == (
        category.code,
        "Livres",
        [0.65, 0.95],
    )
    assert [figure["n"] for figure in row["figures"]] == [12, 120]
    html = response.content.decode()
    # Each figure with its n; a 95 % interval under 200 products
    small = '<span class="figure-n text-muted small">'
    assert (
        f"<td>0.650 {small}(95 % CI 0.376–0.851, n=12)</span></td>"
        f"<td>0.950 {small}(95 % CI 0.895–0.977, n=120)</span></td>"
    ) in html
    assert f'<td class="fw-semibold">0.900 {small}(n=300)</span></td>' in html
    assert f"<td>0.750 {small}(95 % CI 0.598–0.858, n=40)</span></td>" in html
    assert "random weights: the backbone was not pretrained" in html


def test_activating_a_version_from_the_models_page(client_logged_in_as, staff_user):
    old = ModelVersionFactory(status="active", active_marker=True)
    new = ModelVersionFactory()
    # When staff activate the new version
    response = client_logged_in_as(staff_user).post(f"/staff/models/{new.pk}/activate/")
    # Then it is the active one, the old one is retired, and it is recorded
    assert response.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == ("retired", "active")
    activation = ModelActivation.objects.get()
    assert (activation.version, activation.previous, activation.activated_by) == (
        new,
        old,
        staff_user,
    )


def test_activating_an_unfinished_version_shows_the_error(
    client_logged_in_as, staff_user
):
    version = ModelVersionFactory(status="training")
    response = client_logged_in_as(staff_user).post(
        f"/staff/models/{version.pk}/activate/", follow=True
    )
    assert b"This model version has not finished training." in response.content
    assert ModelActivation.objects.count() == 0


def test_rolling_back_from_the_models_page(client_logged_in_as, staff_user):
    from ml.services.model_versions import model_version_activate

    first, second = ModelVersionFactory(), ModelVersionFactory()
    model_version_activate(version=first)
    model_version_activate(version=second)
    client = client_logged_in_as(staff_user)
    # When staff click "Roll back" on the models page
    models_page = client.get("/staff/models/").content.decode()
    assert 'href="/staff/models/rollback/" id="rollback"' in models_page
    confirmation = client.get("/staff/models/rollback/").content.decode()
    # Then a confirmation step says what would happen, and nothing changed yet
    assert (
        f"The active model <strong>{second}</strong> is retired and "
        f"<strong>{first}</strong> becomes active again"
    ) in confirmation
    second.refresh_from_db()
    assert second.status == "active"
    # When they confirm
    response = client.post("/staff/models/rollback/", {"confirm": "on"}, follow=True)
    # Then the first version is active again
    first.refresh_from_db()
    assert first.status == "active"
    assert b"Rolled back" in response.content
    assert ModelActivation.objects.filter(is_rollback=True).count() == 1


def test_a_rollback_without_the_confirmation_changes_nothing(
    client_logged_in_as, staff_user
):
    from ml.services.model_versions import model_version_activate

    first, second = ModelVersionFactory(), ModelVersionFactory()
    model_version_activate(version=first)
    model_version_activate(version=second)
    # When staff post the rollback without ticking "confirm"
    response = client_logged_in_as(staff_user).post("/staff/models/rollback/")
    # Then the confirmation page comes back with the error, and nothing changed
    assert response.status_code == 200
    assert "Tick this box to roll back." in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    assert ModelActivation.objects.filter(is_rollback=True).count() == 0


def test_rolling_back_without_history_shows_the_error(client_logged_in_as, staff_user):
    client = client_logged_in_as(staff_user)
    page = client.get("/staff/models/rollback/").content.decode()
    assert "There is no previous model version to roll back to." in page
    response = client.post("/staff/models/rollback/", {"confirm": "on"}, follow=True)
    assert b"There is no previous model version to roll back to." in response.content


def test_activation_needs_a_post(client_logged_in_as, staff_user):
    version = ModelVersionFactory()
    response = client_logged_in_as(staff_user).get(
        f"/staff/models/{version.pk}/activate/"
    )
    assert response.status_code == 405
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY


# --- Datasets ------------------------------------------------------------------------


def test_datasets_page_counts_new_products(client_logged_in_as, staff_user):
    # Given two products confirmed after the last training run, one before
    finished = timezone.now() - timedelta(days=2)
    TrainingRun.objects.create(status="succeeded", finished_at=finished)
    ProductFactory(confirmed_at=finished - timedelta(hours=1))
    ProductFactory.create_batch(2, confirmed_at=finished + timedelta(hours=1))
    # When staff open the datasets page
    response = client_logged_in_as(staff_user).get("/staff/datasets/")
    # Then it counts two new products
    assert response.context["new_products"] == 2
    assert b'<div class="display-6 fw-semibold" id="new-products">2</div>' in (
        response.content
    )


def test_reset_without_confirmation_changes_nothing(client_logged_in_as, staff_user):
    ProductFactory(confirmed_at=timezone.now())
    # When staff press reset without ticking "I understand"
    response = client_logged_in_as(staff_user).post("/staff/datasets/", {})
    # Then the form says so, and nothing is reset
    assert response.status_code == 200
    assert "Tick this box to reset." in response.content.decode()
    assert DatasetReset.objects.count() == 0
    assert response.context["new_products"] == 1


def test_reset_with_confirmation_starts_the_count_again(
    client_logged_in_as, staff_user
):
    ProductFactory.create_batch(3, confirmed_at=timezone.now() - timedelta(hours=1))
    client = client_logged_in_as(staff_user)
    # When staff tick "I understand" and reset
    response = client.post("/staff/datasets/", {"confirm": "on"}, follow=True)
    # Then the reset is recorded with the three products, and the count is 0
    reset = DatasetReset.objects.get()
    assert (reset.created_by, reset.products_count) == (staff_user, 3)
    assert response.context["new_products"] == 0
    assert b"Datasets reset: 3 new products marked as seen." in response.content


def test_a_held_candidate_shows_the_gate_comparison(client_logged_in_as, staff_user):
    # Given a candidate the gate held, scored on the slice and its recent window
    active = ModelVersionFactory(status="active", active_marker=True)
    metrics = {"n": 40, "accuracy": 0.9, "weighted_f1": 0.88, "per_class": {}}
    ModelVersionFactory(
        name="candidate",
        gate={
            "promote": False,
            "reasons": ["category 9101 F1 drops by 0.140"],
            "candidate_metrics": metrics,
            "active_metrics": {**metrics, "weighted_f1": 0.7},
            "active_version": active.pk,
            "recent": {
                "n": 33,
                "checked": True,
                "since": "2026-11-20T10:00:00+00:00",
                "candidate": {**metrics, "weighted_f1": 0.924},
                "active": {**metrics, "weighted_f1": 0.63},
            },
        },
    )
    # When staff open the model versions page
    html = client_logged_in_as(staff_user).get("/staff/models/").content.decode()
    # Then the decision, its reasons and both comparisons are shown
    assert "held for a staff decision" in html
    assert "category 9101 F1 drops by 0.140" in html
    assert "Evaluation slice (40 products never trained on)" in html
    assert (
        "Recent window (33 of those products, confirmed since 2026-11-20T10:00)" in html
    )
    small = '<span class="figure-n text-muted small">'
    assert (
        f"candidate weighted F1 0.924 {small}(95 % CI 0.800–0.974, n=40)</span>; "
        f"active 0.630 {small}(95 % CI 0.475–0.762, n=40)</span>"
    ) in html
