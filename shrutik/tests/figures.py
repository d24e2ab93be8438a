"""Figures a test run reports: shown in the run's output and kept under ``artifacts/``.

Tables of measured outcomes (status codes received, times, peak memory) are
the evidence of suites such as API fuzzing and hostile audio; they are printed
even when pytest captures output, and written to ``artifacts/<name>.txt``.
"""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def report_figures(request, name: str, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.txt").write_text(text, encoding="utf-8")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print("\n" + text)
        return
    with capture.global_and_fixture_disabled():
        print("\n" + text, flush=True)
