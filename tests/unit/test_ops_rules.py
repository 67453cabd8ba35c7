"""Alert rules: promtool checks them and the scrape config, runs their unit tests, and every
alert has a runbook plus a firing and a quiet case."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

PROM = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = PROM / "rules" / "socialops.yml"
TESTS = PROM / "tests" / "socialops.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool missing: `make install` installs Debian's prometheus package"
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False)


def test_promtool_check_rules_and_config() -> None:
    rules = promtool("check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 7 rules found" in rules.stdout
    config = promtool("check", "config", str(PROM / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    run = promtool("test", "rules", str(TESTS))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_every_alert_has_a_runbook_and_a_firing_and_a_quiet_case() -> None:
    alerts = {
        r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
    }
    assert len(alerts) == 7
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    for name, rule in alerts.items():
        assert len(rule["annotations"]["runbook"]) > 80, name
        assert rule["annotations"]["summary"], name
        assert name in firing, f"{name} has no firing case"
        assert name in quiet, f"{name} has no quiet case"


def test_a_broken_rule_test_fails(tmp_path: Path) -> None:
    """The harness can fail: the same tests against a rule with the wrong threshold."""
    broken = tmp_path / "rules.yml"
    broken.write_text(RULES.read_text().replace("> 300", "> 100000"))
    tests = tmp_path / "tests.yml"
    tests.write_text(TESTS.read_text().replace("../rules/socialops.yml", str(broken)))
    run = promtool("test", "rules", str(tests))
    assert run.returncode != 0
    assert "SocialOpsOutboxStuck" in run.stdout + run.stderr
