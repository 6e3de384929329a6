"""The production build, end to end: ``collectstatic`` with the production settings in
a fresh process (as the Dockerfile runs it), then every page served with the
production settings and the manifest storage that collectstatic wrote, as an
anonymous visitor, a seller, staff and a superuser. No page may answer a 5xx (a static
file missing from the manifest is a 500 on every page), and every static file a page
links is served under its hashed name.

The real production command (gunicorn on MariaDB and Redis) is smoke-tested by
``.ci/run`` (tools/production_smoke.sh)."""

import importlib.util
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver, reverse

from accounts.models import User
from ml.models import Alert, ModelVersion, TrainingRun
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.images import jpeg_bytes

BASE_DIR = Path(__file__).resolve().parents[1]
VENDORED = BASE_DIR / "static" / "vendor"
# Test-only settings that production does not set: their production value is the
# library's default.
TEST_ONLY_DEFAULTS = {"WHITENOISE_USE_FINDERS": False}
# Kept from the test settings: the test database and broker, the test's own folders,
# fast password hashing.
KEPT = {
    # the test's cache: production's database cache has its table only where migrate
    # ran with it (CI's gunicorn smoke test runs the real one)
    "CACHES",
    "DATABASES",
    "CELERY_BROKER_URL",
    "MEDIA_ROOT",
    "ML_ARTIFACTS_DIR",
    "EMAIL_BACKEND",
    "PASSWORD_HASHERS",
}
HOST = "localhost"  # in production's default DJANGO_ALLOWED_HOSTS


def production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="rakuten.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_DEBUG="false",
        **extra,
    )
    return env


def test_no_vendored_file_references_a_source_map():
    # The maps are not vendored: a reference to one fails the manifest storage.
    referencing = [
        str(path.relative_to(BASE_DIR))
        for path in VENDORED.rglob("*")
        if path.suffix in {".js", ".css"} and b"sourceMappingURL" in path.read_bytes()
    ]
    assert referencing == []


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """collectstatic with the production settings, as the Dockerfile runs it."""
    root = tmp_path_factory.mktemp("staticfiles")
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=BASE_DIR,
        env=production_env(DJANGO_STATIC_ROOT=str(root)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "post-processed" in result.stdout
    assert (root / "staticfiles.json").is_file()
    return root


def production_settings(static_root: Path) -> dict:
    """The production module's settings (loaded with a secret in the environment),
    those that differ from the running test settings, with STATIC_ROOT where
    collectstatic wrote."""
    spec = importlib.util.find_spec("rakuten.settings.production")
    module = importlib.util.module_from_spec(spec)
    saved = os.environ.get("DJANGO_SECRET_KEY")
    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(64)
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del os.environ["DJANGO_SECRET_KEY"]
        else:
            os.environ["DJANGO_SECRET_KEY"] = saved
    production = {name: getattr(module, name) for name in dir(module) if name.isupper()}
    test_module = importlib.import_module("rakuten.settings.test")
    test_only = {n for n in dir(test_module) if n.isupper()} - set(production)
    assert test_only <= set(TEST_ONLY_DEFAULTS), test_only
    wanted = {**TEST_ONLY_DEFAULTS, **production, "STATIC_ROOT": str(static_root)}
    assert wanted["STORAGES"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    return {
        name: value
        for name, value in wanted.items()
        if name not in KEPT and getattr(django_settings, name, object()) != value
    }


def https_client(user: User | None = None) -> Client:
    """A client as the TLS proxy forwards it (production redirects plain HTTP)."""
    client = Client(SERVER_NAME=HOST, headers={"X-Forwarded-Proto": "https"})
    if user is not None:
        client.force_login(user)
    return client


# --- The pages ------------------------------------------------------------------------

SKIPPED_ROUTES = {"api-not-found"}  # the API's catch-all pattern (^.*$)


def argless_routes() -> list[str]:
    """The path of every route without a parameter, outside the admin."""
    found: list[str] = []

    def walk(patterns, namespace: str):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace == "admin":
                    continue
                inner = entry.namespace or ""
                walk(entry.url_patterns, f"{namespace}:{inner}".strip(":") or "")
            elif not entry.pattern.regex.groupindex and entry.name:
                if entry.name in SKIPPED_ROUTES:
                    continue
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found.append(reverse(name))

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


def object_pages(seller) -> list[str]:
    category = CategoryFactory()
    product = ProductFactory(seller=seller, category=category)
    product.image.save("p.jpg", ContentFile(jpeg_bytes()))
    pool = ProductFactory(seller=None, category=None, source="import")
    pool.image.save("p.jpg", ContentFile(jpeg_bytes()))
    run = TrainingRun.objects.create()
    return [
        reverse("catalog:product_detail", args=[product.pk]),
        reverse("catalog:product_photo", args=[product.pk]),
        reverse("catalog:product_edit", args=[product.pk]),
        reverse("catalog:product_delete", args=[product.pk]),
        reverse("catalog:proposal_photo", args=[pool.pk]),
        reverse("ml:training_progress", args=[run.pk]),
        reverse("api-product", args=[product.pk]),
        "/products/new/?propose=1",
        "/staff/performance/?days=7",
        "/no/such/page/",
    ]


def admin_pages() -> list[str]:
    from django.contrib import admin

    pages = [reverse("admin:index"), reverse("admin:password_change")]
    for model in admin.site._registry:
        opts = model._meta
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        row = model._default_manager.first()
        if row is not None:
            pages.append(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]
                )
            )
    return pages


STATIC_LINK = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)""")


@pytest.mark.django_db
def test_every_page_answers_under_the_production_settings(static_root, seller):
    staff = UserFactory(username="prod-staff", role=User.Role.STAFF)
    root = UserFactory(
        username="prod-root", role=User.Role.STAFF, is_superuser=True, is_staff=True
    )
    version = ModelVersion.objects.create(name="v1", status=ModelVersion.Status.ACTIVE)
    Alert.objects.create(
        kind=Alert.Kind.GLOBAL,
        model_version=version,
        value=0.5,
        threshold=0.7,
        message="F1 dropped",
    )
    pages = argless_routes() + object_pages(seller)
    with override_settings(**production_settings(static_root)):
        clients = {
            "anonymous": https_client(),
            "seller": https_client(seller),
            "staff": https_client(staff),
            "superuser": https_client(root),
        }
        answers: dict[tuple[str, str], int] = {}
        static_links: set[str] = set()
        for role, client in clients.items():
            role_pages = pages + (admin_pages() if role != "anonymous" else [])
            for page in role_pages:
                response = client.get(page)
                answers[(role, page)] = response.status_code
                if response.get("Content-Type", "").startswith("text/html"):
                    static_links |= set(STATIC_LINK.findall(response.content.decode()))
        # Then no page is a server error
        errors = {key: code for key, code in answers.items() if code >= 500}
        assert errors == {}
        # and the main pages answer 200 or a redirect to the log-in
        expected = {
            ("anonymous", "/"): 200,
            ("anonymous", "/accounts/login/"): 200,
            ("anonymous", "/accounts/signup/"): 200,
            ("anonymous", "/products/"): 302,
            ("anonymous", "/staff/performance/"): 302,
            ("anonymous", "/healthz"): 200,
            ("anonymous", "/api/v1/docs/"): 200,
            ("anonymous", "/no/such/page/"): 404,
            ("seller", "/"): 200,
            ("seller", "/products/"): 200,
            ("seller", "/products/new/"): 200,
            ("seller", "/products/new/?propose=1"): 200,
            ("seller", "/accounts/password/"): 200,
            ("seller", "/staff/training/"): 403,
            ("seller", "/admin/"): 302,
            ("staff", "/products/"): 200,
            ("staff", "/staff/performance/?days=7"): 200,
            ("staff", "/staff/training/"): 200,
            ("staff", "/staff/models/"): 200,
            ("staff", "/staff/categories/"): 200,
            ("staff", "/staff/datasets/"): 200,
            ("staff", "/staff/audit/"): 200,
            ("staff", "/admin/"): 200,
            ("superuser", "/admin/"): 200,
        }
        assert {key: answers[key] for key in expected} == expected
        # with the Content-Security-Policy
        policy = clients["anonymous"].get("/")["Content-Security-Policy"]
        # django-csp does not keep the directives' order: compare them as a set
        assert "script-src 'self'" in {d.strip() for d in policy.split(";")}
        product_pages = [
            p for p in pages if p.startswith("/products/") and "/edit/" in p
        ]
        assert answers[("seller", product_pages[0])] == 200
        # Every static file the pages link is served, under its hashed name
        assert static_links
        unhashed = [
            link for link in static_links if not re.search(r"\.[0-9a-f]{12}\.", link)
        ]
        assert unhashed == []
        client = clients["anonymous"]
        missing = {link: client.get(link).status_code for link in sorted(static_links)}
        assert {link: code for link, code in missing.items() if code != 200} == {}


def test_production_serves_with_gunicorn_everywhere():
    # The Dockerfile's command, compose's web service, run_platform without DEBUG and
    # CI's smoke test all run gunicorn with the same options; nothing runs runserver.
    from ml.management.commands.run_platform import GUNICORN_ARGS

    options = " ".join(GUNICORN_ARGS)
    assert options == "--workers 2 --threads 4 --timeout 60"
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert " ".join(json.loads(cmd.removeprefix("CMD "))) == (
        f"gunicorn rakuten.wsgi --bind 0.0.0.0:8000 {options}"
    )
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert f"gunicorn rakuten.wsgi --bind 0.0.0.0:8000 {options}" in compose
    smoke = (BASE_DIR / "tools" / "production_smoke.sh").read_text()
    assert f'--bind "127.0.0.1:$PORT" {options}' in smoke.replace("\\\n  ", "")
    for text in (dockerfile, compose, smoke):
        assert "runserver" not in text
