"""The admin of every app: changelists and change pages show the real rows (and the
search keeps only the matching ones); the ML lists' badges, and the actions that call
the services."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from audit.models import AuditEvent
from ml.models import (
    Alert,
    DatasetReset,
    MetricSnapshot,
    ModelActivation,
    TrainingRun,
)
from tests.factories import (
    CategoryFactory,
    ModelVersionFactory,
    PredictionFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client_logged_in_as):
    return client_logged_in_as(
        UserFactory(username="root", is_superuser=True, is_staff=True)
    )


def changelist_url(model) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


# Each builder makes a row that the search ``"zebra"`` finds and one it does not, and
# returns ``(match, other, texts)``: ``texts`` are what the match's line shows.


def _user_rows():
    match = UserFactory(username="zebra-seller", email="zebra@example.com")
    other = UserFactory(username="plain-seller")
    return match, other, ["zebra-seller", "zebra@example.com"]


def _category_rows():
    match = CategoryFactory(code="97001", name="Zebra stuff")
    ProductFactory.create_batch(2, category=match)
    other = CategoryFactory(code="97002", name="Garden")
    return match, other, ["Zebra stuff", '<td class="field-product_count">2</td>']


def _product_rows():
    match = ProductFactory(title="Zebra hammock", category__name="Hammocks")
    other = ProductFactory(title="Garden chair")
    return match, other, ["Zebra hammock", "Hammocks"]


def _audit_rows():
    actor = UserFactory(username="auditor", role=User.Role.STAFF)
    match = AuditEvent.objects.create(
        actor=actor,
        verb="product.created",
        object_type="product",
        object_id="7",
        message="zebra hammock listed",
    )
    other = AuditEvent.objects.create(verb="category.merged", message="routine")
    return match, other, ["zebra hammock listed", "product.created", "auditor"]


def _model_version_rows():
    match = ModelVersionFactory(name="zebra model", backbone="vgg16")
    other = ModelVersionFactory(name="plain model")
    return match, other, ["zebra model", "vgg16"]


def _training_run_rows():
    match = TrainingRun.objects.create(
        status="failed", kind="incremental", error="zebra: out of memory"
    )
    other = TrainingRun.objects.create(status="succeeded", error="")
    return match, other, ["Failed", "Incremental"]


def _prediction_rows():
    match = PredictionFactory(
        product=ProductFactory(title="Zebra hammock"),
        predicted_category__name="Hammocks",
    )
    other = PredictionFactory(predicted_category__name="Garden")
    return match, other, ["Zebra hammock", "Hammocks", "80%"]


def _activation_rows():
    match = ModelActivation.objects.create(
        version=ModelVersionFactory(name="zebra model"), reason="better on zebras"
    )
    other = ModelActivation.objects.create(
        version=ModelVersionFactory(name="plain model"), reason="routine"
    )
    return match, other, ["zebra model", "better on zebras"]


def _dataset_reset_rows():
    match = DatasetReset.objects.create(
        created_by=UserFactory(username="zebra-staff", role=User.Role.STAFF),
        products_count=4321,
    )
    other = DatasetReset.objects.create(
        created_by=UserFactory(username="plain-staff", role=User.Role.STAFF),
        products_count=17,
    )
    return match, other, ["zebra-staff", "4321"]


@pytest.mark.parametrize(
    "rows",
    [
        _user_rows,
        _category_rows,
        _product_rows,
        _audit_rows,
        _model_version_rows,
        _training_run_rows,
        _prediction_rows,
        _activation_rows,
        _dataset_reset_rows,
    ],
    ids=lambda rows: rows.__name__.strip("_").removesuffix("_rows"),
)
def test_changelist_search_lists_the_matching_rows_only(admin_client, rows):
    # Given a row the search finds and one it does not
    match, other, texts = rows()
    model = type(match)
    # When the admin lists the model, then searches it
    everything = admin_client.get(changelist_url(model))
    found = admin_client.get(changelist_url(model), {"q": "zebra"})
    # Then the full list has both rows, the search only the match, with its columns
    assert everything.status_code == found.status_code == 200
    assert {match, other} <= set(everything.context["cl"].result_list)
    assert list(found.context["cl"].result_list) == [match]
    assert found.context["cl"].result_count == 1
    html = found.content.decode()
    assert change_url(match) in html
    assert change_url(other) not in html
    for text in texts:
        assert text in html


def test_snapshots_and_alerts_are_listed_with_their_figures(admin_client):
    version = ModelVersionFactory(name="zebra model")
    snapshot = MetricSnapshot.objects.create(
        model_version=version, window_days=7, count=321, weighted_f1=0.6543
    )
    alert = Alert.objects.create(
        kind=Alert.Kind.GLOBAL,
        model_version=version,
        snapshot=snapshot,
        value=0.6543,
        threshold=0.8,
        message="The live weighted F1 fell to 0.654",
    )

    snapshots = admin_client.get(changelist_url(MetricSnapshot))
    alerts = admin_client.get(changelist_url(Alert))

    assert list(snapshots.context["cl"].result_list) == [snapshot]
    html = snapshots.content.decode()
    assert "zebra model" in html and "321" in html and "0.6543" in html
    assert list(alerts.context["cl"].result_list) == [alert]
    html = alerts.content.decode()
    assert "The live weighted F1 fell to 0.654" in html and "zebra model" in html


@pytest.mark.parametrize(
    "rows",
    [
        _user_rows,
        _category_rows,
        _product_rows,
        _audit_rows,
        _model_version_rows,
        _training_run_rows,
        _prediction_rows,
        _activation_rows,
        _dataset_reset_rows,
    ],
    ids=lambda rows: rows.__name__.strip("_").removesuffix("_rows"),
)
def test_change_page_shows_the_row(admin_client, rows):
    match, _, _ = rows()

    response = admin_client.get(change_url(match))

    assert response.status_code == 200
    assert response.context["original"] == match
    assert escape(str(match)) in response.content.decode()


def test_version_list_shows_the_demo_badge_and_the_warning(admin_client):
    ModelVersionFactory(name="demo v", is_demo=True, warning="random weights")
    html = admin_client.get("/admin/ml/modelversion/").content.decode()
    assert ">demo model</span>" in html
    assert 'title="random weights">warning</span>' in html


def test_activate_action_calls_the_service(admin_client):
    old = ModelVersionFactory(status="active", active_marker=True)
    new = ModelVersionFactory()
    # When the admin runs "activate" on the new version
    response = admin_client.post(
        "/admin/ml/modelversion/",
        {"action": "activate", "_selected_action": [new.pk]},
        follow=True,
    )
    # Then it is active, the old one retired, and the activation recorded
    new.refresh_from_db()
    old.refresh_from_db()
    assert (new.status, old.status) == ("active", "retired")
    activation = ModelActivation.objects.get()
    assert (activation.version, activation.reason) == (new, "activated from the admin")
    assert "is now the active model." in response.content.decode()


def test_activate_action_needs_exactly_one_version(admin_client):
    versions = ModelVersionFactory.create_batch(2)
    response = admin_client.post(
        "/admin/ml/modelversion/",
        {"action": "activate", "_selected_action": [v.pk for v in versions]},
        follow=True,
    )
    assert b"Select exactly one version to activate." in response.content
    assert ModelActivation.objects.count() == 0


def test_restart_action_starts_a_run_with_the_same_options(
    admin_client, django_capture_on_commit_callbacks
):
    old = TrainingRun.objects.create(
        status="failed",
        kind="full",
        parameters={
            "backbone": "vgg16",
            "text_only": False,
            "epochs": 4,
            "activate": True,
            "allow_random_backbone": True,
            "is_demo": True,
        },
    )
    # When the admin runs "start a new training run" on it
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(
            "/admin/ml/trainingrun/",
            {"action": "restart", "_selected_action": [old.pk]},
        )
    # Then a new run is queued with the same user-facing options
    new = TrainingRun.objects.exclude(pk=old.pk).get()
    assert (new.status, new.kind, new.created_by.username) == ("queued", "full", "root")
    assert new.parameters == {
        "backbone": "vgg16",
        "text_only": False,
        "epochs": 4,
        "activate": True,
        "allow_random_backbone": True,
    }
    assert len(callbacks) == 1
