"""`make lint`'s dependency audit: pip-audit over the installed environment, with a verdict that
tells "no known vulnerability" apart from "not audited" (pip-audit itself prints "No known
vulnerabilities found" and exits 0 when it could look up no package at all).

Exit 1 when a vulnerability is found. When the vulnerability database cannot be reached (this
project's machines reach package downloads but not PyPI's per-version JSON API nor OSV), say so
and exit 0, unless `SOCIALOPS_AUDIT_STRICT=1` (for a CI that has the network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIP_AUDIT = Path(sys.executable).parent / "pip-audit"


@dataclass(frozen=True)
class Verdict:
    audited: int
    skipped: int
    findings: list[str]  # "package version: ID (fixed in ...)"

    @property
    def unreachable(self) -> bool:
        return self.audited == 0

    def exit_code(self, *, strict: bool) -> int:
        if self.findings:
            return 1
        return 1 if strict and self.skipped else 0

    def lines(self) -> list[str]:
        if self.findings:
            return [f"[audit] {len(self.findings)} known vulnerabilities:"] + [
                f"  {f}" for f in self.findings
            ]
        if self.unreachable:
            return [
                f"[audit] NOT AUDITED: pip-audit could look up none of the {self.skipped} "
                "installed packages in its vulnerability database (unreachable from here); "
                "dependencies were not checked. Run `make lint` where PyPI's JSON API or OSV "
                "is reachable, or set SOCIALOPS_AUDIT_STRICT=1 to fail on this."
            ]
        tail = f"; {self.skipped} could not be looked up" if self.skipped else ""
        return [f"[audit] no known vulnerability in {self.audited} packages{tail}"]


def verdict(report: dict[str, Any]) -> Verdict:
    """Read pip-audit's JSON report (`-f json`)."""
    audited, skipped, findings = 0, 0, []
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            skipped += 1
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            findings.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    return Verdict(audited, skipped, findings)


def run(timeout_s: int = 10) -> Verdict | None:
    """Audit the installed environment; None when pip-audit could not reach its service."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        done = subprocess.run(  # noqa: S603 - our own venv's pip-audit, fixed arguments
            [str(PIP_AUDIT), "--progress-spinner", "off", "--skip-editable",
             "--timeout", str(timeout_s), "-f", "json", "-o", str(out)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.exists() and out.stat().st_size:
            return verdict(json.loads(out.read_text()))
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"[audit] pip-audit failed (exit {done.returncode}): {last[:300]}", file=sys.stderr)
        return None


def main() -> int:
    strict = os.environ.get("SOCIALOPS_AUDIT_STRICT") == "1"
    result = run()
    if result is None:
        print("[audit] NOT AUDITED: the vulnerability database could not be reached.")
        return 1 if strict else 0
    for line in result.lines():
        print(line)
    return result.exit_code(strict=strict)


if __name__ == "__main__":
    sys.exit(main())
