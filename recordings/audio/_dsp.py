"""The numba source of two small signal kernels that would otherwise need
scipy.signal or librosa: a biquad filter (``envelope``) and a clipping count
(``quality``).

Importing scipy.signal costs ~75 MB of resident memory and librosa ~125 MB;
the worker that segments an hour of audio has 250 MB in all. ``kernels``
runs these compiled ahead of time (``aot``) where the build could, else
through numba.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit


# nogil: the worker's decoder thread keeps running while a block is filtered.
@njit(cache=True, nogil=True)
def biquad(x: np.ndarray, coef: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Filter ``x`` (transposed direct form II); ``state`` (2 values) carries over."""
    b0, b1, b2, a1, a2 = coef[0], coef[1], coef[2], coef[3], coef[4]
    s1, s2 = state[0], state[1]
    y = np.empty(x.shape[0])
    for n in range(x.shape[0]):
        xn = x[n]
        yn = b0 * xn + s1
        s1 = b1 * xn - a1 * yn + s2
        s2 = b2 * xn - a2 * yn
        y[n] = yn
    state[0] = s1
    state[1] = s2
    return y


@njit(cache=True, nogil=True)
def clipped_count(
    x: np.ndarray, last: np.float32, clip_level: np.float32, flat_level: np.float32, flat_run: int
) -> int:
    """Samples of ``x`` (float32) at ``clip_level`` or above, plus those in runs
    of at least ``flat_run`` loud (``flat_level`` or above), equal, neighbouring
    samples; ``last`` is the sample before ``x``.

    A sample belongs to a run when it equals the one before it, or the one
    after it equals it. One pass, where the array version took eight and a
    second of the worker's time per hour of loud audio.
    """
    n = x.shape[0]
    equal_prev = np.empty(n + 1, dtype=np.bool_)
    prev = last
    for t in range(n):
        v = x[t]
        equal_prev[t] = v == prev and abs(v) >= flat_level
        prev = v
    equal_prev[n] = False
    hard = 0
    flat = 0  # samples below clip_level in runs long enough to count
    run = 0
    run_soft = 0
    for t in range(n + 1):
        if t < n and (equal_prev[t] or equal_prev[t + 1]):
            run += 1
            if abs(x[t]) >= clip_level:
                hard += 1
            else:
                run_soft += 1
            continue
        if run >= flat_run:
            flat += run_soft
        run = 0
        run_soft = 0
        if t < n and abs(x[t]) >= clip_level:
            hard += 1
    return hard + flat
