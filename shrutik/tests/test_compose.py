"""docker-compose.yml: pinned images, the S3 service's identities, the bucket job.

No container engine runs here; `make check` also validates the file with
docker-compose itself (`compose-check`).
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from io import StringIO

import pytest
import yaml

from shrutik.testing import ROOT


def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_image_is_pinned_to_a_version():
    images = {name: service["image"] for name, service in services().items()}
    for name, image in images.items():
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        # A version, written as its project tags it (Mailpit's tags start with "v").
        assert tag != "latest" and re.match(r"^v?\d+(\.\d+)+$", tag), f"{name}: {image}"
    # The image compose builds carries the project's version.
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert images["web"] == f"shrutik:{version}"


def test_the_app_reaches_the_s3_service_with_its_own_identity():
    compose = services()
    env = compose["web"]["environment"]
    assert env["AWS_S3_ENDPOINT_URL"] == "http://s3:8333"
    assert "-s3.port=8333" in compose["s3"]["command"][0]
    assert env["AWS_ACCESS_KEY_ID"] == compose["s3"]["environment"]["S3_ACCESS_KEY"]
    # The secret key is the same Docker secret on both sides.
    assert env["AWS_SECRET_ACCESS_KEY_FILE"] == "/run/secrets/s3_secret_key"
    assert "s3_secret_key" in compose["web"]["secrets"]
    assert "s3_secret_key" in compose["s3"]["secrets"]
    assert "$$(cat /run/secrets/s3_secret_key)" in compose["s3"]["command"][0]
    # The bucket job creates the bucket as the admin, then the app starts.
    job = compose["createbucket"]
    assert job["command"] == ["python", "manage.py", "ensure_bucket"]
    assert job["environment"]["AWS_ACCESS_KEY_ID"] == "${S3_ADMIN_ACCESS_KEY:-shrutik-admin}"
    assert job["environment"]["AWS_SECRET_ACCESS_KEY_FILE"] == "/run/secrets/s3_admin_secret_key"
    assert "s3_admin_secret_key" in job["secrets"]
    assert "s3_admin_secret_key" not in compose["web"]["secrets"]
    assert job["depends_on"] == {"s3": {"condition": "service_healthy"}}
    for name in ("migrate", "web", "worker", "beat"):
        condition = compose[name]["depends_on"]["createbucket"]["condition"]
        assert condition == "service_completed_successfully", name


def test_the_s3_service_writes_its_identities_from_the_environment_and_secrets(tmp_path):
    """Runs the service's start script with the engine's parts left out."""
    script = services()["s3"]["command"][0].replace("$$", "$")
    config = tmp_path / "s3.json"
    script = script.replace("/etc/seaweedfs/s3.json", str(config))
    script = script.replace("/run/secrets/", f"{tmp_path}/")
    script = "\n".join(
        line for line in script.splitlines() if not line.startswith(("chown ", "exec "))
    )
    (tmp_path / "s3_secret_key").write_text("app-secret\n")
    (tmp_path / "s3_admin_secret_key").write_text("admin-secret\n")
    keys = {"S3_ACCESS_KEY": "app-key", "S3_ADMIN_ACCESS_KEY": "admin-key"}
    subprocess.run(["sh", "-ec", script], env=keys, check=True, timeout=10)
    identities = {i["name"]: i for i in json.loads(config.read_text())["identities"]}
    assert set(identities) == {"admin", "shrutik"}  # no anonymous access
    assert identities["shrutik"]["credentials"] == [
        {"accessKey": "app-key", "secretKey": "app-secret"}
    ]
    assert sorted(identities["shrutik"]["actions"]) == [
        "List:shrutik",
        "Read:shrutik",
        "Tagging:shrutik",
        "Write:shrutik",
    ]
    assert identities["admin"]["credentials"] == [
        {"accessKey": "admin-key", "secretKey": "admin-secret"}
    ]
    assert config.stat().st_mode & 0o077 == 0


@pytest.mark.django_db
def test_ensure_bucket_creates_the_bucket_once(s3_server):
    import boto3
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    name = "shrutik-ensure-bucket"
    storages = {**settings.STORAGES}
    storages["default"] = {
        **storages["default"],
        "OPTIONS": {**storages["default"]["OPTIONS"], "bucket_name": name},
    }
    s3 = boto3.client("s3", endpoint_url=s3_server["endpoint_url"], region_name="us-east-1")
    outputs = []
    with override_settings(STORAGES=storages, AWS_STORAGE_BUCKET_NAME=name):
        for _ in range(2):
            out = StringIO()
            call_command("ensure_bucket", stdout=out)
            outputs.append(out.getvalue().strip())
    try:
        assert outputs == [f"Created bucket {name}.", f"Bucket {name} exists."]
        s3.head_bucket(Bucket=name)
    finally:
        s3.delete_bucket(Bucket=name)


def test_the_image_is_built_from_a_pinned_base_and_serves_as_compose_does():
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    assert re.match(r"^python:3\.11\.\d+-slim-\w+$", base), base
    cmd = re.search(r"^CMD (\[.*?\])", dockerfile, re.M | re.S).group(1)
    assert json.loads(cmd.replace("\\\n", "")) == services()["web"]["command"]


def test_the_image_leaves_out_secrets_local_state_and_this_machines_kernels():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    # compose-secrets.sh writes secrets/ beside the Dockerfile: COPY . . would bake it in.
    assert {"secrets", ".venv", "var", ".git", "recordings/audio/_compiled*"} <= ignored


def test_secrets_are_docker_secrets_made_by_the_script_and_kept_on_a_second_run(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    script = ROOT / "deploy" / "compose-secrets.sh"
    subprocess.run(["sh", str(script), str(tmp_path)], check=True, timeout=30)
    made = {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
    assert {name: f"./secrets/{name}" for name in made} == {
        name: secret["file"] for name, secret in compose["secrets"].items()
    }
    assert (tmp_path / "secrets").stat().st_mode & 0o077 == 0
    password = made["postgres_password"].strip()
    assert len(password) >= 32 and len(made["secret_key"].strip()) >= 50
    assert made["database_url"].strip() == f"postgres://shrutik:{password}@postgres:5432/shrutik"
    subprocess.run(["sh", str(script), str(tmp_path)], check=True, timeout=30)
    assert {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()} == made
    # Every secret a service reads from a file is one it is given, and no
    # secret is in plain environment.
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        for variable, path in env.items():
            if variable.endswith("_FILE"):
                assert path.removeprefix("/run/secrets/") in service["secrets"], (name, variable)
        assert not {
            "SECRET_KEY",
            "DATABASE_URL",
            "AWS_SECRET_ACCESS_KEY",
            "POSTGRES_PASSWORD",
        } & set(env), name


def test_the_app_sends_email_to_the_mail_catcher_unless_told_otherwise():
    compose = services()
    assert compose["web"]["environment"]["EMAIL_URL"] == "${EMAIL_URL:-smtp://mailpit:1025}"
    assert compose["mailpit"]["image"].startswith("axllent/mailpit:")
    # The inbox shows password-reset links: reachable from this machine only.
    assert all(port.startswith("127.0.0.1:") for port in compose["mailpit"]["ports"])
