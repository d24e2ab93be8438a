"""recordings.audio.warm: a synthetic reading through every kernel, which
fills numba's cache where the kernels are not compiled ahead of time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from recordings.audio.warm import warm

ROOT = Path(__file__).resolve().parents[2]


def test_the_synthetic_reading_goes_through_every_stage_of_the_segmenter():
    # Every sentence cut out: the reading reached the alignment kernels (the
    # image's build runs it to check the compiled ones).
    assert len(warm(sentences=12).segments) == 12


def test_the_kernels_run_without_numba_loading_scipy_linalg():
    # In a fresh interpreter, as a worker without the compiled kernels
    # starts: numba would import scipy.linalg (about 15 MB) the first time a
    # kernel runs; none needs it. It still imports normally afterwards.
    code = (
        "import sys\n"
        "from recordings.audio.warm import warm\n"
        "assert len(warm(sentences=4).segments) == 4\n"
        "assert 'scipy.linalg' not in sys.modules, 'numba loaded scipy.linalg'\n"
        "import scipy.linalg\n"
        "assert scipy.linalg.norm([3.0, 4.0]) == 5.0\n"
    )
    env = {**os.environ, "SHRUTIK_AUDIO_KERNELS": "numba"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=600)
