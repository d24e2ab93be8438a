"""System check: the audio kernels the workers will run.

A worker without up-to-date compiled kernels still works (numba compiles
them), but with over 100 MB more memory per process: worth saying at
deploy time rather than in the first worker's log.
"""

from __future__ import annotations

import os

from django.core import checks

from recordings.audio import kernels


def kernel_messages(kind: str, expected: int | None = None) -> list[checks.CheckMessage]:
    """What to say about ``SHRUTIK_AUDIO_KERNELS=kind``; ``expected``: the
    fingerprint the compiled module must carry (these sources' by default)."""
    if kind not in kernels.KINDS:
        return [
            checks.Error(
                f"{kernels.ENV} is {kind!r}.",
                hint=f"Use one of {', '.join(kernels.KINDS)} (auto unless you know why).",
                id="recordings.E001",
            )
        ]
    if kind == "numba":
        return []
    try:
        kernels.compiled(expected)
    except kernels.KernelsUnavailable as exc:
        hint = "Run `make`, or `python -m recordings.audio.aot` (it needs a C compiler)."
        if kind == "compiled":
            return [
                checks.Error(
                    f"{kernels.ENV} is 'compiled' but the audio kernels are {exc}: "
                    "the workers would fail on their first recording.",
                    hint=hint,
                    id="recordings.E002",
                )
            ]
        return [
            checks.Warning(
                f"The audio kernels are {exc}: each audio worker will load numba and LLVM "
                "(over 100 MB more memory) and compile them on its first recording.",
                hint=hint,
                id="recordings.W001",
            )
        ]
    return []


@checks.register()
def audio_kernels(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return kernel_messages(os.environ.get(kernels.ENV, "auto"))
