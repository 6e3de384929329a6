"""Predictions, metrics, training runs, model versions and the dataset reset."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from catalog.models import Product
from ml.models import (
    DatasetReset,
    ModelActivation,
    ModelVersion,
    Prediction,
    TrainingRun,
)
from tests.factories import CategoryFactory, ProductFactory
from tests.images import b64, jpeg_bytes


def error(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def ready_version(name: str, **fields) -> ModelVersion:
    """A version the activation services accept (its bundle is never loaded)."""
    return ModelVersion.objects.create(
        name=name,
        status=ModelVersion.Status.READY,
        bundle_path=f"/nowhere/{name}",
        bundle_sha256=name.encode().hex().ljust(64, "0")[:64],
        **fields,
    )


# --- predict/ ---


@pytest.mark.parametrize("user_fixture", ["seller", "staff_user", "integrator"])
def test_every_role_gets_top_k_categories(
    request, api_as, user_fixture, active_model, training_categories
):
    # Given an active text model and any authenticated user
    user = request.getfixturevalue(user_fixture)
    # When they ask about a video-game title
    response = api_as(user).post(
        "/api/v1/predict/",
        {"title": "manette console nintendo", "description": "jeu playstation"},
        format="json",
    )
    # Then the games category comes first, and the prediction is stored
    assert response.status_code == 200
    body = response.json()
    prediction = Prediction.objects.get()
    games = training_categories["9102"]
    assert sorted(body) == [
        "branches",
        "latency_ms",
        "model_version",
        "prediction_id",
        "top_k",
        "used",
    ]
    assert body["prediction_id"] == prediction.pk
    assert body["model_version"] == {"id": active_model.pk, "name": "text test model"}
    assert [s["code"] for s in body["top_k"]][0] == "9102"
    assert body["top_k"][0] == {
        "id": games.pk,
        "code": "9102",
        "name": "Jeux vidéo",
        "probability": prediction.top_k[0]["probability"],
    }
    assert sorted(s["code"] for s in body["top_k"]) == ["9101", "9102", "9103"]
    # each branch's first choice (calibrated) and its share of this product's fusion
    assert list(body["branches"]) == ["text", "tfidf", "sentence"]
    shares = active_model.fusion["weights"]
    text_weights = [w for n, w in shares.items() if n != "image"]
    for name, branch in body["branches"].items():
        stored = prediction.branches[name]
        if shares[name] == 0 and max(text_weights) > 0:  # weighs nothing: not computed
            assert branch is None and stored is None
            continue
        assert branch == {
            "id": stored["category_id"],
            "code": stored["code"],
            "name": stored["name"],
            "probability": stored["probability"],
            "share": stored["share"],
        }
        assert branch["share"] == pytest.approx(shares[name])
    assert sum(
        b["share"] for b in body["branches"].values() if b is not None
    ) == pytest.approx(1.0)
    assert body["used"] == "text"
    assert body["latency_ms"] == prediction.latency_ms
    assert (prediction.requested_by, prediction.model_version) == (user, active_model)


def test_predict_returns_as_many_suggestions_as_asked(api_as, seller, active_model):
    response = api_as(seller).post(
        "/api/v1/predict/", {"title": "roman poche", "top_k": 1}, format="json"
    )
    assert [s["code"] for s in response.json()["top_k"]] == ["9101"]


def test_predict_takes_a_multipart_photo(api_as, seller, active_model):
    photo = SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = api_as(seller).post(
        "/api/v1/predict/",
        {"title": "piscine filtre", "image": photo},
        format="multipart",
    )
    assert response.status_code == 200
    assert response.json()["top_k"][0]["code"] == "9103"


def test_predict_takes_a_base64_photo(api_as, seller, active_model):
    response = api_as(seller).post(
        "/api/v1/predict/",
        {"title": "piscine chlore", "image_base64": b64(jpeg_bytes())},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["top_k"][0]["code"] == "9103"


def test_predict_needs_some_input(api_as, seller, active_model):
    response = api_as(seller).post("/api/v1/predict/", {}, format="json")
    assert response.status_code == 400
    assert response.json() == error(
        "invalid", "Give a title, a description or a photo."
    )
    assert Prediction.objects.count() == 0


def test_predict_without_an_active_model_is_503(api_as, seller):
    response = api_as(seller).post(
        "/api/v1/predict/", {"title": "roman"}, format="json"
    )
    assert response.status_code == 503
    assert response.json() == error(
        "no_active_model", "No model is active yet: choose the category by hand."
    )


def test_predict_anonymous_is_401(anonymous_client):
    response = anonymous_client.post(
        "/api/v1/predict/", {"title": "roman"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_predict_is_throttled_in_its_own_scope(api_as, seller, active_model, settings):
    # Given a rate of two predictions a minute (the rates are read at each request)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "predict": "2/minute",
        },
    }
    client = api_as(seller)
    # When a seller asks three times
    statuses = [
        client.post("/api/v1/predict/", {"title": "roman"}, format="json").status_code
        for _ in range(3)
    ]
    # Then the third is refused with the error shape
    assert statuses == [200, 200, 429]
    response = client.post("/api/v1/predict/", {"title": "roman"}, format="json")
    assert response.json()["error"]["code"] == "throttled"
    assert Prediction.objects.count() == 2


# --- products/ with a prediction ---


def test_listing_links_the_prediction_it_confirms(
    api_as, seller, active_model, training_categories
):
    # Given a prediction the seller asked for
    client = api_as(seller)
    prediction_id = client.post(
        "/api/v1/predict/", {"title": "roman auteur"}, format="json"
    ).json()["prediction_id"]
    # When the seller saves the listing with it
    response = client.post(
        "/api/v1/products/",
        {
            "title": "roman auteur",
            "category": training_categories["9101"].pk,
            "prediction": prediction_id,
        },
        format="json",
    )
    # Then the prediction points at the new product
    assert response.status_code == 201
    assert Prediction.objects.get(pk=prediction_id).product_id == response.json()["id"]


def test_listing_refuses_another_users_prediction(
    api_as, seller, other_seller, active_model, training_categories
):
    # Given a prediction another seller asked for
    prediction_id = (
        api_as(other_seller)
        .post("/api/v1/predict/", {"title": "roman"}, format="json")
        .json()["prediction_id"]
    )
    # When the seller uses it
    response = api_as(seller).post(
        "/api/v1/products/",
        {
            "title": "Roman",
            "category": training_categories["9101"].pk,
            "prediction": prediction_id,
            "image_base64": b64(jpeg_bytes()),
        },
        format="json",
    )
    # Then it is a field error and nothing is stored
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "prediction": ["Unknown or already used prediction."]
    }
    assert Product.objects.count() == 0
    assert Prediction.objects.get(pk=prediction_id).product is None


# --- products/proposal/ ---


@pytest.fixture
def books(db):
    return CategoryFactory(code="9301", name="Livres")


def test_proposal_is_a_product_of_the_unlabelled_pool(api_as, seller, books):
    # Given one unlabelled imported product and a labelled one
    pooled = ProductFactory(
        seller=None, category=None, source="import", title="Sans catégorie"
    )
    ProductFactory(seller=seller, category=books)
    # When a seller asks for a proposal
    response = api_as(seller).get("/api/v1/products/proposal/")
    # Then the unlabelled product comes back
    assert response.status_code == 200
    assert response.json() == {
        "id": pooled.pk,
        "title": "Sans catégorie",
        "description": "Une description de test.",
        "image": None,
    }


def test_proposal_photo_is_served_for_pool_products_only(api_as, seller, books):
    # Given a pool product with a photo, and a seller's listing with one
    pooled = ProductFactory(seller=None, category=None, source="import")
    pooled.image.save("p.jpg", ContentFile(jpeg_bytes()))
    listing = ProductFactory(seller=seller, category=books)
    listing.image.save("l.jpg", ContentFile(jpeg_bytes()))
    client = api_as(seller)
    # When the proposal comes back
    proposal = client.get("/api/v1/products/proposal/").json()
    # Then its photo URL serves the photo; a listing is not a proposal
    assert proposal["image"] == (
        f"http://testserver/api/v1/products/proposal/{pooled.pk}/photo/"
    )
    photo = client.get(proposal["image"].removeprefix("http://testserver"))
    assert b"".join(photo.streaming_content) == jpeg_bytes()
    listing_photo = client.get(f"/api/v1/products/proposal/{listing.pk}/photo/")
    assert listing_photo.status_code == 404


def test_proposal_without_unlabelled_products_is_404(api_as, integrator, books):
    ProductFactory(category=books)
    response = api_as(integrator).get("/api/v1/products/proposal/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "No unlabelled product is waiting for a category.",
            "fields": {},
        }
    }


# --- metrics/ ---


@pytest.fixture
def confirmed_listing(api_as, seller, active_model, training_categories):
    """One listing saved from a correct suggestion of the active model."""
    client = api_as(seller)
    prediction_id = client.post(
        "/api/v1/predict/", {"title": "piscine pompe"}, format="json"
    ).json()["prediction_id"]
    client.post(
        "/api/v1/products/",
        {
            "title": "piscine pompe",
            "category": training_categories["9103"].pk,
            "prediction": prediction_id,
        },
        format="json",
    )
    return Product.objects.get()


@pytest.mark.parametrize("reader", ["staff_user", "integrator"])
def test_staff_and_integrators_get_every_figure(
    request, api_as, reader, confirmed_listing, active_model
):
    response = api_as(request.getfixturevalue(reader)).get(
        "/api/v1/metrics/", {"days": 7}
    )
    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == [
        "accuracy",
        "confusion",
        "count",
        "model_version",
        "per_category",
        "real_vs_predicted",
        "snapshots",
        "top1_kept_rate",
        "top_k_hit_rate",
        "trend",
        "weighted_f1",
        "window_days",
    ]
    assert (body["window_days"], body["count"]) == (7, 1)
    assert (body["accuracy"], body["weighted_f1"]) == (1.0, 1.0)
    assert body["model_version"]["id"] == active_model.pk
    assert body["confusion"] == {"labels": ["9103"], "matrix": [[1]]}
    assert [row["product_id"] for row in body["real_vs_predicted"]] == [
        confirmed_listing.pk
    ]
    assert len(body["trend"]) == 8


def test_sellers_get_only_the_headline_figures(
    api_as, other_seller, confirmed_listing, active_model
):
    # Given a listing of another seller's in the window
    # When a seller asks for the metrics
    response = api_as(other_seller).get("/api/v1/metrics/", {"days": 7})
    # Then they get the headline numbers, not the per-product table
    assert response.status_code == 200
    assert response.json() == {
        "window_days": 7,
        "model_version": {"id": active_model.pk, "name": "text test model"},
        "count": 1,
        "accuracy": 1.0,
        "weighted_f1": 1.0,
    }


def test_metrics_without_a_model_are_empty(api_as, seller):
    response = api_as(seller).get("/api/v1/metrics/")
    assert response.json() == {
        "window_days": 30,
        "model_version": None,
        "count": 0,
        "accuracy": None,
        "weighted_f1": None,
    }


def test_metrics_refuse_a_bad_window(api_as, staff_user):
    response = api_as(staff_user).get("/api/v1/metrics/", {"days": 0})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "days": ["Ensure this value is greater than or equal to 1."]
    }


# --- training-runs/ ---


def test_staff_starts_a_training_run_on_the_worker(
    api_as, staff_user, monkeypatch, django_capture_on_commit_callbacks
):
    # Given the worker's queue
    from ml.tasks import training_run_execute_task

    queued = []
    monkeypatch.setattr(training_run_execute_task, "delay", queued.append)
    # When staff start a text-only run that activates its model
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(staff_user).post(
            "/api/v1/training-runs/",
            {"text_only": True, "epochs": 3, "activate": True},
            format="json",
        )
    # Then the run is recorded and queued once the row is committed
    assert response.status_code == 202
    run = TrainingRun.objects.get()
    assert queued == [run.pk]
    assert response.json() == {
        "id": run.pk,
        "status": "queued",
        "kind": "full",
        "parameters": {
            "backbone": "efficientnet_lite0",
            "text_only": True,
            "epochs": 3,
            "activate": True,
            "allow_random_backbone": False,
        },
        "progress": 0.0,
        "stage": "",
        "error": "",
        "model_version": None,
        "warning": None,
        "validation_n": None,
        "enough_data": False,
        "gate": None,
        "created_by": "staff",
        "created_at": run.created_at.isoformat().replace("+00:00", "Z"),
        # sent after the answer here: the test's own transaction commits last
        "enqueued_at": None,
        "started_at": None,
        "finished_at": None,
    }
    assert run.enqueued_at is not None  # once committed, the broker accepted it


def test_training_run_refuses_an_unknown_backbone(api_as, staff_user):
    response = api_as(staff_user).post(
        "/api/v1/training-runs/", {"backbone": "resnet"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == error(
        "invalid", "Unknown backbone 'resnet': use vgg16, efficientnet_lite0."
    )
    assert TrainingRun.objects.count() == 0


@pytest.mark.parametrize("user_fixture", ["seller", "integrator"])
def test_only_staff_train(request, api_as, user_fixture):
    client = api_as(request.getfixturevalue(user_fixture))
    started = client.post("/api/v1/training-runs/", {}, format="json")
    listed = client.get("/api/v1/training-runs/")
    assert (started.status_code, listed.status_code) == (403, 403)
    assert TrainingRun.objects.count() == 0


def test_staff_follow_training_runs(api_as, staff_user):
    # Given a finished run
    version = ready_version("v1", metrics={"fused": {"accuracy": 0.9}})
    run = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        progress=1.0,
        metrics={"fused": {"accuracy": 0.9}},
        log="text epoch 1/1\n",
        model_version=version,
    )
    client = api_as(staff_user)
    # When staff list the runs and open it
    listed = client.get("/api/v1/training-runs/")
    detail = client.get(f"/api/v1/training-runs/{run.pk}/")
    missing = client.get(f"/api/v1/training-runs/{run.pk + 1}/")
    # Then they see its status, progress and metrics
    assert [r["id"] for r in listed.json()["results"]] == [run.pk]
    assert "metrics" not in listed.json()["results"][0]
    body = detail.json()
    assert (body["status"], body["progress"], body["model_version"]) == (
        "succeeded",
        1.0,
        version.pk,
    )
    assert (body["metrics"], body["log"]) == (
        {"fused": {"accuracy": 0.9}},
        "text epoch 1/1\n",
    )
    assert missing.status_code == 404
    assert missing.json() == error("not_found", "No such training run.")


# --- model-versions/ ---


@pytest.mark.parametrize("reader", ["staff_user", "integrator"])
def test_staff_and_integrators_list_model_versions(request, api_as, reader):
    older = ready_version("older")
    newer = ready_version("newer")
    response = api_as(request.getfixturevalue(reader)).get("/api/v1/model-versions/")
    assert response.status_code == 200
    assert [v["id"] for v in response.json()["results"]] == [newer.pk, older.pk]
    assert response.json()["results"][0]["status"] == "ready"


def test_sellers_do_not_list_model_versions(api_as, seller):
    assert api_as(seller).get("/api/v1/model-versions/").status_code == 403


def test_staff_activate_a_version_and_roll_back(api_as, staff_user):
    # Given an active version and a newer ready one
    first = ready_version("first")
    second = ready_version("second")
    client = api_as(staff_user)
    client.post(f"/api/v1/model-versions/{first.pk}/activate/", {}, format="json")
    # When staff activate the newer one
    activated = client.post(
        f"/api/v1/model-versions/{second.pk}/activate/",
        {"reason": "better F1"},
        format="json",
    )
    # Then it is active and the first retired
    assert activated.status_code == 200
    assert (activated.json()["id"], activated.json()["status"]) == (
        second.pk,
        "active",
    )
    first.refresh_from_db()
    assert first.status == "retired"
    last = ModelActivation.objects.first()
    assert (last.version, last.previous, last.reason, last.activated_by) == (
        second,
        first,
        "better F1",
        staff_user,
    )
    # When they roll back
    rolled = client.post("/api/v1/model-versions/rollback/")
    # Then the first is active again
    assert rolled.status_code == 200
    assert (rolled.json()["id"], rolled.json()["status"]) == (first.pk, "active")


def test_rollback_without_history_is_a_conflict(api_as, staff_user):
    response = api_as(staff_user).post("/api/v1/model-versions/rollback/")
    assert response.status_code == 409
    assert response.json() == error(
        "conflict", "There is no previous model version to roll back to."
    )


def test_activating_an_unfinished_version_is_a_conflict(api_as, staff_user):
    training = ModelVersion.objects.create(name="wip")
    response = api_as(staff_user).post(
        f"/api/v1/model-versions/{training.pk}/activate/"
    )
    assert response.status_code == 409
    assert response.json() == error(
        "conflict", "This model version has not finished training."
    )
    assert api_as(staff_user).post(
        f"/api/v1/model-versions/{training.pk + 1}/activate/"
    ).json() == error("not_found", "Not found.")


@pytest.mark.parametrize("user_fixture", ["seller", "integrator"])
def test_only_staff_activate_or_roll_back(request, api_as, user_fixture):
    version = ready_version("v")
    client = api_as(request.getfixturevalue(user_fixture))
    activate = client.post(f"/api/v1/model-versions/{version.pk}/activate/")
    rollback = client.post("/api/v1/model-versions/rollback/")
    assert (activate.status_code, rollback.status_code) == (403, 403)
    version.refresh_from_db()
    assert version.status == "ready"


# --- datasets/reset/ ---


def test_staff_reset_the_dataset_with_confirmation(api_as, staff_user):
    # Given two confirmed products
    ProductFactory.create_batch(2, confirmed_at=timezone.now())
    # When staff confirm the reset
    response = api_as(staff_user).post(
        "/api/v1/datasets/reset/", {"confirm": True}, format="json"
    )
    # Then a reset covering both is recorded, and no product is deleted
    assert response.status_code == 201
    reset = DatasetReset.objects.get()
    assert response.json() == {
        "id": reset.pk,
        "products_count": 2,
        "created_at": reset.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert (reset.created_by, Product.objects.count()) == (staff_user, 2)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "This field is required."),
        ({"confirm": False}, "Send confirm: true to reset."),
    ],
)
def test_dataset_reset_needs_an_explicit_confirmation(
    api_as, staff_user, payload, message
):
    response = api_as(staff_user).post(
        "/api/v1/datasets/reset/", payload, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"confirm": [message]}
    assert DatasetReset.objects.count() == 0


def test_sellers_do_not_reset_the_dataset(api_as, seller):
    response = api_as(seller).post(
        "/api/v1/datasets/reset/", {"confirm": True}, format="json"
    )
    assert response.status_code == 403
    assert DatasetReset.objects.count() == 0
