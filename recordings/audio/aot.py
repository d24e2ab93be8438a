"""Compile the audio kernels ahead of time into ``recordings/audio/_compiled``.

    python -m recordings.audio.aot [--cpu host|generic]

``make`` runs this when the kernels' sources change, the image at build time
(``--cpu generic``: it may run on another machine than the one it was built
on). It uses numba's ahead-of-time compiler (``numba.pycc``) and a C compiler
for the module's glue; the result needs only NumPy, so the worker never loads
numba or LLVM (``kernels``). Without a C compiler this fails, saying so, and
the worker compiles the kernels through numba instead.

numba's ahead-of-time wrappers hold the GIL through the call by default,
where ``@njit(nogil=True)`` releases it; the worker's decoder thread and the
segmentation's passes in two threads rely on its release, so the build
compiles with the same flag ``nogil`` sets.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

from .kernels import HERE, SIGNATURES, fingerprint


def _constant(value: int):
    def fingerprint():
        return value

    return fingerprint


@contextlib.contextmanager
def _releasing_the_gil():
    """numba.pycc builds its wrappers with a ``Flags()`` of its own: make
    those release the GIL around the call, as ``nogil=True`` does."""
    from numba.pycc import compiler

    plain = compiler.Flags

    class NoGil(plain):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.release_gil = True

    compiler.Flags = NoGil
    try:
        yield
    finally:
        compiler.Flags = plain


def build(cpu: str = "host", output_dir: Path = HERE) -> Path:
    """Compile every kernel in ``kernels.SIGNATURES`` into one extension
    module; it replaces the one in ``output_dir`` only once complete, so a
    worker importing it meanwhile sees the old or the new, never half."""
    with warnings.catch_warnings():
        # pycc is pending deprecation in favour of a successor not released
        # yet; numba is pinned, and a build that fails leaves numba's JIT.
        warnings.simplefilter("ignore")
        from numba.pycc import CC

    from . import _align_kernel, _dsp

    python = {"biquad": _dsp.biquad, "clipped_count": _dsp.clipped_count}
    python.update({f"sweep{mode}": f for mode, f in enumerate(_align_kernel.SWEEPS)})
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".aot-") as scratch:
        cc = CC("_compiled")
        cc.output_dir = scratch
        cc.target_cpu = cpu
        cc.verbose = False
        for name, (returns, args) in SIGNATURES.items():
            cc.export(name, f"{returns}({', '.join(args)})")(python[name].py_func)
        cc.export("fingerprint", "i8()")(_constant(fingerprint()))
        with _releasing_the_gil():
            cc.compile()
        (built,) = Path(scratch).glob("_compiled*")
        target = output_dir / built.name
        os.replace(built, target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cpu",
        default="host",
        help="LLVM CPU name: host (this machine's, the default) or generic (any of its family)",
    )
    args = parser.parse_args()
    # The compiler Python was built with, which numba.pycc calls for the glue.
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        sys.exit(f"no C compiler ({compiler} is not on PATH): the audio kernels are not compiled")
    started = time.perf_counter()
    target = build(cpu="" if args.cpu == "generic" else args.cpu)
    print(f"compiled the audio kernels into {target} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
