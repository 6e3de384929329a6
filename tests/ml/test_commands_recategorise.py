"""``manage.py recategorise``: a batch job from the command line, its progress bar
with ``--wait``, and one-line errors."""

import io
import random
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product
from ml.models import BatchChunk, BatchJob, BatchResult
from rakuten.celery import app
from tests.factories import ProductFactory, product_text
from tests.workers import BASE_DIR


@pytest.fixture
def eager():
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def products(training_categories):
    rng = random.Random(1)
    for i in range(12):
        code = sorted(training_categories)[i % 3]
        title, description = product_text(code, rng)
        ProductFactory(
            title=title,
            description=description,
            category=training_categories[code],
            seller=None,
            source=Product.Source.IMPORT,
        )


def test_recategorise_all_waits_and_prints_a_progress_bar(
    restore_migration_data,
    transactional_db,
    django_db_serialized_rollback,
    active_model,
    products,
    eager,
):
    # When every product is re-predicted in chunks of 5 (the chunks run eagerly)
    out = io.StringIO()
    call_command(
        "recategorise",
        "--scope",
        "all",
        "--chunk-size",
        "5",
        "--wait",
        "--poll-seconds",
        "0.01",
        stdout=out,
    )
    # Then the job finished with one result per product, and the output says so
    job = BatchJob.objects.get()
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"batch job #{job.pk}: 12 products in 3 chunks with model version "
        f"#{active_model.pk} (finished)"
    )
    assert lines[1].startswith(f"[{'#' * 30}] 12/12 (100.0%) ")
    assert lines[1].endswith(" finished") and " products/s" in lines[1]
    assert len(lines) == 2
    assert BatchResult.objects.filter(job=job).count() == 12


@pytest.mark.django_db
def test_recategorise_categories_without_wait_queues_the_job(
    active_model, products, training_categories, django_capture_on_commit_callbacks
):
    code = sorted(training_categories)[1]
    out = io.StringIO()
    call_command(
        "recategorise",
        "--scope",
        f"category:{code}",
        "--version",
        str(active_model.pk),
        stdout=out,
    )
    job = BatchJob.objects.get()
    assert (job.scope, job.scope_params, job.status) == (
        "categories",
        {"categories": [code]},
        "pending",
    )
    assert out.getvalue() == (
        f"batch job #{job.pk}: 4 products in 1 chunks with model version "
        f"#{active_model.pk} (pending)\n"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scope", "some"],
            "Invalid scope 'some': give all, unlabelled or category:CODE[,CODE].",
        ),
        (["--scope", "category:"], "Invalid scope 'category:'"),
        (["--scope", "category:NOPE"], "Unknown category: NOPE."),
        (["--scope", "all", "--version", "999"], "No trained model version #999."),
        (["--scope", "all", "--version", "x"], "Invalid model version 'x'"),
        (["--scope", "all", "--chunk-size", "0"], "The chunk size must be"),
    ],
)
def test_bad_arguments_are_one_line_errors(active_model, products, args, message):
    with pytest.raises(CommandError) as info:
        call_command("recategorise", *args)
    assert str(info.value).startswith(message)
    assert (BatchJob.objects.count(), BatchChunk.objects.count()) == (0, 0)


def test_a_bad_scope_exits_non_zero_with_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "recategorise", "--scope", "nothing"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "DJANGO_SETTINGS_MODULE": "rakuten.settings.test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert done.returncode == 1
    # (the last line: an app may log its start before)
    assert done.stderr.strip().splitlines()[-1] == (
        "CommandError: Invalid scope 'nothing': give all, unlabelled or "
        "category:CODE[,CODE]."
    )
