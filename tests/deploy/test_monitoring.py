"""The alerting rules under promtool: their unit tests, and the guide's promtool commands."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO
from tests.deploy import opsdoc

MONITORING = REPO / "deploy" / "monitoring"

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="needs promtool (.ci/run installs prometheus)")


@needs_promtool
def test_alert_rules_fire_and_stay_quiet_as_their_unit_tests_say():
    result = subprocess.run(["promtool", "test", "rules", "alerts.test.yml"], cwd=MONITORING,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_documented_promtool_commands(tmp_path):
    """The guide's Prometheus-host commands, in a copy of deploy/monitoring."""
    work = shutil.copytree(MONITORING, tmp_path / "monitoring")
    scripts = opsdoc.scripts("prometheus")
    assert scripts
    for script in scripts:
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{script}\n{result.stdout}{result.stderr}"


def test_every_alert_has_severity_summary_description_and_runbook():
    import yaml

    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"][0]["rules"]
    names = [r["alert"] for r in rules]
    assert names.count("DalleserverDown") == 1 and "absent(" not in str(rules)
    docs = (REPO / "docs" / "operations.md").read_text()
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        anchor = notes["runbook_url"].split("#", 1)[1]
        assert f"### {rule['alert']}" in docs and anchor == rule["alert"].lower()
