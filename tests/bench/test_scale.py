"""bench/scale.py on a tiny catalogue: every requested step runs in its own process,
reports its seconds and peak memory, and training writes a bundle."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "scale.py"
SHARED = ROOT.parent / "shared"

pytestmark = pytest.mark.skipif(
    not all(
        (SHARED / name / "products.csv").is_file()
        for name in ("products-open", "products-flipkart")
    ),
    reason="needs the open product sets in ../shared",
)

STEPS = ["generate", "import", "features", "train"]


def test_scale_steps_report_time_and_memory(tmp_path):
    out = tmp_path / "scale.json"
    command = [sys.executable, str(SCRIPT), "--sizes", "60", "--epochs", "1"]
    command += ["--steps", *STEPS, "--work", str(tmp_path), "--json", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600
    )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(out.read_text())
    (size,) = report["sizes"]
    assert size["n"] == 60
    rows = {row["step"]: row for row in size["steps"]}
    assert list(rows) == STEPS
    for step, row in rows.items():
        assert not row.get("failed") and not row.get("skipped"), (step, row)
        assert row["seconds"] > 0 and row["peak_mb"] > 0, (step, row)
    assert rows["import"]["rows"] == 60 and rows["import"]["bad_photos"] == 0
    assert rows["features"]["photos"] == 60
    bundle = Path(rows["train"]["bundle"])
    assert (bundle / "bundle.json").is_file() and bundle.is_relative_to(tmp_path)
    assert "| train |" in child.stdout and "machine:" in child.stdout


def test_a_step_without_its_input_is_skipped(tmp_path):
    out = tmp_path / "scale.json"
    command = [sys.executable, str(SCRIPT), "--sizes", "60", "--steps", "evaluate"]
    command += ["--work", str(tmp_path), "--json", str(out)]
    child = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    (row,) = json.loads(out.read_text())["sizes"][0]["steps"]
    assert row["skipped"] and row["notes"].startswith("skipped: no ")
