"""The three entry points fall back to the same settings module, and the container
files never rely on that fallback."""

import ast
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
ENTRY_POINTS = ("manage.py", "rakuten/wsgi.py", "rakuten/celery.py")


def settings_default(path: Path) -> list[str]:
    """The values of every ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and ast.unparse(node.func.value) == "os.environ"
            and len(node.args) == 2
            and ast.literal_eval(node.args[0]) == "DJANGO_SETTINGS_MODULE"
        ):
            found.append(ast.literal_eval(node.args[1]))
    return found


def test_manage_wsgi_and_celery_default_to_the_same_settings():
    # Given manage.py, rakuten/wsgi.py and rakuten/celery.py
    defaults = {name: settings_default(BASE_DIR / name) for name in ENTRY_POINTS}
    # Then each sets one default, the same one: the local settings
    assert defaults == {name: ["rakuten.settings.local"] for name in ENTRY_POINTS}


def test_the_container_files_set_the_production_settings_explicitly():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert re.search(
        r"^\s*DJANGO_SETTINGS_MODULE=rakuten\.settings\.production\b",
        dockerfile,
        re.MULTILINE,
    )
    assert re.search(
        r"^\s*DJANGO_SETTINGS_MODULE: rakuten\.settings\.production\s*$",
        compose,
        re.MULTILINE,
    )
