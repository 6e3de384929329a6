"""The Kubernetes manifests (deploy/k8s): each overlay rendered (tools/k8s_render.py,
kustomize's subset the manifests use) and every document validated against the
Kubernetes API's schemas with kubernetes-validate, strictly (unknown fields refused),
for KUBERNETES_VERSION; then what the environments must share and where they differ."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

from tools.k8s_render import RenderError, env_file_read, render

KUBERNETES_VERSION = "1.33.0"
K8S = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
OVERLAYS = ("dev", "preprod", "prod")
EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
EXPECTED = {
    ("PersistentVolumeClaim", "rakuten-data"),
    ("Deployment", "web"),
    ("Service", "web"),
    ("Deployment", "worker-default"),
    ("Deployment", "worker-ml"),
    ("Deployment", "worker-batch"),
    ("Deployment", "worker-watchdog"),
    ("Deployment", "beat"),
    ("Job", "migrate"),
    ("ConfigMap", "rakuten-config"),
}


def _by_name(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def _container(doc: dict) -> dict:
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_of_each_overlay_is_valid_kubernetes(overlay):
    docs = render(K8S / "overlays" / overlay)
    assert {(doc["kind"], doc["metadata"]["name"]) for doc in docs} == EXPECTED
    assert len(docs) == len(EXPECTED)
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_wrong_field_is_caught_by_the_validation():
    # Given a rendered Deployment with a misspelt field, and one with a wrong type
    web = _by_name(render(K8S / "overlays" / "prod"))[("Deployment", "web")]
    misspelt = yaml.safe_load(yaml.safe_dump(web))
    misspelt["spec"]["replica"] = 3
    wrong_type = yaml.safe_load(yaml.safe_dump(web))
    wrong_type["spec"]["replicas"] = "three"
    # Then both are refused
    for doc in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_has_its_namespace_image_and_one_beat(overlay):
    docs = _by_name(render(K8S / "overlays" / overlay))
    kustomization = K8S / "overlays" / overlay / "kustomization.yaml"
    spec = yaml.safe_load(kustomization.read_text())
    (image,) = spec["images"]
    assert {doc["metadata"]["namespace"] for doc in docs.values()} == {
        f"rakuten-{overlay}"
    }
    for (kind, _), doc in docs.items():
        if kind in ("Deployment", "Job"):
            assert _container(doc)["image"] == (
                f"registry.example.com/rakuten:{image['newTag']}"
            )
            refs = _container(doc)["envFrom"]
            assert refs == [
                {"configMapRef": {"name": "rakuten-config"}},
                {"secretRef": {"name": "rakuten-secrets"}},
            ]
    beat = docs[("Deployment", "beat")]
    assert (beat["spec"]["replicas"], beat["spec"]["strategy"]["type"]) == (
        1,
        "Recreate",
    )
    assert _container(docs[("Job", "migrate")])["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]


def test_every_queue_the_settings_route_to_has_a_worker():
    docs = _by_name(render(K8S / "overlays" / "prod"))
    consumed = {}
    for (_, name), doc in docs.items():
        if name.startswith("worker-"):
            command = _container(doc)["command"]
            consumed[name] = command[command.index("-Q") + 1]
    routed = {settings.CELERY_TASK_DEFAULT_QUEUE} | {
        route["queue"] for route in settings.CELERY_TASK_ROUTES.values()
    }
    assert consumed == {
        "worker-default": "default",
        "worker-ml": "ml",
        "worker-batch": "batch",
        "worker-watchdog": "watchdog",
    }
    assert routed <= set(consumed.values())


def test_the_environments_differ_in_sizes_and_configuration_only():
    dev, preprod, prod = (
        _by_name(render(K8S / "overlays" / overlay)) for overlay in OVERLAYS
    )

    def ml_memory(docs):
        return _container(docs[("Deployment", "worker-ml")])["resources"]["limits"]

    assert [
        d[("Deployment", "web")]["spec"]["replicas"] for d in (dev, preprod, prod)
    ] == [1, 2, 3]
    assert [ml_memory(d) for d in (dev, preprod, prod)] == [
        {"memory": "6Gi"},
        {"memory": "12Gi"},
        {"memory": "16Gi"},
    ]
    # the patch merged the ml worker's container by name: its command is the base's
    assert (
        _container(prod[("Deployment", "worker-ml")])["command"]
        == _container(preprod[("Deployment", "worker-ml")])["command"]
    )
    # every environment runs the production settings, with its own MLflow names
    for docs, name in ((dev, "dev"), (preprod, "preprod"), (prod, "prod")):
        config = docs[("ConfigMap", "rakuten-config")]["data"]
        assert config["DJANGO_SETTINGS_MODULE"] == "rakuten.settings.production"
        assert config["MLFLOW_EXPERIMENT_NAME"] == f"rakuten-{name}"
        assert "DJANGO_SECRET_KEY" not in config and "DATABASE_URL" not in config


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_environments_variables_are_settings_the_platform_reads(overlay):
    # .env.example lists every variable the platform reads (tests/test_env_example.py)
    known = {
        line.lstrip("#").split("=", 1)[0]
        for line in EXAMPLE.read_text().splitlines()
        if "=" in line and line.lstrip("#")[:1].isupper()
    }
    variables = env_file_read(K8S / "overlays" / overlay / "config.env")
    assert set(variables) - known == set()


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\ncommonLabels:\n  team: ml\n"
    )
    with pytest.raises(RenderError, match="commonLabels"):
        render(tmp_path)
