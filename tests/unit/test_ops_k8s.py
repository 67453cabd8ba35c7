"""Kubernetes manifests: `kustomize build` of every overlay validates against the Kubernetes
schemas offline, and the checks catch what a broken overlay gets wrong."""

from __future__ import annotations

import copy
from typing import Any

from deploy.k8s import tools


def built() -> dict[str, list[dict[str, Any]]]:
    return {overlay.name: tools.build(overlay) for overlay in tools.overlays()}


def test_every_overlay_builds_and_validates() -> None:
    overlays = built()
    assert set(overlays) == {"small", "large"}
    for name, objects in overlays.items():
        assert tools.check(tools.K8S / "overlays" / name, objects) == []
        kinds = [o["kind"] for o in objects]
        assert kinds.count("Deployment") == 4
        assert kinds.count("PodDisruptionBudget") == 4
        assert kinds.count("ScaledObject") == 4
        external = [
            o for o in objects if o["kind"] == "Service" and o["spec"].get("type") == "ExternalName"
        ]
        assert {o["metadata"]["name"] for o in external} == {"kafka", "mongodb"}
    assert tools.validate() == 0


def test_large_overlay_scales_up_to_its_partitions() -> None:
    large = built()["large"]
    config = next(o for o in large if o["kind"] == "ConfigMap")
    assert config["data"]["SOCIALOPS_TOPIC_PARTITIONS"] == "12"
    assert {o["spec"]["maxReplicaCount"] for o in large if o["kind"] == "ScaledObject"} == {12}


def test_checks_catch_broken_manifests() -> None:
    small = built()["small"]
    overlay = tools.K8S / "overlays" / "small"

    broken = copy.deepcopy(small)
    deployment = next(o for o in broken if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}  # a typo
    assert any("livenessProbes" in p for p in tools.check(overlay, broken))

    broken = copy.deepcopy(small)
    scaled = next(o for o in broken if o["kind"] == "ScaledObject")
    scaled["spec"]["maxReplicaCount"] = 12  # more consumers than the 4 partitions
    assert any("exceed the 4 partitions" in p for p in tools.check(overlay, broken))

    broken = copy.deepcopy(small)
    container = next(o for o in broken if o["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    container["env"] = [e for e in container["env"] if e["name"] != "MONGODB_URI"]
    container["env"].append({"name": "MONGODB_URI", "value": "mongodb://user:pw@db"})
    assert any("secret reference" in p for p in tools.check(overlay, broken))
