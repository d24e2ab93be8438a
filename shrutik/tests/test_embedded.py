"""Smoke test of the embedded shape: SQLite, filesystem storage, filesystem broker,
a real gunicorn and a real Celery worker, started the way the README starts them."""

import itertools
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from recordings.tests.audio_files import READING, READING_JSON
from shrutik.testing import wait_until
from shrutik.tests.test_settings import CONFIG_VARS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
METRICS_TOKEN = "embedded-metrics-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy_with_worker(base: str):
    try:
        response = requests.get(f"{base}/healthz", timeout=5)
    except requests.RequestException:
        return None
    body = response.json()
    return response.status_code == 200 and body["checks"]["worker"]["alive"] and body


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(
        {
            "SHRUTIK_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "shrutik.settings",
            "PYTHONUNBUFFERED": "1",
            "METRICS_TOKEN": METRICS_TOKEN,
        }
    )
    for key in ("REDIS_URL", "AWS_STORAGE_BUCKET_NAME"):
        env.pop(key, None)
    return env


def manage(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def test_embedded_default_serves_pages_and_runs_a_worker(embedded_env, tmp_path):
    manage(embedded_env, "migrate", "--noinput")
    manage(embedded_env, "seed_demo")
    script_id = (
        manage(
            embedded_env,
            "shell",
            "-c",
            "import json; from recordings.models import Language; "
            "from recordings.scripts import script_build; "
            f"meta = json.load(open({str(READING_JSON)!r})); "
            "s = script_build(language=Language.objects.get(code='bn'), text=meta['script']); "
            "s.save(); print(s.pk)",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    admin = manage(embedded_env, "ensure_admin")
    assert "password:" in admin.stdout

    port = free_port()
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log:
        proc = start_embedded(embedded_env, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        check_embedded(base, tmp_path, int(script_id))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log_path.read_text()[-3000:]


def start_embedded(env, port: int, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--port", str(port), "--web-workers", "2",
         "--concurrency", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def check_embedded(base: str, tmp_path, script_id: int) -> None:
    health = wait_until(
        lambda: healthy_with_worker(base), timeout=120, what="healthz 200 with a live worker"
    )
    assert health["checks"]["database"]["ok"] and health["checks"]["storage"]["ok"]
    assert health["checks"]["worker"]["hostname"].startswith("embedded@")

    for path in ("/admin/login/", "/api/docs/", "/accounts/signup/", "/api/schema/"):
        assert requests.get(base + path, timeout=10).status_code == 200, path

    session = requests.Session()
    registered = session.post(
        f"{base}/api/auth/register/",
        json={"username": "mitu", "password": "a-long enough pass phrase", "consent": True},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    pair = session.post(
        f"{base}/api/auth/token/",
        json={"username": "mitu", "password": "a-long enough pass phrase"},
        timeout=10,
    ).json()
    me = session.get(
        f"{base}/api/me/", headers={"Authorization": f"Bearer {pair['access']}"}, timeout=10
    )
    assert me.json()["username"] == "mitu"
    auth = {"Authorization": f"Bearer {pair['access']}"}

    # Upload → chunks through the filesystem broker and the real worker.
    with open(READING, "rb") as audio:
        uploaded = session.post(
            f"{base}/api/recordings/",
            data={"script": script_id},
            files={"audio": ("reading.webm", audio, "audio/webm")},
            headers=auth,
            timeout=60,
        )
    assert uploaded.status_code == 201, uploaded.text
    url = f"{base}/api/recordings/{uploaded.json()['id']}/"

    def processed():
        body = session.get(url, headers=auth, timeout=10).json()
        return body if body["status"] in {"chunked", "rejected", "failed"} else None

    recording = wait_until(processed, timeout=120, what="the worker to chunk the upload")
    assert recording["status"] == "chunked", recording
    assert recording["chunk_count"] == len(recording["chunks"]) >= 5
    chunk_audio = session.get(base + recording["chunks"][0]["audio_url"], timeout=10)
    assert chunk_audio.status_code == 200 and chunk_audio.content[:4] == b"fLaC"
    assert (tmp_path / "var" / "db.sqlite3").exists()

    # The same server speaks WebSocket: stream the reading live. It is the same
    # reading by the same person, so it ends as the recording already made.
    streamed = stream_reading(base, script_id, pair["access"])
    assert streamed["ended"]["recording"] == recording["id"] and streamed["ended"]["duplicate"]
    assert streamed["status"]["status"] == "chunked"
    assert streamed["status"]["chunk_count"] == recording["chunk_count"]
    assert streamed["feedback"], "no live feedback while streaming"
    assert not list((tmp_path / "var" / "media" / "live").glob("*/*.part"))
    check_metrics_sum_every_web_worker(base, tmp_path / "var" / "prometheus")


def check_metrics_sum_every_web_worker(base: str, directory: Path) -> None:
    """Each scrape counts every request so far, whichever worker answers it:
    consecutive scrapes differ by exactly the one request in between."""
    from prometheus_client.parser import text_string_to_metric_families

    def requests_so_far() -> float:
        response = requests.get(
            f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        for family in text_string_to_metric_families(response.text):
            if family.name == "django_http_requests_total_by_method":
                return sum(s.value for s in family.samples if s.labels.get("method") == "GET")
        raise AssertionError("no request counter in /metrics")

    counts = [requests_so_far() for _ in range(8)]
    assert [b - a for a, b in itertools.pairwise(counts)] == [1.0] * 7, counts
    # Both web workers write their own files there; the scrape sums them.
    pids = {name.stem.rsplit("_", 1)[-1] for name in directory.glob("counter_*.db")}
    assert len(pids) >= 2, sorted(directory.iterdir())


def stream_reading(base: str, script_id: int, token: str) -> dict:
    import json

    from websockets.sync.client import connect

    data = READING.read_bytes()
    size = len(data) // 15 + 1
    result = {"feedback": []}
    url = base.replace("http", "ws", 1) + f"/ws/record/?script={script_id}"
    with connect(url, origin=base, open_timeout=20) as ws:

        def receive(kind):
            while True:
                message = json.loads(ws.recv(timeout=60))
                if message["type"] == "feedback":
                    result["feedback"].append(message)
                if message["type"] == kind:
                    return message
                assert message["type"] in {"feedback", "ack", "ready"}, message

        ws.send(json.dumps({"type": "auth", "token": token}))
        receive("ready")
        ws.send(json.dumps({"type": "start"}))
        receive("started")
        for seq, start in enumerate(range(0, len(data), size)):
            ws.send(seq.to_bytes(4, "big") + data[start : start + size])
        ws.send(json.dumps({"type": "end"}))
        result["ended"] = receive("ended")
        result["status"] = receive("status")
    return result
