"""deploy/: Prometheus' alert rules and scrape configuration load (Debian's promtool),
the rules fire on the drops the platform alerts on (promtool's rule tests), and the
Grafana dashboard parses, has a panel for each metric family and names only metrics
that /metrics exposes."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.metrics import TOKEN, families, sample_names, scrape

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "rakuten.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool (Debian's prometheus package) is not installed"
)
# A metric name in PromQL: the platform's and django-prometheus' own (not up, time).
METRIC = re.compile(r"\b((?:rakuten|django)_[a-zA-Z0-9_]+)\b")


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@needs_promtool
def test_promtool_checks_the_alert_rules():
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    count = sum(len(group["rules"]) for group in rules["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


@needs_promtool
def test_the_rules_fire_on_the_platforms_drops_and_not_below_its_thresholds():
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_checks_the_scrape_configuration(tmp_path):
    # (the token file is a compose secret: a stand-in here)
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert "/run/secrets/metrics_token" in config
    (tmp_path / "token").write_text("x")
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/run/secrets/metrics_token", str(tmp_path / "token"))
    )
    result = _promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = [job["job_name"] for job in yaml.safe_load(config)["scrape_configs"]]
    assert jobs == ["rakuten-web", "rakuten-worker"]


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        expressions += [target["expr"] for target in panel["targets"]]
    return expressions


def _rule_expressions() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.fixture
def exposition(client, settings, db):
    settings.METRICS_TOKEN = TOKEN
    return scrape(client)


def test_the_dashboard_names_only_metrics_that_are_exposed(exposition):
    exposed = sample_names(exposition)
    used = {name for expr in _dashboard_expressions() for name in METRIC.findall(expr)}
    assert len(used) >= 20
    assert used - exposed == set()


def test_the_alert_rules_name_only_metrics_that_are_exposed(exposition):
    exposed = sample_names(exposition)
    used = {name for expr in _rule_expressions() for name in METRIC.findall(expr)}
    assert len(used) >= 10
    assert used - exposed == set()


def test_the_dashboard_has_a_panel_for_each_platform_metric_family(exposition):
    used = " ".join(_dashboard_expressions())
    platform = sorted(
        name
        for name in families(exposition)
        if name.startswith("rakuten_") and not name.endswith("_created")
    )
    assert len(platform) == 23
    missing = [name for name in platform if name not in used]
    assert missing == []
    # and for requests by view and status, and their latency (django-prometheus)
    for name in (
        "django_http_requests_total_by_view_transport_method_total",
        "django_http_responses_total_by_status_view_method_total",
        "django_http_requests_latency_seconds_by_view_method_bucket",
    ):
        assert name in used


def test_compose_runs_prometheus_and_grafana_on_these_files():
    compose = yaml.safe_load((DEPLOY.parent / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert services["prometheus"]["secrets"] == ["metrics_token"]
    grafana = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in grafana
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/rakuten.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    # The scrape targets are the web and worker services, the worker on its port
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in config["scrape_configs"]
    }
    port = services["worker"]["environment"]["METRICS_WORKER_PORT"]
    assert targets == {
        "rakuten-web": ["web:8000"],
        "rakuten-worker": [f"worker:{port}"],
    }
    assert "web" in services["web"]["environment"]["DJANGO_ALLOWED_HOSTS"].split(",")
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    dashboard = json.loads(DASHBOARD.read_text())
    assert {
        p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p
    } == {datasource["uid"]}
