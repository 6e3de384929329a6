"""``.env.example`` lists every variable the code reads from the environment, each with
the code's default, and copying it to ``.env`` changes nothing.

The code is read, not run: every ``env("NAME", default=...)`` / ``env.kind(...)`` call
(django-environ) and every ``os.environ`` / ``os.getenv`` read in the project's own
packages and ``manage.py``."""

import ast
import re
from pathlib import Path, PurePosixPath

BASE_DIR = Path(__file__).resolve().parents[1]
EXAMPLE = BASE_DIR / ".env.example"
SOURCES = ("manage.py", "rakuten", "accounts", "catalog", "ml")
# When several modules read a variable, the default that counts is the one `make run`
# sees (local settings over base), then production's, then test's.
PRECEDENCE = (
    "rakuten/settings/local.py",
    "rakuten/settings/base.py",
    "rakuten/settings/production.py",
    "rakuten/settings/test.py",
)
# Read by libraries, not by the project's code.
LIBRARY_VARIABLES = {"HF_HUB_OFFLINE"}
# Listed empty: a secret's default is never written in the example.
SECRETS = {"DJANGO_SECRET_KEY"}
# (#NAME=value: documented, commented out; NAME=value: set when copied to .env)
LINE = re.compile(r"^(#?)([A-Z][A-Z0-9_]*)=(.*)$")
NO_DEFAULT = object()


def example_lines() -> list[tuple[bool, str, str]]:
    """(active, name, value) for each variable line of .env.example."""
    return [
        (not m[1], m[2], m[3].strip())
        for line in EXAMPLE.read_text().splitlines()
        if (m := LINE.match(line.strip()))
    ]


def example() -> dict[str, str]:
    return {name: value for _, name, value in example_lines()}


def _source_files() -> list[Path]:
    files = []
    for entry in SOURCES:
        path = BASE_DIR / entry
        if path.is_file():
            files.append(path)
        else:
            files += [p for p in path.rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _read(call: ast.Call) -> tuple[str, ast.AST | object] | None:
    """(name, default expression or NO_DEFAULT) if ``call`` reads the environment."""
    func = call.func
    is_env = (isinstance(func, ast.Name) and func.id == "env") or (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "env"
        and not func.attr.startswith("read")
    )
    is_os = (
        isinstance(func, ast.Attribute)
        and func.attr in ("get", "setdefault")
        and _is_os_environ(func.value)
    ) or (
        isinstance(func, ast.Attribute)
        and func.attr == "getenv"
        and isinstance(func.value, ast.Name)
        and func.value.id == "os"
    )
    if not (is_env or is_os) or not call.args:
        return None
    first = call.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    default = next((k.value for k in call.keywords if k.arg == "default"), NO_DEFAULT)
    if is_os and len(call.args) > 1:
        default = call.args[1]
    return first.value, default


def code_reads() -> dict[str, dict[str, ast.AST | object]]:
    """{variable: {file relative to the project: default expression or NO_DEFAULT}}."""
    reads: dict[str, dict[str, ast.AST | object]] = {}
    for path in _source_files():
        rel = path.relative_to(BASE_DIR).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            found = None
            if isinstance(node, ast.Call):
                found = _read(node)
            elif (
                isinstance(node, ast.Subscript)
                and _is_os_environ(node.value)
                and isinstance(node.ctx, ast.Load)
                and isinstance(node.slice, ast.Constant)
            ):
                found = node.slice.value, NO_DEFAULT
            if found:
                reads.setdefault(found[0], {})[rel] = found[1]
    return reads


def code_default(name: str) -> object:
    """The default that counts for ``name``, evaluated with the project's folders
    written relative to it (``var/...``) as in .env.example."""
    defaults = code_reads()[name]
    order = [f for f in PRECEDENCE if f in defaults] + sorted(
        f for f in defaults if f not in PRECEDENCE
    )
    for where in order:
        node = defaults[where]
        if node is not NO_DEFAULT:
            scope = {"VAR_DIR": PurePosixPath("var"), "BASE_DIR": PurePosixPath(".")}
            expression = ast.Expression(node)
            # (a default expression from the project's own source)
            code = compile(expression, where, "eval")
            return eval(code, {"__builtins__": {"str": str}}, scope)
    return NO_DEFAULT


def as_env_text(value: object) -> str:
    """A Python default as it would be written in an env file."""
    if value is None or value is NO_DEFAULT:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def same(written: str, code: str) -> bool:
    try:
        return float(written) == float(code)
    except ValueError:
        return written == code


def test_env_example_lists_every_variable_the_code_reads():
    read = set(code_reads())
    listed = set(example())
    assert read, "no environment read found: has the settings layout changed?"
    assert listed - LIBRARY_VARIABLES == read, (
        f"missing from .env.example: {sorted(read - listed)}; "
        f"listed but never read: {sorted(listed - read - LIBRARY_VARIABLES)}"
    )
    assert listed >= LIBRARY_VARIABLES


def test_each_variable_is_listed_once():
    names = [name for _, name, _ in example_lines()]
    assert len(names) == len(set(names))


def test_env_example_defaults_match_the_code():
    listed = example()
    wrong = {
        name: (listed[name], as_env_text(code_default(name)))
        for name in code_reads()
        if name not in SECRETS
        and name in listed
        and not same(listed[name], as_env_text(code_default(name)))
    }
    assert wrong == {}, "(.env.example, code) defaults differ"
    assert all(listed[name] == "" for name in SECRETS if name in listed)


def test_database_and_broker_defaults_are_the_embedded_ones():
    # Given .env.example and the base settings' defaults
    listed = example()
    # Then both name the SQLite files in var/ that `make run` uses without a server
    assert listed["DATABASE_URL"] == "sqlite:///var/db.sqlite3"
    assert listed["DATABASE_URL"] == code_default("DATABASE_URL")
    assert listed["CELERY_BROKER_URL"] == "sqla+sqlite:///var/celery-broker.sqlite3"
    assert listed["CELERY_BROKER_URL"] == code_default("CELERY_BROKER_URL")


def test_copying_it_to_dotenv_changes_no_setting():
    # Only variables read by libraries are set; every other line is commented out, so
    # `cp .env.example .env && make run` runs on the code's defaults.
    active = {name for is_active, name, _ in example_lines() if is_active}
    assert active <= LIBRARY_VARIABLES
