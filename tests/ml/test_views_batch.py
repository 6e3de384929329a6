"""The staff page of batch jobs: start one, watch its progress, cancel and resume;
sellers are refused."""

import random

import pytest

from catalog.models import Product
from ml.models import BatchChunk, BatchJob
from ml.services.batch import batch_chunk_run
from tests.factories import ProductFactory, product_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(training_categories):
    rng = random.Random(4)
    for code, category in sorted(training_categories.items()):
        for _ in range(3):
            title, description = product_text(code, rng)
            ProductFactory(
                title=title,
                description=description,
                category=category,
                seller=None,
                source=Product.Source.IMPORT,
            )


def test_staff_start_a_job_and_follow_it(
    client_logged_in_as,
    staff_user,
    active_model,
    products,
    training_categories,
    sent,
    django_capture_on_commit_callbacks,
):
    client = client_logged_in_as(staff_user)
    page = client.get("/staff/batch-jobs/")
    assert page.status_code == 200
    assert b"No batch job yet." in page.content
    assert b'href="/staff/batch-jobs/"' in page.content  # in the staff nav
    code = sorted(training_categories)[0]
    # When staff start a job over one category, in chunks of 2
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/staff/batch-jobs/",
            {"scope": "categories", "categories": f" {code} ,", "chunk_size": "2"},
        )
    job = BatchJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/batch-jobs/{job.pk}/"
    assert job.scope_params == {"categories": [code]}
    assert (job.total, job.chunks_total) == (3, 2)
    assert len(sent) == 2
    # Then its page shows the progress, polled while it runs
    batch_chunk_run(chunk_id=sent[0])
    html = client.get(f"/staff/batch-jobs/{job.pk}/").content.decode()
    assert "2/3 products · 1/2 chunks" in html
    assert f'hx-get="/staff/batch-jobs/{job.pk}/progress/"' in html
    assert "2 written, 0 applied, 0 with nothing to predict from" in html
    partial = client.get(f"/staff/batch-jobs/{job.pk}/progress/").content.decode()
    assert "66.7%" in partial
    # When they cancel it, then resume it
    response = client.post(f"/staff/batch-jobs/{job.pk}/cancel/", follow=True)
    assert f"Batch job #{job.pk} is cancelled." in response.content.decode()
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/batch-jobs/{job.pk}/resume/", follow=True)
    assert f"Batch job #{job.pk} is running." in response.content.decode()
    assert sent == [BatchChunk.objects.get(job=job, index=1).pk]
    batch_chunk_run(chunk_id=sent[0])
    html = client.get(f"/staff/batch-jobs/{job.pk}/").content.decode()
    assert "3/3 products · 2/2 chunks" in html and "hx-get" not in html
    # and a finished job cannot be cancelled: the page says so
    response = client.post(f"/staff/batch-jobs/{job.pk}/cancel/", follow=True)
    assert "The job is finished: there is nothing to cancel." in (
        response.content.decode()
    )
    listing = client.get("/staff/batch-jobs/").content.decode()
    assert f'href="/staff/batch-jobs/{job.pk}/"' in listing


def test_form_errors_write_nothing(
    client_logged_in_as, staff_user, active_model, products, sent
):
    client = client_logged_in_as(staff_user)
    response = client.post("/staff/batch-jobs/", {"scope": "categories"})
    assert response.status_code == 200
    assert "Give at least one category code." in response.content.decode()
    response = client.post(
        "/staff/batch-jobs/", {"scope": "categories", "categories": "NOPE"}
    )
    assert "Unknown category: NOPE." in response.content.decode()
    assert (BatchJob.objects.count(), sent) == (0, [])


def test_sellers_are_refused_and_anonymous_sent_to_log_in(
    client_logged_in_as, seller, active_model, client
):
    job = BatchJob.objects.create(scope="all", model_version=active_model)
    seller_client = client_logged_in_as(seller)
    for url in ("/staff/batch-jobs/", f"/staff/batch-jobs/{job.pk}/"):
        assert seller_client.get(url).status_code == 403
    assert seller_client.post(f"/staff/batch-jobs/{job.pk}/cancel/").status_code == 403
    assert client.get("/staff/batch-jobs/").status_code == 302
    job.refresh_from_db()
    assert job.status == "pending"
