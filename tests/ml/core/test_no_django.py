"""The pure ML core never imports Django."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Every module of the core package, found on disk so that a new one is checked too.
CORE_MODULES = sorted(
    f"ml.core.{path.stem}"
    for path in (ROOT / "ml" / "core").glob("*.py")
    if path.stem != "__init__"
)


def test_core_modules_do_not_import_django():
    # The folder is found from this file: an empty list would check nothing.
    assert {"ml.core.pipeline", "ml.core.inference"} <= set(CORE_MODULES)
    code = (
        "import sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    __import__(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'django')\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    root = ROOT
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root)}

    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"
