"""The deployment files, read as the tools would (no image can be built or cluster run here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()) if d]


def test_kubernetes_gateway_has_probes_drain_autoscaling_and_a_budget() -> None:
    kinds = {d["kind"]: d for d in _docs("gateway.yaml")}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert pod["terminationGracePeriodSeconds"] > float(env["DRAIN_S"])
    assert float(env["SESSION_LEASE_S"]) <= 10
    assert container["envFrom"] == [{"secretRef": {"name": "parley"}}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    metrics = kinds["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert {m["type"] for m in metrics} == {"Resource", "Pods"}
    assert kinds["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1
    [secret] = _docs("secret.yaml")
    assert {"JWT_SECRET_KEY", "DATABASE_URL"} <= set(secret["stringData"])


def test_compose_runs_two_replicas_a_balancer_and_cannot_start_open() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "speech", "gateway1", "gateway2", "lb"} <= set(services)
    for name in ("gateway1", "gateway2"):
        env = services[name]["environment"]
        assert env["JWT_SECRET_KEY"].startswith("${JWT_SECRET_KEY:?")
        assert env["STT_BASE_URL"].startswith("http://speech")
    lb_env = services["lb"]["environment"]
    assert (lb_env["PARLEY_GW1"], lb_env["PARLEY_GW2"]) == ("gateway1:8000", "gateway2:8000")


@pytest.mark.skipif(not (shutil.which("haproxy") or os.path.exists("/usr/sbin/haproxy")),
                    reason="HAProxy is installed by `make test`")
def test_haproxy_accepts_the_configuration() -> None:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    result = subprocess.run([haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")],
                            capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"], "PARLEY_LB_BIND": "127.0.0.1:1",
                                 "PARLEY_GW1": "127.0.0.1:2", "PARLEY_GW2": "127.0.0.1:3"})
    assert result.returncode == 0, result.stderr
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert "option httpchk GET /health/ready" in config and "timeout tunnel" in config
