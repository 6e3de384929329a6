"""The batch jobs API: staff start, list, read, cancel and resume jobs; sellers and
integrators are refused; bad input is a 400 and writes nothing."""

import random

import pytest

from catalog.models import Product
from ml.models import BatchChunk, BatchJob, BatchResult
from ml.services.batch import batch_chunk_run
from tests.factories import ProductFactory, product_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(training_categories):
    rng = random.Random(2)
    return [
        ProductFactory(
            title=(text := product_text(code, rng))[0],
            description=text[1],
            category=category,
            seller=None,
            source=Product.Source.IMPORT,
        )
        for code, category in sorted(training_categories.items())
        for _ in range(4)
    ]


def _start(client, body, capture):
    with capture(execute=True):
        return client.post("/api/v1/batch-jobs/", body, format="json")


def test_staff_start_a_job_read_its_progress_and_list_it(
    api_as,
    staff_user,
    active_model,
    products,
    sent,
    django_capture_on_commit_callbacks,
):
    client = api_as(staff_user)
    # When staff start a job over every product, in chunks of 5
    response = _start(
        client, {"scope": "all", "chunk_size": 5}, django_capture_on_commit_callbacks
    )
    # Then it is accepted, pending, with its chunks sent
    assert response.status_code == 202
    body = response.json()
    job = BatchJob.objects.get()
    assert body["id"] == job.pk and body["status"] == "pending"
    assert body["model_version"] == {"id": active_model.pk, "name": "text test model"}
    assert body["created_by"] == "staff" and body["scope"] == "all"
    assert body["progress"] == {
        "done": 0,
        "total": 12,
        "percent": 0.0,
        "chunks_done": 0,
        "chunks_total": 3,
        "elapsed_seconds": None,
        "items_per_second": None,
        "eta_seconds": None,
    }
    assert len(sent) == 3
    # When one chunk has run, the detail shows it
    batch_chunk_run(chunk_id=sent[0])
    detail = client.get(f"/api/v1/batch-jobs/{job.pk}/").json()
    assert detail["status"] == "running"
    assert (detail["progress"]["done"], detail["progress"]["percent"]) == (5, 41.7)
    assert detail["progress"]["eta_seconds"] is not None
    assert detail["counts"] == {"results": 5, "applied": 0, "empty": 0}
    # and the list is paginated
    listing = client.get("/api/v1/batch-jobs/").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == job.pk


def test_categories_and_products_scopes_and_a_version_by_id(
    api_as,
    staff_user,
    active_model,
    products,
    training_categories,
    sent,
    django_capture_on_commit_callbacks,
):
    client = api_as(staff_user)
    code = sorted(training_categories)[0]
    response = _start(
        client,
        {
            "scope": "categories",
            "categories": [code],
            "model_version": str(active_model.pk),
            "apply_threshold": 0.9,
        },
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202
    assert response.json()["scope_params"] == {"categories": [code]}
    assert response.json()["apply_threshold"] == 0.9
    assert response.json()["progress"]["total"] == 4
    response = _start(
        client,
        {"scope": "products", "product_ids": [products[0].pk]},
        django_capture_on_commit_callbacks,
    )
    assert response.json()["progress"]["total"] == 1


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"scope": "nothing"}, "invalid", "The request is not valid."),
        ({"scope": "all", "chunk_size": 0}, "invalid", "The request is not valid."),
        (
            {"scope": "categories"},
            "invalid",
            "Give categories as a non-empty list of category codes.",
        ),
        (
            {"scope": "categories", "categories": ["NOPE"]},
            "invalid",
            "Unknown category: NOPE.",
        ),
        (
            {"scope": "all", "model_version": "999"},
            "invalid",
            "No trained model version #999.",
        ),
        (
            {"scope": "all", "apply_threshold": 2},
            "invalid",
            "The request is not valid.",
        ),
    ],
)
def test_bad_input_is_a_400_and_nothing_is_written(
    api_as,
    staff_user,
    active_model,
    products,
    sent,
    django_capture_on_commit_callbacks,
    body,
    code,
    message,
):
    response = _start(api_as(staff_user), body, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["message"]) == (
        code,
        message,
    )
    assert (BatchJob.objects.count(), BatchChunk.objects.count(), sent) == (0, 0, [])


def test_cancel_and_resume(
    api_as, staff_user, active_model, products, sent, django_capture_on_commit_callbacks
):
    client = api_as(staff_user)
    job_id = _start(
        client, {"scope": "all", "chunk_size": 6}, django_capture_on_commit_callbacks
    ).json()["id"]
    batch_chunk_run(chunk_id=sent[0])
    # When staff cancel it, its other chunk is skipped
    response = client.post(f"/api/v1/batch-jobs/{job_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert batch_chunk_run(chunk_id=sent[1]) == "skipped"
    # and a second cancel is a conflict
    again = client.post(f"/api/v1/batch-jobs/{job_id}/cancel/")
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "conflict",
        "message": "The job is cancelled: there is nothing to cancel.",
        "fields": {},
    }
    # When they resume it, the pending chunk is sent again and the job finishes
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/batch-jobs/{job_id}/resume/")
    assert response.status_code == 200 and response.json()["status"] == "running"
    assert sent == [BatchChunk.objects.get(job_id=job_id, index=1).pk]
    batch_chunk_run(chunk_id=sent[0])
    detail = client.get(f"/api/v1/batch-jobs/{job_id}/").json()
    assert detail["status"] == "finished" and detail["progress"]["done"] == 12
    assert client.post(f"/api/v1/batch-jobs/{job_id}/cancel/").status_code == 409
    assert client.post(f"/api/v1/batch-jobs/{job_id}/resume/").status_code == 409
    assert BatchResult.objects.filter(job_id=job_id).count() == 12


@pytest.mark.parametrize("who", ["seller", "integrator"])
def test_sellers_and_integrators_are_refused(
    request, api_as, who, active_model, products, sent
):
    user = request.getfixturevalue(who)
    job = BatchJob.objects.create(scope="all", model_version=active_model)
    client = api_as(user)
    calls = [
        client.get("/api/v1/batch-jobs/"),
        client.post("/api/v1/batch-jobs/", {"scope": "all"}, format="json"),
        client.get(f"/api/v1/batch-jobs/{job.pk}/"),
        client.post(f"/api/v1/batch-jobs/{job.pk}/cancel/"),
        client.post(f"/api/v1/batch-jobs/{job.pk}/resume/"),
    ]
    assert [r.status_code for r in calls] == [403] * 5
    job.refresh_from_db()
    assert (job.status, BatchJob.objects.count(), sent) == ("pending", 1, [])


def test_anonymous_is_401_and_an_unknown_job_404(anonymous_client, api_as, staff_user):
    assert anonymous_client.get("/api/v1/batch-jobs/").status_code == 401
    assert api_as(staff_user).get("/api/v1/batch-jobs/999/").status_code == 404
    assert api_as(staff_user).post("/api/v1/batch-jobs/999/cancel/").status_code == 404
