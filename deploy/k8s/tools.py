"""Kubernetes manifests: install the kustomize binary and validate every overlay offline.

`python -m deploy.k8s.tools install` puts kustomize (v5, built from the Go module proxy with
`go install`) under .local/cache/bin unless one is on PATH. `validate` runs `kustomize build`
for each overlay and checks every object against the Kubernetes JSON schemas shipped by
kubernetes-validate (strict: unknown fields fail), plus what the schemas cannot say: probes,
requests, PDBs, secrets by reference, scrape annotations, and KEDA never scaling a consumer past
the topic's partitions. KEDA's ScaledObject is a CRD, outside those schemas: checked here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"
KUBERNETES_VERSION = "1.33.0"
BIN = Path(os.environ.get("SOCIALOPS_CACHE", REPO / ".local" / "cache")) / "bin"


class ManifestError(AssertionError):
    """A rendered manifest is invalid; the message names the overlay, object and problem."""


def kustomize() -> str:
    """The kustomize binary: on PATH, in the cache, or built there now with `go install`."""
    found = shutil.which("kustomize") or (
        str(BIN / "kustomize") if (BIN / "kustomize").exists() else None
    )
    if found:
        return found
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise ManifestError("kustomize needs Go to build it (go install); none on PATH")
    print(f"[k8s] building kustomize ({KUSTOMIZE_MODULE}) into {BIN} with go install ...")
    BIN.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 - fixed module from the Go module proxy
        [go, "install", KUSTOMIZE_MODULE], check=True, env={**os.environ, "GOBIN": str(BIN)}
    )
    return str(BIN / "kustomize")


def overlays() -> list[Path]:
    return sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())


def build(overlay: Path) -> list[dict[str, Any]]:
    out = subprocess.run(  # noqa: S603
        [kustomize(), "build", str(overlay)], check=True, capture_output=True, text=True
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def check(overlay: Path, objects: list[dict[str, Any]]) -> list[str]:
    """Problems in one overlay's rendered objects (empty when valid)."""
    problems = []
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        by_kind.setdefault(kind, {})[name] = obj
        where = f"{overlay.name}: {kind}/{name}"
        if obj["apiVersion"].startswith("keda.sh/"):
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{where}: {e.message} at {'.'.join(map(str, e.path))}")
    return problems + _check_deployments(overlay, by_kind)


def _check_deployments(overlay: Path, by_kind: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """What the schemas cannot say: probes, requests, scraping, secrets, PDB, KEDA bounds."""
    problems = []
    partitions = int(by_kind["ConfigMap"]["socialops-config"]["data"]["SOCIALOPS_TOPIC_PARTITIONS"])
    for name, dep in by_kind.get("Deployment", {}).items():
        where = f"{overlay.name}: Deployment/{name}"
        pod = dep["spec"]["template"]
        container = pod["spec"]["containers"][0]
        if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            problems.append(f"{where}: readiness probe is not /readyz")
        if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            problems.append(f"{where}: liveness probe is not /healthz")
        if not container.get("resources", {}).get("requests"):
            problems.append(f"{where}: no resource requests")
        if pod["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true":
            problems.append(f"{where}: no Prometheus scrape annotation")
        env = {e["name"]: e for e in container.get("env", [])}
        if "secretKeyRef" not in env.get("MONGODB_URI", {}).get("valueFrom", {}):
            problems.append(f"{where}: MONGODB_URI is not a secret reference")
        if name not in by_kind.get("PodDisruptionBudget", {}):
            problems.append(f"{where}: no PodDisruptionBudget")
        scaled = by_kind.get("ScaledObject", {}).get(name)
        if scaled is None:
            problems.append(f"{where}: no KEDA ScaledObject")
            continue
        spec = scaled["spec"]
        trigger = spec["triggers"][0]
        if spec["scaleTargetRef"]["name"] != name or trigger["type"] != "kafka":
            problems.append(f"{where}: ScaledObject does not scale it on Kafka lag")
        if not 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions:
            problems.append(
                f"{where}: replicas {spec['minReplicaCount']}..{spec['maxReplicaCount']} "
                f"exceed the {partitions} partitions"
            )
        if dep["spec"]["replicas"] > partitions:
            problems.append(f"{where}: more replicas than partitions")
    return problems


def validate() -> int:
    failed = False
    for overlay in overlays():
        objects = build(overlay)
        problems = check(overlay, objects)
        kinds = sorted({o["kind"] for o in objects})
        status = "ok" if not problems else "INVALID"
        print(f"[k8s] {overlay.name}: {len(objects)} objects ({', '.join(kinds)}) {status}")
        for p in problems:
            print(f"  - {p}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "validate"
    if command == "install":
        print(f"[k8s] kustomize: {kustomize()}")
        sys.exit(0)
    sys.exit(validate())
