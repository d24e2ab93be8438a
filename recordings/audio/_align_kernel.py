"""The numba source of the alignment kernel: the lattice, its steps and costs
are described in ``_align.py``.

``kernels`` runs it compiled ahead of time (``aot``) where the build could,
else through numba, which compiles it at first use.
"""

from __future__ import annotations

import math

import numpy as np

from ._align import (
    ATTEMPT,
    INSERT,
    MATCH,
    MAX_COMMAS,
    MODE_SUM_BWD,
    MODE_SUM_FWD,
    MODE_VITERBI_BWD,
    MODE_VITERBI_FWD,
    P_COMMA,
    P_COMMA_MISS,
    P_INSERT,
    P_INSERT_PAUSE,
    P_INV2S2,
    P_INV2S2_INS,
    P_INV2S2_POS,
    P_MAX_INSERT,
    P_MAX_SPAN,
    P_MULOG_INS,
    P_REPEAT,
    P_SIG_GAIN,
    P_SKIP,
    P_SLACK,
    REPEAT,
    SKIP,
)
from ._jit import njit

_MAX_SIG = 8  # internal pauses considered for comma matching per step

_INF = np.inf


@njit(cache=True, nogil=True, inline="always")
def _logaddexp(a: float, b: float) -> float:
    if a == -_INF:
        return b
    if b == -_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True, nogil=True)
def _apply(
    mode,
    src,
    dst,
    cost,
    ttype,
    label,
    j,
    k,
    val,
    other,
    alive,
    bp_src,
    bp_type,
    post,
    unit_k,
    unit_lab,
    logz,
):
    """One transition src -> dst of cost ``cost``, processed according to ``mode``."""
    if mode == MODE_VITERBI_FWD:
        c = val[src] + cost
        if c < val[dst]:
            val[dst] = c
            bp_src[dst] = src
            bp_type[dst] = ttype
    elif mode == MODE_VITERBI_BWD:
        if val[dst] < _INF:
            c = val[dst] + cost
            if c < val[src]:
                val[src] = c
    elif mode == MODE_SUM_FWD:
        if alive[dst]:
            val[dst] = _logaddexp(val[dst], val[src] - cost)
    elif mode == MODE_SUM_BWD:
        if alive[dst]:
            val[src] = _logaddexp(val[src], val[dst] - cost)
    else:
        # Posterior: ``val`` holds log-alpha, ``other`` log-beta. ``post[g]``
        # collects P(cut in gap g) for g < M-1 and ``post[M-1 + j]`` P(the
        # best path's step starting at atom j exists with the same label).
        if ttype != SKIP and alive[dst]:
            p = math.exp(val[src] - cost + other[dst] - logz)
            m_atoms = unit_k.shape[0]
            if k < m_atoms:
                post[k - 1] += p
            if label >= 0 and unit_k[j] == k and unit_lab[j] == label:
                post[m_atoms - 1 + j] += p


@njit(cache=True, nogil=True, inline="always")
def _valid(mode, use_alive, val, alive, src) -> bool:
    if use_alive:
        return alive[src]
    if mode == MODE_VITERBI_FWD:
        return val[src] < _INF
    return True


@njit(cache=True, nogil=True)
def _comma_allowance(n_sig, sig_off, sig_gain, net, fracs, n_commas, inv2s2_pos, best) -> float:
    """Largest saving from reading internal pauses as the sentence's commas.

    Order-preserving assignment of commas (at fractions ``fracs``) to pauses
    (at net-time offsets ``sig_off``), each pairing saving the pause's
    internal cost minus a position penalty; ``best`` is scratch space.
    """
    if n_commas == 0 or n_sig == 0 or net <= 0.0:
        return 0.0
    # best[c, g]: max saving using the first c commas and the first g pauses.
    for g in range(n_sig + 1):
        best[0, g] = 0.0
    for c in range(1, n_commas + 1):
        best[c, 0] = 0.0
        f = fracs[c - 1]
        for g in range(1, n_sig + 1):
            x = sig_off[g - 1] / net
            d = x - f
            gain = sig_gain[g - 1] - d * d * inv2s2_pos
            take = best[c - 1, g - 1] + (gain if gain > 0.0 else 0.0)
            leave = best[c, g - 1]
            skip_comma = best[c - 1, g]
            v = take if take > leave else leave
            best[c, g] = v if v > skip_comma else skip_comma
    return best[n_commas, n_sig]


@njit(cache=True, nogil=True, inline="always")
def _read_cost(
    penalty, sentence, ls, base, mulog, inv2s2, n_sig, sig_off, sig_gain, net, fracs,
    ncommas, inv2s2_pos, comma_miss, scratch, first, stamp, allow_val, allow_at,
):  # fmt: skip
    """What reading atoms j..k-1 as ``sentence`` costs (a match, a repeat or an
    attempt): the duration cost, less what its pauses earn as the sentence's
    commas, plus ``penalty``. Only the cost: the sweep applies it itself. A
    helper that also applied the transition (inlined or not) made the sweep
    1.5-2 times slower (segment_speech on an hour: 5.4 s against 3.6 s).

    The comma allowance depends only on the step (j, k) and the sentence, and
    each sentence is read up to three times per step (a match and an attempt
    of i, a repeat of it from i+1): it is computed once per step and sentence,
    kept in ``allow_val`` at ``sentence - first + 1`` and marked with the
    step's ``stamp``. The sum below is the same expression in the same order,
    so the costs are the same to the bit."""
    d = ls - mulog[sentence]
    slot = sentence - first + 1
    if allow_at[slot] != stamp:
        allow_val[slot] = _comma_allowance(
            n_sig, sig_off, sig_gain, net, fracs[sentence], ncommas[sentence], inv2s2_pos, scratch
        )
        allow_at[slot] = stamp
    allowance = allow_val[slot]
    return penalty + d * d * inv2s2 + base + comma_miss * ncommas[sentence] - allowance


@njit(cache=True, nogil=True, inline="always")
def _skips(
    mode,
    forward,
    j,
    lo_j,
    hi_j,
    width,
    s_skip,
    use_alive,
    val,
    other,
    alive,
    bp_src,
    bp_type,
    post,
    unit_k,
    unit_lab,
    logz,
):
    """Every skip in column j. Skips stay in the column, so they are visited by
    ascending i going forward and descending i going back: each source is final
    when it is read."""
    for step in range(hi_j - lo_j):
        i = lo_j + step if forward else hi_j - 1 - step
        src = j * width + (i - lo_j)
        if _valid(mode, use_alive, val, alive, src):
            _apply(
                mode, src, src + 1, s_skip, SKIP, -1, j, j,
                val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
            )  # fmt: skip


# Inlined into each of ``SWEEPS`` below, which fix ``mode``.
@njit(cache=True, nogil=True, inline="always")
def _sweep(
    mode,
    starts,
    ends,
    cut,
    intc,
    pref,
    pex,
    mulog,
    maxspan,
    ncommas,
    fracs,
    rep_pen,
    lo,
    width,
    prm,
    val,
    other,
    alive,
    bp_src,
    bp_type,
    post,
    unit_k,
    unit_lab,
    logz,
):
    """Visit every transition of the banded lattice in the order ``mode`` needs.

    Forward modes visit sources by increasing (j, i), backward modes by
    decreasing (j, i), so every value a step reads is final when it is read.
    ``rep_pen[j]`` is added to every repeat and attempt starting at atom j:
    where the two readings of a supposed repeat do not sound alike.
    """
    m_atoms = starts.shape[0]
    n_sent = mulog.shape[0]
    forward = mode != MODE_VITERBI_BWD and mode != MODE_SUM_BWD
    # Every mode but the forward Viterbi is restricted to ``alive`` states: the
    # backward Viterbi to states reachable from the start, the sums and the
    # posterior to states within the beam of the best path.
    use_alive = mode != MODE_VITERBI_FWD
    s_skip = prm[P_SKIP]
    s_ins = prm[P_INSERT]
    s_rep = prm[P_REPEAT]
    inv2s2 = prm[P_INV2S2]
    inv2s2_ins = prm[P_INV2S2_INS]
    mulog_ins = prm[P_MULOG_INS]
    max_insert = prm[P_MAX_INSERT]
    slack = prm[P_SLACK]
    comma = prm[P_COMMA]
    max_span = prm[P_MAX_SPAN]
    inv2s2_pos = prm[P_INV2S2_POS]
    sig_min = prm[P_SIG_GAIN]
    ins_pause = prm[P_INSERT_PAUSE]
    comma_miss = prm[P_COMMA_MISS]
    sig_off = np.zeros(_MAX_SIG)
    sig_gain = np.zeros(_MAX_SIG)
    scratch = np.zeros((MAX_COMMAS + 1, _MAX_SIG + 1))
    # Comma allowances of the current step, by sentence (see _read_cost).
    allow_val = np.zeros(width + 2)
    allow_at = np.full(width + 2, -1, dtype=np.int64)
    stamp = 0
    for jj in range(m_atoms + 1):
        j = jj if forward else m_atoms - jj
        lo_j = lo[j]
        hi_j = min(n_sent, lo_j + width - 1)
        if forward:
            _skips(
                mode, forward, j, lo_j, hi_j, width, s_skip, use_alive,
                val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
            )  # fmt: skip
        # The sources worth extending in this column: a contiguous sub-range of
        # the band in practice, found once instead of testing per step.
        first = hi_j + 1
        last = lo_j - 1
        for i in range(lo_j, hi_j + 1):
            if _valid(mode, use_alive, val, alive, j * width + (i - lo_j)):
                if i < first:
                    first = i
                last = i
        if j < m_atoms and first <= last:
            s_rep_j = s_rep + rep_pen[j]
            n_sig = 0
            top_gain = 0.0
            for k in range(j + 1, m_atoms + 1):
                span = ends[k - 1] - starts[j]
                n_atoms = k - j
                if n_atoms > 1:
                    if span > max_span:
                        break
                    g = k - 2  # the gap that just became internal
                    gain = intc[g] - comma
                    if gain > sig_min and n_sig < _MAX_SIG:
                        # Net speaking time from the step's start to the pause.
                        sig_off[n_sig] = (ends[g] - starts[j]) - (pex[g] - pex[j])
                        sig_gain[n_sig] = gain + comma_miss
                        n_sig += 1
                    if gain > top_gain:
                        top_gain = gain
                net = span - (pex[k - 1] - pex[j])
                base = pref[k - 1] - pref[j] + (cut[k - 1] if k < m_atoms else 0.0)
                ls = math.log(net + slack)
                lo_k = lo[k]
                hi_k = min(n_sent, lo_k + width - 1)
                d_ins = ls - mulog_ins
                # Unscripted speech has commas too: its longest pause is cheaper.
                ins_relief = top_gain - ins_pause if top_gain > ins_pause else 0.0
                ins_cost = s_ins + d_ins * d_ins * inv2s2_ins + base - ins_relief
                ins_ok = n_atoms == 1 or span <= max_insert
                stamp += 1
                for i in range(first, last + 1):
                    src = j * width + (i - lo_j)
                    if not _valid(mode, use_alive, val, alive, src):
                        continue
                    # Match sentence i.
                    if i < n_sent and lo_k <= i + 1 <= hi_k and (n_atoms == 1 or net <= maxspan[i]):
                        cost = _read_cost(
                            0.0, i, ls, base, mulog, inv2s2, n_sig, sig_off, sig_gain,
                            net, fracs, ncommas, inv2s2_pos, comma_miss, scratch, first, stamp,
                            allow_val, allow_at,
                        )  # fmt: skip
                        _apply(
                            mode, src, k * width + (i + 1 - lo_k), cost, MATCH, i, j, k,
                            val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
                        )  # fmt: skip
                    if lo_k <= i <= hi_k:
                        # Repeat sentence i-1 right after reading it.
                        if i >= 1 and (n_atoms == 1 or net <= maxspan[i - 1]):
                            cost = _read_cost(
                                s_rep_j, i - 1, ls, base, mulog, inv2s2, n_sig, sig_off, sig_gain,
                                net, fracs, ncommas, inv2s2_pos, comma_miss, scratch, first, stamp,
                            allow_val, allow_at,
                            )  # fmt: skip
                            _apply(
                                mode, src, k * width + (i - lo_k), cost, REPEAT, i - 1, j, k,
                                val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
                            )  # fmt: skip
                        # A first attempt at sentence i, read again right after:
                        # the mirror of a repeat. Without it, "attempt + match"
                        # could only be "insert + match", and the attempt's text
                        # (sentence i all the same) would look doubtful.
                        if i < n_sent and (n_atoms == 1 or net <= maxspan[i]):
                            cost = _read_cost(
                                s_rep_j, i, ls, base, mulog, inv2s2, n_sig, sig_off, sig_gain,
                                net, fracs, ncommas, inv2s2_pos, comma_miss, scratch, first, stamp,
                            allow_val, allow_at,
                            )  # fmt: skip
                            _apply(
                                mode, src, k * width + (i - lo_k), cost, ATTEMPT, i, j, k,
                                val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
                            )  # fmt: skip
                        # Insert unscripted speech.
                        if ins_ok:
                            _apply(
                                mode, src, k * width + (i - lo_k), ins_cost, INSERT, -1, j, k,
                                val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
                            )  # fmt: skip
        if not forward:
            _skips(
                mode, forward, j, lo_j, hi_j, width, s_skip, use_alive,
                val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
            )  # fmt: skip


def _sweep_for(compiled_mode: int):
    """``_sweep`` compiled for one mode.

    The mode is a constant of the closure, so every test of it is folded
    and the innermost loop does only what that mode does: tested at run time,
    once per transition, those tests took about 40 % of the forward Viterbi
    pass. Numba caches each closure apart (its cache key includes the values
    the closure holds). ``_apply`` is left for LLVM to inline: inlined by
    numba too, the five variants took twice as long to compile from an empty
    cache (40 s against 19 s) and ran no faster.
    """

    @njit(cache=True, nogil=True)
    def sweep_mode(
        starts, ends, cut, intc, pref, pex, mulog, maxspan, ncommas, fracs, rep_pen, lo, width, prm,
        val, other, alive, bp_src, bp_type, post, unit_k, unit_lab, logz,
    ):  # fmt: skip
        _sweep(
            compiled_mode, starts, ends, cut, intc, pref, pex, mulog, maxspan, ncommas, fracs,
            rep_pen, lo, width, prm, val, other, alive, bp_src, bp_type, post, unit_k, unit_lab,
            logz,
        )  # fmt: skip

    return sweep_mode


SWEEPS = tuple(_sweep_for(mode) for mode in range(5))
