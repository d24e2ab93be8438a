"""Hostile audio through the upload API and the processing worker.

Every file of ``hostile_audio.CORPUS`` (decompression bombs, headers that lie
about sizes, rates and channels, very long headers, hundreds of streams,
truncated and pathological containers, non-audio with audio names) must end as
a 4xx with a clear ``detail`` at upload, or as a ``rejected`` recording with a
reason in the worker (or as chunks of the audio really there, when a lying
header wraps real speech): never a 500, a crash, a hang or unbounded memory.

The worker is also given each file directly (as if it had reached storage
without the upload check), so its own defences are tested, not only the
upload's. Decoding additionally runs in a child process under an address-space
limit. A table of outcomes is printed at the end; how long each file takes and
how much memory it needs is measured by bench/hostile_audio.py. A hang would
end at the decoders' own timeouts.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from recordings import services
from recordings.audio import decode
from recordings.models import Recording, RecordingStatus
from recordings.tests.factories import LanguageFactory, make_script
from recordings.tests.hostile_audio import CORPUS
from shrutik.storage import storage_put
from shrutik.tests.figures import report_figures

REPO = Path(__file__).resolve().parents[2]
# The Python decoding child's address-space cap (its ffmpeg children get their own).
DECODE_CHILD_AS_BYTES = 3 * 1024**3

_ROWS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("hostile")
    return {name: make(directory) for name, make in CORPUS.items()}


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    if not _ROWS:
        return
    lines = [
        "Hostile audio: outcomes (times and memory: bench/hostile_audio.py)",
        f"{'file':<36} {'upload':<40} {'worker':<44} | capped child: {'upload':<26} {'worker':<26}",
    ]
    for name in CORPUS:
        row = _ROWS.get(name, {})
        capped = row.get("capped", {})
        lines.append(
            f"{name:<36} {row.get('api', '-')[:40]:<40} {row.get('worker', '-')[:44]:<44}"
            f" | {'capped child:':<14} {capped.get('upload', '-')[:26]:<26}"
            f" {capped.get('worker', '-')[:26]:<26}"
        )
    report_figures(request, "hostile-audio", lines)


def _worker_outcome(recording_id) -> str:
    """Run the processing task's body: it must finish, never fail or stay processing.

    The recording ends rejected with a reason, or, when the file does hold
    usable speech under its hostile wrapping (a lying header over real audio),
    chunked from the audio that is really there, within the script's limit.
    """
    services.recording_process(recording_id=recording_id)
    recording = Recording.objects.select_related("script").get(pk=recording_id)
    if recording.status == RecordingStatus.CHUNKED:
        _, max_seconds = services.duration_limits(recording.script)
        assert recording.duration <= max_seconds + 1
        return f"chunked: {recording.chunks.count()} chunks, {recording.duration:.1f} s"
    assert recording.status == RecordingStatus.REJECTED, (recording.status, recording.error)
    assert recording.rejection_reason
    return f"rejected: {recording.rejection_reason}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_file_is_a_clear_4xx_or_a_rejected_recording(name, corpus, auth_client, s3_server):
    script = make_script(LanguageFactory(), "আমি দুধ দিয়ে চা খাই।")
    path = corpus[name]
    audio = SimpleUploadedFile(path.name, path.read_bytes(), content_type="audio/webm")
    response = auth_client.post(
        "/api/recordings/", {"script": script.pk, "audio": audio}, format="multipart"
    )
    assert response.status_code in (201, 400, 413, 415), response.content[:300]
    if response.status_code == 201:
        api = "201, then " + _worker_outcome(response.json()["id"])
    else:
        detail = response.json()["detail"]
        assert detail and len(detail) < 500
        assert not Recording.objects.exists()
        api = f"{response.status_code}: {detail}"
    # The worker on its own: the same bytes, stored without the upload check.
    recording = Recording.objects.create(
        contributor=auth_client.user, script=script, sha256="0" * 64
    )
    recording.audio.name = storage_put(
        f"recordings/{recording.id}/original.bin", io.BytesIO(path.read_bytes())
    )
    recording.save(update_fields=["audio"])
    worker = _worker_outcome(recording.id)
    _ROWS.setdefault(name, {}).update(api=api, worker=worker)


# Files that are decodable audio with a hostile wrapping; the upload refuses
# them later (too short for the script), not at decoding.
DECODABLE = {"wav: 8 MB header", "wav: 0.1 s then 5 MB garbage", "ogg: 100 kB comment"}
DECODABLE |= {"mp3: 8 MB ID3 tag"}


def test_decoding_under_an_address_space_cap(corpus):
    """The upload check and the worker's decode, in a child whose address space is capped."""
    by_file = {path.name: name for name, path in corpus.items()}
    env = {**os.environ, "HOSTILE_AS_LIMIT": str(DECODE_CHILD_AS_BYTES)}
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    # The timeout only ends a child left hanging (each decode has its own
    # deadline); it is no measure of speed.
    done = subprocess.run(
        [sys.executable, "-m", "recordings.tests.hostile_audio", *map(str, corpus.values())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(corpus)
    for result in results:
        name = by_file[result["file"]]
        _ROWS.setdefault(name, {})["capped"] = result
        assert result["upload"] != "MemoryError", name
        if name not in DECODABLE:
            assert not result["upload"].startswith("ok"), (name, result)


def test_ffmpeg_children_run_under_an_address_space_limit(corpus):
    path = corpus["ogg: 100 kB comment"]
    with decode.iter_pcm(path, max_seconds=10) as stream:
        limits = psutil.Process(stream._child.proc.pid).rlimit(resource.RLIMIT_AS)
        assert limits == (decode.FFMPEG_ADDRESS_SPACE_BYTES,) * 2
        assert sum(block.size for block in stream) > 0


def test_too_many_streams_are_refused_by_name(corpus):
    with pytest.raises(decode.UnsupportedAudioError, match="more than 8 streams"):
        decode.probe(corpus["ogg: 100 streams"])
    with pytest.raises(decode.UnsupportedAudioError, match="more than 8 streams"):
        decode.measure_duration(corpus["ogg: 100 streams"], max_seconds=40)


def test_a_decoder_out_of_memory_is_a_clear_error(corpus, monkeypatch):
    # Far below what ffmpeg needs to start: it dies of a signal, not an exit code.
    monkeypatch.setattr(decode, "FFMPEG_ADDRESS_SPACE_BYTES", 32 * 1024**2)
    with pytest.raises(decode.AudioCorruptError, match="ran out of memory or crashed"):
        decode.measure_duration(corpus["ogg: 100 kB comment"], max_seconds=40)
    out = corpus["ogg: 100 kB comment"].with_suffix(".out.wav")
    with pytest.raises(decode.AudioCorruptError, match="ran out of memory or crashed"):
        decode.decode_to_wav(corpus["ogg: 100 kB comment"], out, max_seconds=40)
    assert not out.exists()


def test_a_decoder_that_cannot_even_load_under_the_cap_is_out_of_memory():
    # Depending on where the cap bites, the dynamic loader fails before ffmpeg
    # runs (exit 127) instead of ffmpeg dying of a signal: the same cause.
    stderr = (
        "ffmpeg: error while loading shared libraries: libdl.so.2: "
        "failed to map segment from shared object"
    )
    error = decode._ffmpeg_failure(stderr, "ffmpeg exit code 127", 127)
    assert "ran out of memory or crashed" in error.reason


def test_worker_decoder_refuses_a_format_change_mid_stream(corpus):
    """Garbage after real MP3 frames parses as frames of another rate: a clear error."""
    from recordings.audio import libav

    with (
        pytest.raises(decode.AudioCorruptError, match="mid-stream"),
        libav.iter_pcm(corpus["mp3: 0.1 s then 2 MB garbage"], max_seconds=40) as stream,
    ):
        for _block in stream:
            pass
