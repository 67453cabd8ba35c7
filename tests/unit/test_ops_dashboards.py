"""Dashboards as code: the committed JSON is what deploy/dashboards.py generates, and every
panel and variable is wired to the provisioned Prometheus datasource."""

from __future__ import annotations

import json

import yaml

from deploy import dashboards


def test_committed_dashboards_match_the_generator() -> None:
    for spec in dashboards.DASHBOARDS:
        path = dashboards.OUT / f"{spec.uid.removeprefix('socialops-')}.json"
        assert path.read_text() == dashboards.render(spec), f"{path} is stale: make dashboards"
    assert dashboards.main(["--check"]) == 0


def test_check_fails_on_a_hand_edited_dashboard(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(dashboards, "OUT", tmp_path)
    assert dashboards.main([]) == 0
    edited = tmp_path / "ops.json"
    edited.write_text(edited.read_text().replace("Consumer lag by group", "Lag"))
    assert dashboards.main(["--check"]) == 1


def test_every_panel_has_a_query_on_the_prometheus_datasource_and_a_tenant_variable() -> None:
    for spec in dashboards.DASHBOARDS:
        board = json.loads(dashboards.render(spec))
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert panels, spec.uid
        for panel in panels:
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel[
                "title"
            ]
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        names = [v["name"] for v in board["templating"]["list"]]
        assert "tenant" in names, spec.uid


def test_compose_provisions_the_generated_folder() -> None:
    compose = yaml.safe_load((dashboards.OUT.parents[2] / "docker-compose.yml").read_text())
    volumes = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in volumes
    provider = yaml.safe_load(
        (dashboards.OUT.parent / "provisioning" / "dashboards" / "socialops.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
