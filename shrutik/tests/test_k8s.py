"""The Kubernetes recipe (deploy/k8s): both overlays rendered as kustomize
renders them, every object valid for the pinned Kubernetes version, and the
recipe consistent with the app (probes, queues, secrets, shutdown grace).

`make check` validates the files with kubernetes-validate's command line too.
"""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from django.conf import settings
from kubernetes_validate.utils import validate

from shrutik.testing import ROOT
from shrutik.views import HealthMiddleware

K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = re.search(r"^K8S_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)[1]
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}


def render(folder) -> list[dict]:
    """The objects ``kubectl apply -k folder`` creates: its resources (files
    and other kustomizations), with the image names replaced as it says."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    objects: list[dict] = []
    for entry in kustomization["resources"]:
        path = (folder / entry).resolve()
        if path.is_dir():
            objects += render(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for image in kustomization.get("images", []):
        for obj in objects:
            for container in containers(obj):
                if container["image"] == image["name"]:
                    container["image"] = f"{image['newName']}:{image['newTag']}"
    return objects


def containers(obj: dict) -> list[dict]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", [])


def by_kind(objects, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


BASE = render(K8S / "base")
KEDA = render(K8S / "keda")


@pytest.mark.parametrize("objects", [BASE, KEDA], ids=["base", "keda"])
def test_every_object_is_valid_for_the_pinned_kubernetes_version(objects):
    for obj in objects:
        if obj["kind"] not in KEDA_KINDS:
            validate(obj, K8S_VERSION, strict=True)
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    validate(secret, K8S_VERSION, strict=True)


def test_the_recipe_has_every_part_the_deployment_needs():
    deployments = by_kind(BASE, "Deployment")
    assert set(deployments) == {
        "shrutik-web", "shrutik-worker-audio", "shrutik-worker-consensus",
        "shrutik-worker-exports", "shrutik-beat",
    }  # fmt: skip
    assert set(by_kind(BASE, "Job")) == {"shrutik-migrate"}
    assert set(by_kind(BASE, "HorizontalPodAutoscaler")) == {"shrutik-web"}
    budgets = by_kind(BASE, "PodDisruptionBudget")
    assert set(budgets) == set(deployments) - {"shrutik-beat"}
    for name, budget in budgets.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    service = by_kind(BASE, "Service")["shrutik-web"]
    assert (
        service["spec"]["selector"] == deployments["shrutik-web"]["spec"]["selector"]["matchLabels"]
    )
    (ingress,) = by_kind(BASE, "Ingress").values()
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "shrutik-web"
    beat = deployments["shrutik-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"


def test_images_are_the_released_version_and_resources_are_bounded():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for obj in BASE:
        for container in containers(obj):
            assert container["image"] == f"shrutik:{version}", obj["metadata"]["name"]
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys() & resources["limits"].keys()


def test_web_probes_hit_the_health_endpoints_and_it_drains_within_its_grace():
    web = by_kind(BASE, "Deployment")["shrutik-web"]["spec"]["template"]["spec"]
    (container,) = web["containers"]
    paths = {
        probe: container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths["livenessProbe"] == "/healthz/live"
    assert paths["readinessProbe"] == "/healthz/ready"
    assert set(paths.values()) <= HealthMiddleware.VIEWS.keys()
    command = container["command"]
    graceful = int(command[command.index("--graceful-timeout") + 1])
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pre_stop + graceful < web["terminationGracePeriodSeconds"]
    # The compose command, with the shutdown grace.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    assert (
        command[: command.index("--bind")]
        == compose["command"][: compose["command"].index("--bind")]
    )


def test_workers_consume_every_queue_and_requeue_before_they_are_killed():
    consumed = set()
    for name, deployment in by_kind(BASE, "Deployment").items():
        if not name.startswith("shrutik-worker-"):
            continue
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        command = container["command"]
        consumed |= set(command[command.index("--queues") + 1].split(","))
        env = {e["name"]: e["value"] for e in container["env"]}
        assert float(env["WORKER_SHUTDOWN_GRACE_SECONDS"]) < pod["terminationGracePeriodSeconds"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert (
                "inspect ping --destination celery@$HOSTNAME"
                in container[probe]["exec"]["command"][-1]
            )
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert consumed == routed | {settings.CELERY_TASK_DEFAULT_QUEUE}


def test_secrets_are_files_from_the_mounted_secret_and_settings_read_them():
    (config,) = by_kind(BASE, "ConfigMap").values()
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    files = {k: v for k, v in config["data"].items() if k.endswith("_FILE")}
    settings_src = (ROOT / "shrutik" / "settings.py").read_text()
    for variable, path in files.items():
        assert f'secret("{variable.removesuffix("_FILE")}"' in settings_src, variable
        folder, _, key = path.rpartition("/")
        assert folder == "/run/secrets/shrutik" and key in secret["stringData"], variable
    # No secret in plain configuration.
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY"} & set(
        config["data"]
    )
    for obj in BASE:
        pod = obj["spec"]["template"]["spec"] if containers(obj) else None
        if pod is None:
            continue
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]
        for container in pod["containers"]:
            mounts = {m["name"]: m for m in container["volumeMounts"]}
            assert mounts["secrets"] == {
                "name": "secrets", "mountPath": "/run/secrets/shrutik", "readOnly": True,
            }  # fmt: skip


def test_keda_scales_each_worker_on_its_own_queue():
    scaled = by_kind(KEDA, "ScaledObject")
    deployments = by_kind(KEDA, "Deployment")
    assert len(KEDA) == len(BASE) + len(scaled)
    for name, obj in scaled.items():
        target = obj["spec"]["scaleTargetRef"]["name"]
        assert target == name and target in deployments
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["type"] == "redis"
        command = containers(deployments[target])[0]["command"]
        queues = command[command.index("--queues") + 1].split(",")
        assert trigger["metadata"]["listName"] == queues[0]
        assert int(trigger["metadata"]["listLength"]) >= 1
