"""recordings.audio.warm: the build step that fills numba's cache (Dockerfile)."""

from __future__ import annotations

from recordings.audio.warm import warm


def test_the_synthetic_reading_goes_through_every_stage_of_the_segmenter():
    # Every sentence cut out: the reading reached the alignment kernels, so the
    # image's cache holds them and its workers never compile.
    assert len(warm(sentences=12).segments) == 12
