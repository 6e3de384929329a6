"""Promotion between environments: a bundle trained elsewhere (preprod), copied into
this environment, registered by its sha256 (``model_version_import`` and the
``import_model`` command) and then activated; a bundle that does not match its
sha256 is refused and registers nothing."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from ml.models import ModelVersion
from ml.services.model_versions import model_version_activate, model_version_import
from rakuten.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def copied_bundle(trained_bundle, tmp_path):
    """The session's bundle as another environment would receive it: its folder
    copied, under the same name, into this environment's artefacts."""
    source = Path(trained_bundle["bundle_path"])
    target = tmp_path / "prod-ml" / "bundles" / source.name
    shutil.copytree(source, target)
    return target


def test_a_copied_bundle_is_registered_as_trained_and_can_be_activated(
    trained_bundle, copied_bundle, training_categories
):
    # When the bundle is imported by its sha256
    version = model_version_import(
        bundle_path=str(copied_bundle), sha256=trained_bundle["bundle_sha256"]
    )
    # Then it is a ready version with the figures it was trained with
    assert version.status == ModelVersion.Status.READY
    assert version.name == f"imported {trained_bundle['bundle_sha256'][:12]}"
    assert version.bundle_path == str(copied_bundle.resolve())
    for field in ("bundle_sha256", "backbone", "label_codes", "metrics", "lineage"):
        assert getattr(version, field) == trained_bundle[field], field
    assert version.fusion_weight == pytest.approx(trained_bundle["fusion_weight"])
    assert AuditEvent.objects.filter(verb="model_version.imported").count() == 1
    # and importing it again returns the same version
    again = model_version_import(
        bundle_path=str(copied_bundle), sha256=trained_bundle["bundle_sha256"]
    )
    assert again.pk == version.pk
    assert ModelVersion.objects.count() == 1
    # When it is activated
    active = model_version_activate(version=version, reason="promoted from preprod")
    assert active.status == ModelVersion.Status.ACTIVE


def test_a_bundle_that_does_not_match_its_sha256_is_refused(
    trained_bundle, copied_bundle
):
    # Given a copied bundle with one file altered
    (copied_bundle / "bundle.json").write_text('{"labels": []}')
    # When it is imported
    with pytest.raises(ApplicationError, match="Bundle refused"):
        model_version_import(
            bundle_path=str(copied_bundle), sha256=trained_bundle["bundle_sha256"]
        )
    # Then nothing was registered
    assert ModelVersion.objects.count() == 0
    assert not AuditEvent.objects.filter(verb="model_version.imported").exists()


def test_the_import_model_command(trained_bundle, copied_bundle):
    out = StringIO()
    call_command(
        "import_model",
        str(copied_bundle),
        sha256=trained_bundle["bundle_sha256"],
        name="from preprod",
        stdout=out,
    )
    version = ModelVersion.objects.get()
    assert out.getvalue() == f"model version #{version.pk} from preprod (Ready)\n"
    with pytest.raises(CommandError, match="Bundle refused"):
        call_command("import_model", str(copied_bundle), sha256="0" * 64)
    assert ModelVersion.objects.count() == 1
