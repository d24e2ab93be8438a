"""The embedded shape, as `make run` starts it: SQLite, filesystem storage, the
filesystem broker, one server (gunicorn with uvicorn workers) and a real Celery
worker, in a scratch directory with no DATABASE_URL, REDIS_URL or S3.

The rest of the suite runs the deployed shape; this module is the embedded
shape's lane: pages and the live socket, and a contributor's whole path on
SQLite's own leasing code, from an upload to a built export.
"""

import io
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from recordings.tests.audio_files import FIXTURES, READING, READING_JSON
from shrutik.testing import wait_until
from shrutik.tests.test_settings import CONFIG_VARS

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
METRICS_TOKEN = "embedded-metrics-token"
PASSWORD = "a-long enough pass phrase"


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


def embedded_env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(
        {
            "SHRUTIK_VAR_DIR": str(var),
            "DJANGO_SETTINGS_MODULE": "shrutik.settings",
            "PYTHONUNBUFFERED": "1",
            "METRICS_TOKEN": METRICS_TOKEN,
            # The module signs up more people in a minute than one address may.
            "THROTTLE_REGISTER": "100/min",
            "THROTTLE_LOGIN": "100/min",
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


def shell(env, code: str) -> str:
    """Run ``code`` in ``manage.py shell``; returns the last line it printed."""
    return manage(env, "shell", "-c", code).stdout.strip().splitlines()[-1]


def make_script(env, meta_path: Path) -> int:
    """The script read in a fixture recording, in its language (seed_demo's)."""
    return int(
        shell(
            env,
            "import json; from recordings.models import Language; "
            "from recordings.scripts import script_build; "
            f"meta = json.load(open({str(meta_path)!r})); "
            "language = Language.objects.get(code=meta['lang']); "
            "s = script_build(language=language, text=meta['script']); s.save(); print(s.pk)",
        )
    )


@dataclass
class Embedded:
    base: str
    env: dict[str, str]
    var: Path
    admin_output: str


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """`make run`'s steps in a scratch directory; the server and worker run for
    the module's tests and must stop cleanly at the end."""
    tmp = tmp_path_factory.mktemp("embedded")
    env = embedded_env(tmp / "var")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    port = free_port()
    log_path = tmp / "run.log"
    with open(log_path, "w") as log:
        proc = start_embedded(env, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: healthy_with_worker(base), timeout=120, what="healthz 200 with a live worker"
        )
        # make run's admin password comes once everything is up.
        wait_until(lambda: "password:" in log_path.read_text(), timeout=30, what="the banner")
        yield Embedded(base=base, env=env, var=tmp / "var", admin_output=log_path.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log_path.read_text()[-3000:]


def sign_up(base: str, username: str) -> dict[str, str]:
    """Register through the API; returns the bearer header of a fresh token."""
    registered = requests.post(
        f"{base}/api/auth/register/",
        json={"username": username, "password": PASSWORD, "consent": True},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    pair = requests.post(
        f"{base}/api/auth/token/", json={"username": username, "password": PASSWORD}, timeout=10
    )
    assert pair.status_code == 200, pair.text
    return {"Authorization": f"Bearer {pair.json()['access']}"}


def test_embedded_default_serves_pages_and_runs_a_worker(embedded):
    base = embedded.base
    output = embedded.admin_output
    # The one-time password is printed after the start-up lines, in a box, and
    # those lines are few: no Celery banner, axes banner, root warning, uvicorn
    # start-up notes or kombu's hostname warning.
    banner = output.index("password:")
    assert output.index(" ready.") < banner and output.index("Shrutik is running at") < banner
    for noise in ("AXES: BEGIN", "[tasks]", "superuser", "lifespan", "No hostname", "Booting"):
        assert noise not in output, noise
    script_id = make_script(embedded.env, READING_JSON)
    check_embedded(base, embedded.var, script_id)


def test_a_reading_goes_from_upload_to_an_export_on_sqlite(embedded):
    """Upload, chunks (cut by the worker through the filesystem broker), leases,
    votes and submissions on SQLite's leasing path (no row locks), decisions in
    the requests, an export."""
    base, env = embedded.base, embedded.env
    # English, so that the other test's Bangla chunks are not offered here.
    meta_path = FIXTURES / "en_read_noisy.json"
    meta = json.loads(meta_path.read_text())
    script_id = make_script(env, meta_path)
    reader, typist, first, second, third = (
        sign_up(base, name) for name in ("reader", "typist", "verifier1", "verifier2", "typist2")
    )

    with open(meta_path.with_name(meta["file"]), "rb") as audio:
        uploaded = requests.post(
            f"{base}/api/recordings/",
            data={"script": script_id},
            files={"audio": (meta["file"], audio, "audio/ogg")},
            headers=reader,
            timeout=60,
        )
    assert uploaded.status_code == 201, uploaded.text
    url = f"{base}/api/recordings/{uploaded.json()['id']}/"

    def recording() -> dict:
        return requests.get(url, headers=reader, timeout=10).json()

    def processed() -> dict | None:
        body = recording()
        return body if body["status"] in {"chunked", "rejected", "failed"} else None

    chunked = wait_until(processed, timeout=120, what="the worker to chunk the upload")
    assert chunked["status"] == "chunked", chunked
    # Each sentence read is a chunk that knows its sentence: what listeners verify.
    expected = {c["id"]: c["expected_text"] for c in chunked["chunks"]}
    assert sorted(expected.values()) == sorted(s["text"] for s in meta["sentences"])

    def lease(headers, mode: str, count: int) -> list[dict]:
        response = requests.get(
            f"{base}/api/tasks/next/",
            params={"language": meta["lang"], "mode": mode, "count": count},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def submit(headers, chunk: str) -> None:
        posted = requests.post(
            f"{base}/api/transcriptions/",
            json={"chunk": chunk, "text": expected[chunk]},
            headers=headers,
            timeout=10,
        )
        assert posted.status_code == 201, posted.text

    def verify(headers, chunk: str, matches: bool) -> requests.Response:
        return requests.post(
            f"{base}/api/tasks/{chunk}/verify/", json={"matches": matches}, headers=headers,
            timeout=10,
        )  # fmt: skip

    # One listener types what they hear, without seeing the sentence.
    (typed,) = lease(typist, "transcribe", 1)
    assert typed["expected_text"] is None
    submit(typist, typed["chunk"])
    # Another confirms every sentence against its audio.
    leased = lease(first, "verify", len(expected))
    assert {t["chunk"]: t["expected_text"] for t in leased} == expected
    for task in leased:
        assert verify(first, task["chunk"], True).status_code == 201
    # A third asks for work and the server picks (mode auto): votes on the
    # sentences. They find one that does not match, and vote so; the rest
    # match. The typed chunk was validated by its confirmation, in that request.
    leased = lease(second, "auto", len(expected))
    assert {t["chunk"] for t in leased} == set(expected) - {typed["chunk"]}
    assert {t["mode"] for t in leased} == {"verify"}
    mismatch, *rest = leased
    answered = verify(second, mismatch["chunk"], False)
    assert answered.status_code == 201 and answered.json()["vote"] is False, answered.text
    for task in rest:
        assert verify(second, task["chunk"], True).status_code == 201
    assert lease(second, "auto", len(expected)) == []
    # A "no" beside a "yes" is a split: the next volunteer is asked to listen
    # too. They type what they hear instead (accepted on any lease), which is
    # the sentence: a confirmation that settles it.
    (relistened,) = lease(third, "auto", len(expected))
    assert (relistened["chunk"], relistened["mode"]) == (mismatch["chunk"], "verify")
    assert relistened["expected_text"] == expected[mismatch["chunk"]]
    submit(third, mismatch["chunk"])

    def decided() -> dict | None:
        body = recording()
        return body if all(c["status"] != "open" for c in body["chunks"]) else None

    statuses = [
        c["status"]
        for c in wait_until(decided, timeout=120, what="every chunk to be decided")["chunks"]
    ]
    # Two people confirmed each sentence: validated, except the few drawn for
    # a reviewer's audit.
    assert set(statuses) <= {"validated", "needs_review"} and "validated" in statuses, statuses
    check_export(base, env, validated=statuses.count("validated"))


def check_export(base: str, env, *, validated: int) -> None:
    researcher = sign_up(base, "researcher")
    shell(
        env,
        "from contributors.models import User; "
        "from contributors.services import user_set_roles; "
        "user_set_roles(user=User.objects.get(username='researcher'), "
        "roles={'contributor', 'researcher'}); print('ok')",
    )
    requested = requests.post(
        f"{base}/api/exports/", json={"formats": ["nemo"]}, headers=researcher, timeout=10
    )
    assert requested.status_code == 202, requested.text
    url = f"{base}/api/exports/{requested.json()['id']}/"

    def finished():
        body = requests.get(url, headers=researcher, timeout=10).json()
        return body if body["status"] in {"done", "failed"} else None

    export = wait_until(finished, timeout=180, what="the worker to build the export")
    assert export["status"] == "done", export["error"]
    assert export["stats"]["totals"]["clips"] == validated
    # The whole export, as a researcher downloads a small one: one streamed tar.
    # Links in the API are absolute: a script fetches them as they are.
    assert export["archive_url"].startswith(base + "/api/exports/")
    archive = requests.get(export["archive_url"], headers=researcher, timeout=60)
    assert archive.status_code == 200, archive.text
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers()}
        entries = [
            json.loads(line)
            for name in members
            if name.endswith("_manifest.json")
            for line in tar.extractfile(members[name]).read().decode().splitlines()
        ]
        assert len(entries) == validated
        for entry in entries:
            assert tar.extractfile(members[entry["audio_filepath"]]).read(4) == b"fLaC"


def start_embedded(env, port: int, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--port", str(port), "--web-workers", "2",
         "--concurrency", "1", "--ensure-admin"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def check_embedded(base: str, var: Path, script_id: int) -> None:
    health = healthy_with_worker(base)
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
    assert (var / "db.sqlite3").exists()

    # The same server speaks WebSocket: stream the reading live. It is the same
    # reading by the same person, so it ends as the recording already made.
    streamed = stream_reading(base, script_id, pair["access"])
    assert streamed["ended"]["recording"] == recording["id"] and streamed["ended"]["duplicate"]
    assert streamed["status"]["status"] == "chunked"
    assert streamed["status"]["chunk_count"] == recording["chunk_count"]
    assert streamed["feedback"], "no live feedback while streaming"
    assert not list((var / "media" / "live").glob("*/*.part"))
    check_metrics_sum_every_web_worker(base, var / "prometheus")


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
