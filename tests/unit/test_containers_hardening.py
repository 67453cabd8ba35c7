"""Containers run as non-root with a read-only root filesystem (issue 13 item 6): the image,
the compose file and the Kubernetes manifests, checked by parsing them (no Docker engine here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
APPS = ("calendar", "metrics", "budget", "audit")


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = dockerfile.replace("\\\n", " ")
    out = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_user(dockerfile: str) -> str | None:
    """The user the final stage runs as (None: root by default)."""
    user = None
    for word, rest in _instructions(dockerfile):
        if word == "FROM":
            user = None  # a new stage starts as root again
        elif word == "USER":
            user = rest
    return user


def _non_root(user: str | None) -> bool:
    if user is None:
        return False
    name = user.split(":")[0]
    return name not in {"root", "0"} and name.isdigit()  # numeric: runAsNonRoot can verify it


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    user = _final_user((REPO / "Dockerfile").read_text())
    assert _non_root(user), f"Dockerfile's final USER is {user!r}"


@pytest.mark.parametrize(
    ("dockerfile", "ok"),
    [
        ("FROM a\nUSER 10001:10001\nCMD x", True),
        ("FROM a\nCMD x", False),
        ("FROM a\nUSER 10001\nRUN x\nUSER root", False),
        ("FROM a AS build\nUSER 10001\nFROM b\nCMD x", False),  # the last stage is root
        ("FROM a\nUSER app", False),  # a name: Kubernetes cannot prove it is not root
    ],
)
def test_the_user_check_itself(dockerfile: str, ok: bool) -> None:
    assert _non_root(_final_user(dockerfile)) is ok


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    return services


@pytest.mark.parametrize("name", APPS)
def test_compose_services_read_only_with_a_tmpfs(compose: dict[str, Any], name: str) -> None:
    svc = compose[name]
    assert svc.get("build") == "."  # the project's image, whose USER is checked above
    assert "user" not in svc or _non_root(str(svc["user"]))
    assert svc.get("read_only") is True
    assert any(str(t).split(":")[0] == "/tmp" for t in svc.get("tmpfs", []))
    assert svc.get("cap_drop") == ["ALL"]
    assert "no-new-privileges:true" in svc.get("security_opt", [])


def test_prometheus_is_read_only_too(compose: dict[str, Any]) -> None:
    assert compose["prometheus"]["read_only"] is True


def test_every_project_service_in_compose_is_checked(compose: dict[str, Any]) -> None:
    built = {name for name, svc in compose.items() if "build" in svc}
    assert built == set(APPS)


def _deployments() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((REPO / "deploy" / "k8s" / "base").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "Deployment"]
    return docs


def test_kubernetes_pods_non_root_read_only_with_a_tmp_volume() -> None:
    deployments = _deployments()
    assert {d["metadata"]["name"] for d in deployments} >= set(APPS)
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], c["name"]
