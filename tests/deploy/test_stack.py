"""docker-compose.yml, Prometheus rules and the Grafana dashboard: valid, consistent, and
naming only metrics DialerMetrics exports (no Docker engine needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dialer.outputs.metrics import HISTOGRAMS, METRIC_NAMES

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DEPLOY / "grafana" / "dashboards" / "dialer.json").read_text())
    return data


def recorded_names() -> set[str]:
    rules = load_yaml(DEPLOY / "prometheus" / "rules.yml")
    return {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


_STRINGS = re.compile(r'"[^"]*"|\'[^\']*\'')


def metric_names(expr: str) -> set[str]:
    """Metric-looking identifiers of a PromQL expression (dialer_*, dialer:*, up)."""
    without_strings = _STRINGS.sub('""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_by = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", without_labels)
    return {m for m in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_by) if m.startswith("dialer")}


def exported(name: str) -> bool:
    if name in METRIC_NAMES:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return True
    return False


def check_expr(expr: str, recorded: set[str]) -> None:
    names = metric_names(expr)
    assert names, f"no dialer metric in {expr!r}"
    for name in names:
        assert exported(name) or name in recorded, f"{name} in {expr!r} is not a DialerMetrics metric"


def test_metric_name_extraction() -> None:
    assert metric_names('sum by (campaign) (rate(dialer_attempts_total{campaign=~"$c"}[5m]))') == {
        "dialer_attempts_total"
    }
    assert metric_names("dialer:list_hours_left < 1 and on() dialer_calls_last_60m > 0") == {
        "dialer:list_hours_left", "dialer_calls_last_60m",
    }
    assert not exported("dialer_no_such_metric") and exported("dialer_ring_seconds_bucket")


def test_dashboard_queries_name_only_exported_metrics() -> None:
    board = dashboard()
    recorded = recorded_names()
    titles = []
    for panel in board["panels"]:
        titles.append(panel["title"])
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            check_expr(target["expr"], recorded)
    for variable in board["templating"]["list"]:
        check_expr(variable["definition"], recorded)
    # the panels the issue asks for
    joined = " | ".join(titles).lower()
    for wanted in ("connect rate", "hourly call volume", "abandon rate against the cap", "agents by state",
                   "dial level", "time to agent"):
        assert wanted in joined, wanted
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    assert "histogram_quantile(0.5" in exprs and "histogram_quantile(0.9" in exprs
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_rules_are_valid_and_cover_the_alerts() -> None:
    rules = load_yaml(DEPLOY / "prometheus" / "rules.yml")
    recorded = recorded_names()
    alerts = {}
    for group in rules["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert ("record" in rule) != ("alert" in rule)
            if "record" in rule:
                assert re.fullmatch(r"[a-z_]+:[a-z0-9_:]+", rule["record"]), rule["record"]
            else:
                alerts[rule["alert"]] = rule
                assert rule["labels"]["severity"] in ("warning", "critical")
                assert rule["annotations"]["summary"]
            expr = rule["expr"]
            assert expr.count("(") == expr.count(")"), expr
            if expr.startswith("up{"):
                continue  # the engine-down alert reads Prometheus' own `up`
            check_expr(expr, recorded)
    assert {"DialerAbandonRateNearCap", "DialerListNearlyExhausted", "DialerAmiDown", "DialerNoAgents"} <= set(alerts)
    assert "dialer_ami_up" in alerts["DialerAmiDown"]["expr"]


def test_prometheus_scrapes_the_dialer() -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    assert config["rule_files"] == ["/etc/prometheus/rules.yml"]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "dialer")
    target = job["static_configs"][0]["targets"][0]
    compose = load_yaml(ROOT / "docker-compose.yml")
    port = compose["x-dialer-env"]["DIALER_METRICS_PORT"]
    assert target.endswith(f":{port}")


def test_compose_stack() -> None:
    compose = load_yaml(ROOT / "docker-compose.yml")
    services = compose["services"]
    assert {"postgres", "mosquitto", "asterisk", "dialer", "prometheus", "grafana"} <= set(services)
    # every bind-mounted path exists in the repository
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
    # Asterisk gets every file of asterisk-conf/
    mounted = {Path(v.split(":")[0]).name for v in services["asterisk"]["volumes"]}
    shipped = {p.name for p in (ROOT / "asterisk-conf").glob("*.conf")}
    assert shipped <= mounted
    # the dialer's settings are known settings
    from dialer.settings import Settings

    fields = {f"DIALER_{name.upper()}" for name in Settings.model_fields}
    assert set(services["dialer"]["environment"]) <= fields
    assert services["dialer"]["image"] == services["migrate"]["image"]
    assert services["migrate"]["build"] == "." and (ROOT / "Dockerfile").exists()
    # Grafana is provisioned with the datasource the dashboard names, and the dashboard
    datasource = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uid = datasource["datasources"][0]["uid"]
    assert {p["datasource"]["uid"] for p in dashboard()["panels"]} == {uid}
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "dialer.yml")
    path = provider["providers"][0]["options"]["path"]
    assert any(v.endswith(":" + path + ":ro") for v in services["grafana"]["volumes"])


def test_dockerfile_installs_the_packages() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for package in ("dialer", "ami", "pacing", "compliance"):
        assert f"COPY {package} ./{package}" in text
    assert 'ENTRYPOINT ["dialer"]' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored


def test_compose_mosquitto_logins() -> None:
    """The broker gets the whole deploy/mosquitto/ folder (config, acl, the passwd you make),
    nobody logs in anonymously, and the engine's login is the ACL's engine user."""
    compose = load_yaml(ROOT / "docker-compose.yml")
    assert "./deploy/mosquitto:/mosquitto/config:ro" in compose["services"]["mosquitto"]["volumes"]
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    settings = dict(line.split(None, 1) for line in conf.splitlines() if line and not line.startswith(("#", "listener")))
    assert settings["allow_anonymous"] == "false" and settings["per_listener_settings"] == "false"
    assert settings["acl_file"] == "/mosquitto/config/acl" and (DEPLOY / "mosquitto" / "acl").exists()
    assert settings["password_file"] == "/mosquitto/config/passwd"
    assert "/deploy/mosquitto/passwd" in (ROOT / ".gitignore").read_text().splitlines()
    url = compose["x-dialer-env"]["DIALER_MQTT_URL"]
    engine_user = re.fullmatch(r"mqtt://(\w+):\$\{DIALER_MQTT_PASSWORD:-\w+\}@127\.0\.0\.1:1883", url)
    assert engine_user, url
    acl = (DEPLOY / "mosquitto" / "acl").read_text().splitlines()
    assert f"user {engine_user.group(1)}" in acl and "topic readwrite dialer/#" in acl
