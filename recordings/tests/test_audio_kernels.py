"""recordings.audio.kernels: the audio kernels compiled ahead of time (``aot``)
give numba's results to the bit, release the GIL as numba's do, refuse
arguments they were not built for, and keep numba out of the worker."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from recordings.audio import analysis, kernels
from recordings.audio.envelope import highpass_coefficients
from recordings.audio.segment import segment_speech
from recordings.audio.text import split_sentences
from recordings.checks import kernel_messages
from recordings.tests.audio_files import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["compiled", "numba"]


@pytest.fixture(scope="module")
def built() -> kernels.Kernels:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here: the kernels cannot be compiled ahead of time")
    try:
        return kernels.compiled()
    except kernels.KernelsUnavailable as exc:
        pytest.fail(f"the compiled audio kernels are {exc}: run make (recordings.audio.aot)")


def kernels_of(kind: str, built: kernels.Kernels) -> kernels.Kernels:
    return built if kind == "compiled" else kernels.jitted()


def test_the_compiled_kernels_are_built_from_these_sources_and_chosen(built):
    assert built.kind == "compiled"
    assert kernels.load("auto").kind == "compiled"
    assert kernels.load("numba").kind == "numba"


def test_make_rebuilds_the_kernels_when_any_source_of_their_fingerprint_changes():
    makefile = (ROOT / "Makefile").read_text()
    rule = next(line for line in makefile.splitlines() if line.startswith("$(KERNELS):"))
    listed = rule.split("recordings/audio/,", 1)[1].split(")", 1)[0].split()
    assert sorted(listed) == sorted(kernels.SOURCES)


def test_stale_compiled_kernels_are_refused_and_numba_stands_in(built, caplog):
    stale = kernels.fingerprint() ^ 1
    with pytest.raises(kernels.KernelsUnavailable, match="other sources"):
        kernels.compiled(expected=stale)
    with pytest.raises(kernels.KernelsUnavailable):
        kernels.load("compiled", expected=stale)
    with caplog.at_level(logging.WARNING, logger="recordings.audio.kernels"):
        assert kernels.load("auto", expected=stale).kind == "numba"
    assert "python -m recordings.audio.aot" in caplog.text
    with pytest.raises(ValueError, match="SHRUTIK_AUDIO_KERNELS"):
        kernels.load("llvm")


def test_the_system_check_says_when_workers_would_run_numba(built, monkeypatch):
    stale = kernels.fingerprint() ^ 1
    assert kernel_messages("auto") == []
    assert [m.id for m in kernel_messages("auto", expected=stale)] == ["recordings.W001"]
    assert [m.id for m in kernel_messages("compiled", expected=stale)] == ["recordings.E002"]
    assert kernel_messages("numba", expected=stale) == []
    monkeypatch.setenv(kernels.ENV, "llvm")
    with pytest.raises(SystemCheckError, match=r"recordings\.E001"):
        call_command("check")


def test_the_signal_kernels_agree_with_numba_to_the_bit(built):
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 0.3, 48_000)
    coef = highpass_coefficients(60.0, 16_000)
    numba = kernels.jitted()
    states = [np.zeros(2), np.zeros(2)]
    for block in np.array_split(x, 5):  # the filter's state carries over between blocks
        ours = built.biquad(block.copy(), coef, states[0])
        theirs = numba.biquad(block.copy(), coef, states[1])
        assert np.array_equal(ours, theirs)
        assert np.array_equal(*states)

    loud = (rng.normal(0.0, 0.4, 48_000)).astype(np.float32)
    loud[1000:1100] = 0.95  # a flat-topped run below full scale
    loud[5000:5003] = 1.0  # clipped
    args = (loud, np.float32(0.2), np.float32(0.999), np.float32(0.5), 8)
    count = built.clipped_count(*args)
    assert count == numba.clipped_count(*args)
    assert count >= 103


@pytest.mark.parametrize("name", ["bn_read_fluent", "en_read_noisy"])
def test_a_recording_is_measured_and_cut_alike_by_both_kinds(built, monkeypatch, tmp_path, name):
    # The whole worker path: decode with quality and envelope, then every
    # alignment pass. Chunk edges, confidences and quality agree exactly.
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    sentences = split_sentences(meta["script"])
    results = []
    for kind in KINDS:
        monkeypatch.setattr(kernels, "current", lambda kind=kind: kernels_of(kind, built))
        measured = analysis.decode_and_analyse(FIXTURES / meta["file"], tmp_path / f"{kind}.wav")
        cut = segment_speech(measured.envelope, sentences, language=meta["lang"])
        results.append((measured.metrics, np.asarray(measured.envelope.db), cut))
    (metrics_c, env_c, cut_c), (metrics_n, env_n, cut_n) = results
    assert metrics_c == metrics_n
    assert np.array_equal(env_c, env_n)
    assert cut_c == cut_n
    assert sum(s.aligned for s in cut_c.segments) >= len(sentences) - 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_kernel_lets_other_threads_run_while_it_runs(built, kind):
    # With a switch interval far longer than the test, the GIL changes hands
    # only when its holder lets go: the main thread gets it back while the
    # filter still runs only if the kernel released it.
    chosen = kernels_of(kind, built)
    coef = highpass_coefficients(60.0, 16_000)
    x = np.random.default_rng(1).normal(size=30_000_000)  # a few hundred ms of filtering
    chosen.biquad(x[:10], coef, np.zeros(2))  # compiled, or loaded, before the test
    state = {"entered": False, "finished": False}

    def run() -> None:
        state["entered"] = True
        chosen.biquad(x, coef, np.zeros(2))
        state["finished"] = True

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        thread = threading.Thread(target=run)
        thread.start()  # returns once the thread lets go of the GIL
        seen = dict(state)
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert seen == {"entered": True, "finished": False}


def test_arguments_the_compiled_kernels_were_not_built_for_are_refused(built):
    coef, state = highpass_coefficients(60.0, 16_000), np.zeros(2)
    with pytest.raises(TypeError, match="argument 0 must be a C-contiguous 1-d float64 array"):
        built.biquad(np.zeros(100, np.float32), coef, state)
    with pytest.raises(TypeError, match="argument 0"):
        built.biquad(np.zeros(200)[::2], coef, state)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        built.biquad(np.zeros(100), coef)


def test_the_worker_path_never_loads_numba(built):
    # A fresh interpreter, as a worker starts: measuring and cutting a
    # reading loads neither numba nor LLVM.
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from recordings.audio.quality import QualityMeter\n"
        "from recordings.audio.warm import warm\n"
        "assert len(warm(sentences=4).segments) == 4\n"
        "meter = QualityMeter(16000)\n"
        "meter.update(np.full(16000, 0.99, np.float32))\n"
        "assert meter.result().clipping_ratio > 0.9\n"
        "loaded = sorted(m for m in ('numba', 'llvmlite') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        check=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "SHRUTIK_AUDIO_KERNELS": "auto"},
    )
