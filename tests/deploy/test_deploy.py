"""Operations files: the systemd unit, and monitoring expressions that name real metrics."""

import configparser
import json
import re

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO
from tests.support.server import running_server

DEPLOY = REPO / "deploy"
METRIC = re.compile(r"\b((?:dalleserver|process)_[a-z_]+)\b")


def test_systemd_unit_is_hardened_and_notifies():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "dalleserver.service")
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["User"] == "dalleserver"
    assert service["StateDirectory"] == "dalleserver"
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/")
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["Restart"] == "on-failure"
    assert service["WatchdogSec"]
    assert service["ExecStart"].split()[1] == "serve"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Sample names a live server exports (after one request of each kind)."""
    with running_server(tmp_path_factory.mktemp("metrics")) as (client, _):
        client.get("/nope")
        client.get("/series")
        _, body = client.get("/metrics")
    names = set()
    for family in text_string_to_metric_families(body.decode()):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        # a labelled family with no samples yet still has a HELP/TYPE: count its names
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
    return names


def _expressions():
    dashboard = json.loads((DEPLOY / "monitoring/grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield f"dashboard: {panel['title']}", target["expr"]
    alerts = yaml.safe_load((DEPLOY / "monitoring/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            yield f"alert: {rule['alert']}", rule["expr"]


def test_every_expression_names_exported_metrics(exported):
    checked = 0
    for where, expr in _expressions():
        names = METRIC.findall(expr)
        # Prometheus's own `up` is the only other series a rule or panel may use
        assert names or re.match(r"up\{", expr), where
        for name in names:
            assert name in exported, f"{where}: {name} is not exported"
            checked += 1
    assert checked >= 20


def test_dashboard_covers_the_operations_topics():
    dashboard = json.loads((DEPLOY / "monitoring/grafana-dashboard.json").read_text())
    text = json.dumps(dashboard)
    for needle in ("dalleserver_http_requests_total", "dalleserver_http_request_duration_seconds",
                   "dalleserver_generations_total", "dalleserver_queue_depth",
                   "dalleserver_circuit_breaker_state", "dalleserver_openai_errors_total",
                   "dalleserver_retries_total", "process_resident_memory_bytes",
                   "dalleserver_http_connections", "dalleserver_http_requests_in_flight",
                   "dalleserver_http_worker_stalls_total", "dalleserver_build_info",
                   "dalleserver_queue_capacity"):
        assert needle in text, needle


def test_dashboard_filters_by_job_and_instance_and_shows_down_in_red():
    dashboard = json.loads((DEPLOY / "monitoring/grafana-dashboard.json").read_text())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "instance"} <= variables
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert 'job="$job"' in target["expr"] and '=~"$instance"' in target["expr"], (
                panel["title"])
    up = next(p for p in dashboard["panels"] if p["title"] == "Up")
    assert up["targets"][0]["expr"].startswith("up{")  # 0 when down, never "No data"
    defaults = up["fieldConfig"]["defaults"]
    colours = {k: v["color"] for m in defaults["mappings"] for k, v in m["options"].items()}
    assert colours == {"0": "red", "1": "green"}
    ratio = next(p for p in dashboard["panels"] if p["title"] == "5xx ratio")
    assert ratio["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_dashboard_panels_plot_one_quantity_each():
    """A unit per panel, and every series of a panel in that unit: rates are not drawn on
    the axis of counts, nor bytes beside seconds."""
    dashboard = json.loads((DEPLOY / "monitoring/grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        unit = panel["fieldConfig"]["defaults"]["unit"]
        assert unit, panel["title"]
        rates = {"rate(" in t["expr"] or "histogram_quantile" in t["expr"]
                 for t in panel["targets"]}
        assert len(rates) == 1, f"{panel['title']} mixes rates and levels"
        assert panel["targets"][0]["expr"] and unit in (
            "reqps", "ops", "s", "short", "bytes", "percentunit", "none"), panel["title"]


def test_prometheus_scrape_config():
    config = yaml.safe_load((DEPLOY / "monitoring/prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8080"]
    assert "alerts.yml" in config["rule_files"]
