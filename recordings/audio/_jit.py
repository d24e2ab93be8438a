"""numba's ``njit`` for the audio kernels, without the linear algebra numba
would load for them.

The first time any kernel runs (compiled or loaded from the cache), numba sets
up its NumPy support and, to learn whether it has BLAS, imports
``scipy.linalg``: about 15 MB of resident memory, 9 MB of it the worker's own,
in a process whose budget is 250 MB, for kernels that do no linear algebra.
So scipy.linalg is hidden while that support module loads: numba then
implements ``np.dot`` in kernels without BLAS (none of ours calls it), and
scipy.linalg imports as usual afterwards for anything else in the process.
"""

from __future__ import annotations

import sys

from numba import njit

__all__ = ["njit"]


def _numpy_support_without_blas() -> None:
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return  # set up already, or scipy.linalg is loaded anyway: nothing to save
    sys.modules["scipy.linalg"] = None  # ``import scipy.linalg`` raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if sys.modules.get("scipy.linalg", 0) is None:
            del sys.modules["scipy.linalg"]


_numpy_support_without_blas()
