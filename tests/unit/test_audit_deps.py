"""`make lint`'s dependency audit tells a clean audit, a vulnerable package and an audit that
could not look anything up apart (pip-audit alone reports the last as "no known
vulnerabilities", exit 0)."""

from __future__ import annotations

from deploy.audit_deps import verdict

SKIPPED = {"name": "six", "skip_reason": "Dependency not found on PyPI and could not be audited"}
CLEAN = {"name": "httpx", "version": "0.28.1", "vulns": []}
VULNERABLE = {
    "name": "urllib3",
    "version": "1.26.0",
    "vulns": [{"id": "GHSA-v845-jxx5-vc9f", "fix_versions": ["1.26.17", "2.0.6"]}],
}


def test_nothing_looked_up_is_not_audited_and_says_so() -> None:
    v = verdict({"dependencies": [SKIPPED, SKIPPED], "fixes": []})
    assert v.unreachable
    assert "NOT AUDITED" in v.lines()[0] and "2 installed packages" in v.lines()[0]
    assert v.exit_code(strict=False) == 0
    assert v.exit_code(strict=True) == 1


def test_a_vulnerability_fails_the_lint() -> None:
    v = verdict({"dependencies": [CLEAN, VULNERABLE, SKIPPED]})
    assert v.findings == ["urllib3 1.26.0: GHSA-v845-jxx5-vc9f (fixed in 1.26.17, 2.0.6)"]
    assert v.exit_code(strict=False) == 1
    assert not v.unreachable


def test_a_clean_audit_passes_and_counts_what_it_could_not_look_up() -> None:
    v = verdict({"dependencies": [CLEAN, SKIPPED]})
    assert v.lines() == ["[audit] no known vulnerability in 1 packages; 1 could not be looked up"]
    assert v.exit_code(strict=False) == 0
    assert v.exit_code(strict=True) == 1
    assert verdict({"dependencies": [CLEAN]}).exit_code(strict=True) == 0
