"""The audio kernels (a biquad filter, a clipping count, the alignment sweeps),
compiled ahead of time where the build could, else by numba at first use.

numba and the LLVM it loads are over 100 MB of a worker's resident memory
(105 MB of the peak cutting an hour, more when libllvmlite.so, 179 MB on
disk, is wholly in the page cache), for seven small loops. ``make``
and the image compile those loops once into an extension module,
``_compiled`` (``python -m recordings.audio.aot``), which needs only NumPy to
run: a worker that finds it up to date never imports numba. The module
records a fingerprint of the sources it was built from; if they have changed
since, or it was never built (no C compiler), the kernels come from numba as
before, with a warning, and give the same results.

``SHRUTIK_AUDIO_KERNELS`` chooses: ``auto`` (the default: compiled if up to
date, else numba), ``compiled`` (fail if not up to date) or ``numba``.

Both kinds release the GIL while they run: the worker's decoder thread and
the segmentation's second pass run beside them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# What the compiled module is built from: the kernels, their helpers, the
# signatures below and the build's options. A change to any of them makes a
# module built before it stale.
SOURCES = ("_align.py", "_align_kernel.py", "_dsp.py", "_jit.py", "kernels.py", "aot.py")
KINDS = ("auto", "compiled", "numba")
ENV = "SHRUTIK_AUDIO_KERNELS"

# Each kernel's argument types, as numba spells them (``f8[::1]``: a
# C-contiguous 1-d float64 array; ``f8``: a scalar), and its return type. The
# compiled module is built for exactly these and does not check what it is
# given, so ``Kernels`` checks every array before the call.
_SWEEP_ARGS = (
    *("f8[::1]",) * 8,  # starts, ends, cut, intc, pref, pex, mulog, maxspan
    "i8[::1]",  # ncommas
    "f8[:, ::1]",  # fracs
    "f8[::1]",  # rep_pen
    "i8[::1]",  # lo
    "i8",  # width
    "f8[::1]",  # prm
    "f8[::1]",  # val
    "f8[::1]",  # other
    "b1[::1]",  # alive
    "i8[::1]",  # bp_src
    "i1[::1]",  # bp_type
    "f8[::1]",  # post
    "i8[::1]",  # unit_k
    "i8[::1]",  # unit_lab
    "f8",  # logz
)
SIGNATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "biquad": ("f8[::1]", ("f8[::1]", "f8[::1]", "f8[::1]")),
    "clipped_count": ("i8", ("f4[::1]", "f4", "f4", "f4", "i8")),
    **{f"sweep{mode}": ("void", _SWEEP_ARGS) for mode in range(5)},
}


def fingerprint() -> int:
    """A 60-bit digest of ``SOURCES``: what a compiled module must have been built from."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    return int(digest.hexdigest()[:15], 16)


@dataclass(frozen=True)
class Kernels:
    kind: str  # "compiled" or "numba"
    biquad: Callable[..., np.ndarray]
    clipped_count: Callable[..., int]
    sweeps: tuple[Callable[..., None], ...]  # by mode (``_align.MODE_*``)


class KernelsUnavailable(RuntimeError):
    pass


def _array_spec(spec: str) -> tuple[np.dtype, int] | None:
    code, bracket, dims = spec.partition("[")
    return (np.dtype(code), dims.count(",") + 1) if bracket else None


def _checked(name: str, function: Callable, args: Sequence[str]) -> Callable:
    """``function`` behind a check of its arguments against ``args``: given
    an array of another type or layout, the compiled code would read it as
    the declared one."""
    arrays = [(i, spec) for i, a in enumerate(args) if (spec := _array_spec(a))]

    def call(*values):
        if len(values) != len(args):
            raise TypeError(f"{name} takes {len(args)} arguments ({len(values)} given)")
        for i, (dtype, ndim) in arrays:
            value = values[i]
            if not (
                isinstance(value, np.ndarray)
                and value.dtype == dtype
                and value.ndim == ndim
                and value.flags.c_contiguous
            ):
                raise TypeError(
                    f"{name}: argument {i} must be a C-contiguous {ndim}-d {dtype} array"
                )
        return function(*values)

    call.__name__ = name
    return call


def compiled(expected: int | None = None) -> Kernels:
    """The kernels from the module built by ``aot``; ``KernelsUnavailable``
    saying why when it is missing or was built from other sources."""
    try:
        from . import _compiled  # type: ignore[attr-defined]
    except ImportError as exc:
        raise KernelsUnavailable(f"not compiled ({exc})") from exc
    if _compiled.fingerprint() != (fingerprint() if expected is None else expected):
        raise KernelsUnavailable("compiled from other sources than these")
    functions = {
        name: _checked(name, getattr(_compiled, name), args)
        for name, (_, args) in SIGNATURES.items()
    }
    return Kernels(
        kind="compiled",
        biquad=functions["biquad"],
        clipped_count=functions["clipped_count"],
        sweeps=tuple(functions[f"sweep{mode}"] for mode in range(5)),
    )


def jitted() -> Kernels:
    """The kernels through numba, which compiles them at first use (or loads
    them from its cache)."""
    from . import _align_kernel, _dsp

    return Kernels(
        kind="numba",
        biquad=_dsp.biquad,
        clipped_count=_dsp.clipped_count,
        sweeps=_align_kernel.SWEEPS,
    )


def load(kind: str = "auto", expected: int | None = None) -> Kernels:
    """The kernels of ``kind`` (``KINDS``); ``expected``: the fingerprint a
    compiled module must carry (these sources' by default)."""
    if kind not in KINDS:
        raise ValueError(f"{ENV} must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "numba":
        return jitted()
    try:
        return compiled(expected)
    except KernelsUnavailable as exc:
        if kind == "compiled":
            raise
        logger.warning(
            "audio kernels %s: numba compiles them at first use, and the process loads "
            "numba and LLVM (over 100 MB); `python -m recordings.audio.aot` builds them",
            exc,
        )
        return jitted()


@functools.cache
def current() -> Kernels:
    """This process's kernels, chosen once by ``SHRUTIK_AUDIO_KERNELS``."""
    return load(os.environ.get(ENV, "auto"))


def biquad(x: np.ndarray, coef: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Filter ``x`` (float64; transposed direct form II); ``state`` (2 values) carries over."""
    return current().biquad(x, coef, state)


def clipped_count(x, last, clip_level, flat_level, flat_run) -> int:
    """See ``_dsp.clipped_count``: ``x`` and the levels are float32."""
    return current().clipped_count(x, last, clip_level, flat_level, flat_run)


def sweep(mode: int, *args) -> None:
    """One pass of the alignment kernel (``_align.sweep``)."""
    current().sweeps[mode](*args)
