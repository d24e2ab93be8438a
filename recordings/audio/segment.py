"""Script-aware segmentation: cut a read recording into one chunk per sentence.

Input is the compact energy envelope (``envelope.py``) and the script's
sentences; output is a list of chunks covering all detected speech, each with
the index of the script sentence it holds when - and only when - that is
credible. See docs/segmentation.md for the reasoning; in short:

1. Speech regions ("atoms") are found on the envelope; the gaps between them
   are the only places a cut may go, so a cut never falls inside speech.
2. Each sentence's expected net speaking time is ``rate * length``, with the
   reader's own rate fitted on the recording (refitted on a first alignment,
   in steps for long recordings; short scripts try several seeds, since one
   unscripted sentence biases the first guess by its share).
3. Dynamic programming over (sentence, atom) aligns the two sequences with
   match / skip / insert / repeat steps (see ``_align.py``), scoring span
   against expectation and each gap as a sentence break or an in-sentence
   pause; a repeat stands only if its two readings sound alike. Comma pauses
   longer than sentence pauses are explained by the commas and the
   durations, not by "the N-1 longest pauses".
4. Forward-backward over the same lattice gives each chunk the probability of
   its label; a chunk keeps its sentence only if that probability is high and
   its duration plausible. Doubt is local: one skipped sentence only costs the
   labels around it. If the alignment as a whole is not credible, chunks are
   cut at pauses into 1-15 s pieces, unlabelled - except, when the reading
   only strayed from the script (too much unscripted speech, too little of
   the script), runs of consecutive script sentences, which keep theirs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import _align
from .envelope import Envelope, envelope_from_audio, speech_regions
from .text import chars_per_second, pause_positions, speech_length

__all__ = [
    "Segment",
    "SegmentParams",
    "Segmentation",
    "segment_envelope",
    "segment_speech",
]


_FORBIDDEN = 50.0  # a cost no alignment pays unless nothing else is possible


@dataclass(frozen=True)
class SegmentParams:
    # Chunk edges: silence kept around speech on each side; a pause shorter than
    # twice this is split in its middle.
    margin_seconds: float = 0.25
    min_gap_seconds: float = 0.06  # shorter silences are inside words
    # Noise floor and speech level are tracked over this many seconds each
    # side: short enough to follow a fan switched on mid-session, long enough
    # to always contain a pause.
    level_window_seconds: float = 3.0
    # Gap model: probability that a pause of g seconds separates sentences is a
    # logistic in log(g) centred here, used only to rank gaps locally; which
    # gaps are sentence breaks is decided by the durations.
    gap_midpoint_seconds: float = 0.2
    gap_log_scale: float = 0.35
    # A silence this long is a break, never the inside of a chunk: nobody
    # wants a chunk with seconds of silence in it, and readers who stop
    # mid-sentence that long usually restart the sentence anyway.
    long_break_seconds: float = 3.0
    # Durations are compared on net speaking time: each pause inside a chunk
    # counts at most this long, so long comma pauses do not inflate them.
    pause_cap_seconds: float = 0.2
    comma_chars: float = 2.0  # a comma adds about this many characters of time
    # Reading an internal pause as a comma: its price, how far (as a fraction of
    # the sentence) it may sit from the comma's place, and which pauses count.
    comma_pause_cost: float = 0.3
    comma_position_sigma: float = 0.08
    comma_min_gain: float = 0.5
    # A comma read without a pause near its place: readers mostly pause, so
    # this is evidence (about e^-1) against the span being that sentence -
    # what tells an unscripted sentence from a script one of the same length.
    comma_miss_cost: float = 1.0
    insert_pause_cost: float = 1.0  # one pause inside unscripted speech
    # Duration model: log-normal around the expected net time, with an
    # absolute slack so that short sentences are not judged on tens of
    # milliseconds. sigma is the prior spread; once a first alignment exists
    # it is re-estimated from the reader's own matched sentences (robustly,
    # and kept within the bounds), so a steady reader gets sharper evidence
    # and an erratic one more doubt.
    duration_sigma: float = 0.22
    duration_sigma_bounds: tuple[float, float] = (0.12, 0.3)
    duration_slack_seconds: float = 0.3
    # Priors: about one sentence in e^3.5 ~ 30 is skipped, repeated, or has
    # unscripted speech after it. Generous on purpose: a skip must compete
    # with contorted alignments (a sentence cut at its comma to stand in for
    # the missing one), so that doubt shows up in the posteriors instead of
    # as a confident shift of every label. A shift of labels needs two such
    # events (skip here, repeat or insert there): e^-7, rare enough that equal
    # sentences read evenly keep their labels.
    skip_cost: float = 3.5
    insert_cost: float = 3.5
    repeat_cost: float = 3.5
    insert_sigma: float = 0.9
    max_sentence_factor: float = 2.5
    # Unlabelled chunks (inserted speech, doubtful regions, fallback) are cut
    # at pauses to at most this long; their typical length follows the
    # script's sentences through the duration prior. There is no minimum: an
    # isolated short utterance ("okay") is better alone than glued to a
    # neighbour across a long silence.
    max_chunk_seconds: float = 15.0
    # When a chunk keeps its expected sentence.
    min_confidence: float = 0.9
    # In a doubtful region, cut only where nearly every alignment cuts: a
    # chunk holding two sentences costs a transcriber a few seconds, a cut
    # through a sentence loses it.
    doubtful_cut_confidence: float = 0.95
    min_duration_ratio: float = 0.6
    max_duration_ratio: float = 1.6
    # ... and is within this many of the reader's own standard deviations of
    # its expected duration: a chunk that fits only because the posterior had
    # nothing better (an aside's second half standing in for a sentence) is
    # typically 2-3 sigma off.
    max_duration_z: float = 2.0
    # When the alignment as a whole is credible.
    min_matched_fraction: float = 0.5
    max_inserted_fraction: float = 0.5  # speech not matched to a sentence
    # Net speech against the script's length at the language's default rate:
    # wide enough for slow readers and asides, not for another text.
    speech_amount_range: tuple[float, float] = (0.35, 3.0)
    max_median_log_ratio: float = 0.35
    rate_range: tuple[float, float] = (0.45, 2.2)  # reader's chars/s vs language default
    # When only the share of matched sentences or of unscripted speech fails,
    # labels are kept on runs of at least this many consecutive sentences.
    min_credible_run: int = 3
    # Lattice size: band of sentence indices around each atom's expected one,
    # and the pruning beam (nats) for the posterior pass.
    band_min: int = 20
    band_max: int = 60
    band_fraction: float = 0.1
    beam: float = 30.0
    # Seed rates tried, as factors of speech/script: unscripted speech makes
    # the seed too slow by its share of the speech (0.5: half of it), a
    # skipped sentence too fast. Only for scripts short enough for one
    # sentence to matter (and for the extra passes to be cheap).
    rate_search_factors: tuple[float, ...] = (0.5, 0.6, 0.7, 0.78, 0.86, 0.93, 1.0, 1.08, 1.18)
    rate_search_max_sentences: int = 120
    # Long recordings (30+ matched sentences) follow changes of rate as
    # steps: a new level costs this many log(N) squared sentence-to-sentence
    # deviations, and lasts at least ``rate_min_run`` sentences. Readers who
    # take turns change rate at once, which a running median smooths away.
    rate_change_penalty: float = 3.0
    rate_min_run: int = 3
    # A repeat is believed only if its two readings sound alike: the
    # correlation of their level contours (pauses capped, time normalised).
    # Two readings of a sentence by one voice correlate at 0.9 or more, two
    # different sentences below 0.45 (hard set).
    min_twin_similarity: float = 0.6
    twin_passes: int = 3


@dataclass(frozen=True)
class Segment:
    start: float  # chunk edges in seconds, silence margins included
    end: float
    speech_start: float  # the speech inside, without margins
    speech_end: float
    sentence: int | None  # index of the script sentence it holds, when credible
    confidence: float  # posterior probability of that sentence (0 when None)
    kind: str  # "sentence", "repeat", "extra", "doubtful" or "fallback"

    @property
    def aligned(self) -> bool:
        return self.sentence is not None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Segmentation:
    segments: list[Segment]
    aligned: bool  # the alignment as a whole was credible (if not, see ``_runs``)
    reason: str | None  # why not, when it was not
    seconds_per_char: float | None = None
    skipped: list[int] = field(default_factory=list)  # sentences the reader left out
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class _Atoms:
    starts: np.ndarray  # seconds
    ends: np.ndarray
    cut: np.ndarray  # cost of cutting in gap g (between atom g and g+1)
    intc: np.ndarray  # cost of gap g staying inside a chunk
    pref: np.ndarray  # prefix sums of intc, pref[g] = sum(intc[:g])
    pex: np.ndarray  # prefix sums of each gap's excess over the pause cap

    def net(self, j: int, k: int) -> float:
        """Net speaking time of atoms j..k-1 (internal pauses capped)."""
        return float(self.ends[k - 1] - self.starts[j] - (self.pex[k - 1] - self.pex[j]))

    @property
    def count(self) -> int:
        return int(self.starts.size)


@dataclass
class _Unit:
    kind: int  # _align.MATCH / REPEAT / ATTEMPT / INSERT
    label: int  # sentence index, -1 for inserts
    j: int  # atoms j..k-1
    k: int


def _atoms(env: Envelope, p: SegmentParams) -> _Atoms:
    regions = speech_regions(
        env, min_gap_seconds=p.min_gap_seconds, window_seconds=p.level_window_seconds
    )
    bounds = regions.bounds.astype(np.float64) * env.hop_seconds
    starts = bounds[:, 0].copy()
    ends = np.minimum(bounds[:, 1], env.duration)
    gaps = starts[1:] - ends[:-1]
    z = (np.log(np.maximum(gaps, 1e-3)) - math.log(p.gap_midpoint_seconds)) / p.gap_log_scale
    prob = np.clip(1.0 / (1.0 + np.exp(-z)), 1e-4, 1 - 1e-4)
    cut = -np.log(prob)
    intc = np.where(gaps >= p.long_break_seconds, _FORBIDDEN, -np.log1p(-prob))
    pref = np.concatenate([[0.0], np.cumsum(intc)])
    pex = np.concatenate([[0.0], np.cumsum(np.maximum(gaps - p.pause_cap_seconds, 0.0))])
    return _Atoms(starts, ends, cut, intc, pref, pex)


class _Lattice:
    """One alignment problem: atoms against sentences with expected spans ``mu``."""

    def __init__(
        self,
        atoms: _Atoms,
        mu: np.ndarray,
        fracs: np.ndarray,
        ncommas: np.ndarray,
        p: SegmentParams,
        insert_mu: float,
        sigma: float | None = None,
        rep_pen: np.ndarray | None = None,
    ) -> None:
        self.a = atoms
        self.rep_pen = np.zeros(atoms.count) if rep_pen is None else rep_pen
        self.p = p
        self.mu = mu
        self.n = int(mu.size)
        m = atoms.count
        slack = p.duration_slack_seconds
        self.mulog = np.log(mu + slack)
        self.maxspan = mu * p.max_sentence_factor + 2.0
        self.fracs = fracs
        self.ncommas = ncommas.astype(np.int64)
        prm = np.zeros(_align.N_PARAMS)
        prm[_align.P_SKIP] = p.skip_cost
        sigma = sigma or p.duration_sigma
        # Costs are -log densities: a duration is less likely under the vague
        # prior of unscripted speech than under a sentence's sharp one, by the
        # ratio of the spreads. Without this term, "insert" would explain a
        # repeated sentence as well as "repeat" does, and doubt its label.
        prm[_align.P_INSERT] = p.insert_cost + math.log(p.insert_sigma / sigma)
        prm[_align.P_REPEAT] = p.repeat_cost
        prm[_align.P_INV2S2] = 1.0 / (2 * sigma**2)
        prm[_align.P_INV2S2_INS] = 1.0 / (2 * p.insert_sigma**2)
        prm[_align.P_MULOG_INS] = math.log(insert_mu + slack)
        prm[_align.P_MAX_INSERT] = p.max_chunk_seconds
        prm[_align.P_SLACK] = slack
        prm[_align.P_COMMA] = p.comma_pause_cost
        # Steps longer than this in wall time are never considered; long
        # pauses are only capped in net time, so allow for a few of them.
        prm[_align.P_MAX_SPAN] = max(
            p.max_chunk_seconds, float(self.maxspan.max()) * 1.5 if self.n else 0.0
        )
        prm[_align.P_INV2S2_POS] = 1.0 / (2 * p.comma_position_sigma**2)
        prm[_align.P_SIG_GAIN] = p.comma_min_gain
        prm[_align.P_INSERT_PAUSE] = p.insert_pause_cost
        prm[_align.P_COMMA_MISS] = p.comma_miss_cost
        self.prm = prm
        self.lo, self.width = self._band(m)
        self.states = (m + 1) * self.width

    def _band(self, m: int) -> tuple[np.ndarray, int]:
        """Sentence-index band per atom boundary, from cumulative speech time.

        Long silences are capped when measuring "how far into the reading" an
        atom is, so a coffee break does not shift the expectation.
        """
        p = self.p
        n = self.n
        if n == 0:
            return np.zeros(m + 1, dtype=np.int64), 1
        half = int(min(p.band_max, max(p.band_min, math.ceil(p.band_fraction * n))))
        if 2 * half + 1 >= n + 1:
            return np.zeros(m + 1, dtype=np.int64), n + 1
        a = self.a
        dur = a.ends - a.starts
        gaps = np.minimum(a.starts[1:] - a.ends[:-1], 1.0)
        tau = np.concatenate([[0.0], np.cumsum(dur + np.concatenate([gaps, [0.0]]))])
        tau /= tau[-1] if tau[-1] > 0 else 1.0
        expected = np.concatenate([[0.0], np.cumsum(self.mu)])
        expected /= expected[-1] if expected[-1] > 0 else 1.0
        centre = np.interp(tau, expected, np.arange(n + 1, dtype=np.float64))
        lo = np.clip(np.floor(centre - half).astype(np.int64), 0, n - 2 * half)
        lo = np.maximum.accumulate(lo)
        lo[0] = 0
        lo[-1] = n - 2 * half
        return lo, 2 * half + 1

    def _index(self, i: int, j: int) -> int:
        return j * self.width + (i - int(self.lo[j]))

    def _sweep(self, mode: int, val: np.ndarray, **kw: np.ndarray | float) -> None:
        a = self.a
        empty_f = np.zeros(1)
        empty_b = np.zeros(1, dtype=np.bool_)
        empty_i = np.zeros(1, dtype=np.int64)
        _align.sweep(
            mode,
            a.starts,
            a.ends,
            a.cut,
            a.intc,
            a.pref,
            a.pex,
            self.mulog,
            self.maxspan,
            self.ncommas,
            self.fracs,
            self.rep_pen,
            self.lo,
            self.width,
            self.prm,
            val,
            kw.get("other", empty_f),
            kw.get("alive", empty_b),
            kw.get("bp_src", empty_i),
            kw.get("bp_type", np.zeros(1, dtype=np.int8)),
            kw.get("post", empty_f),
            kw.get("unit_k", empty_i),
            kw.get("unit_lab", empty_i),
            float(kw.get("logz", 0.0)),
        )

    def best_path(self) -> tuple[list[_Unit], list[int], float, np.ndarray]:
        m = self.a.count
        val = np.full(self.states, np.inf)
        bp_src = np.full(self.states, -1, dtype=np.int64)
        bp_type = np.full(self.states, -1, dtype=np.int8)
        start, final = self._index(0, 0), self._index(self.n, m)
        val[start] = 0.0
        self._sweep(_align.MODE_VITERBI_FWD, val, bp_src=bp_src, bp_type=bp_type)
        units: list[_Unit] = []
        skipped: list[int] = []
        state = final
        while state != start:
            prev = int(bp_src[state])
            kind = int(bp_type[state])
            if prev < 0:
                raise RuntimeError("alignment lattice has no path")  # band bug, not input
            j, k = prev // self.width, state // self.width
            i_prev = prev % self.width + int(self.lo[j])
            if kind == _align.SKIP:
                skipped.append(i_prev)
            else:
                labels = {_align.MATCH: i_prev, _align.ATTEMPT: i_prev, _align.REPEAT: i_prev - 1}
                label = labels.get(kind, -1)
                units.append(_Unit(kind, label, j, k))
            state = prev
        units.reverse()
        skipped.reverse()
        return units, skipped, float(val[final]), val

    def backward(self, alive: np.ndarray | None = None) -> np.ndarray:
        """Viterbi costs from each state to the end, over the ``alive`` states
        (all of them by default).

        Every step out of a state the forward pass reached leads to a state it
        reached (costs are finite), so over those states the costs are the
        same, to the bit, whether or not the pass is restricted to them; the
        others have no forward cost and never pass ``beam``. Unrestricted, the
        pass needs nothing from the forward one and can run beside it.
        """
        final = self._index(self.n, self.a.count)
        back = np.full(self.states, np.inf)
        back[final] = 0.0
        if alive is None:
            alive = np.ones(self.states, dtype=np.bool_)
        self._sweep(_align.MODE_VITERBI_BWD, back, alive=alive)
        return back

    def beam(self, forward: np.ndarray, best: float, back: np.ndarray | None = None) -> np.ndarray:
        """The states within ``beam`` of the best path (the others carry less
        than e^-beam of the mass), from the Viterbi forward costs and, when
        given, the backward ones (``backward``)."""
        if back is None:
            back = self.backward(np.isfinite(forward))
        return back + forward <= best + self.p.beam

    def posteriors(self, units: list[_Unit], alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(cut) for every gap, and P(step exists with its label) for each unit.

        Forward-backward over the ``alive`` states (see ``beam``). An hour has
        about a million states; the caller drops the Viterbi arrays first so
        that only these two are held at once.
        """
        m = self.a.count
        start, final = self._index(0, 0), self._index(self.n, m)
        alpha = np.full(self.states, -np.inf)
        alpha[start] = 0.0
        beta = np.full(self.states, -np.inf)
        beta[final] = 0.0
        # The two sums need only ``alive``, not each other: the kernel
        # releases the GIL, so on two cores they take the time of one.
        with ThreadPoolExecutor(max_workers=1) as other:
            backward = other.submit(self._sweep, _align.MODE_SUM_BWD, beta, alive=alive)
            self._sweep(_align.MODE_SUM_FWD, alpha, alive=alive)
            backward.result()
        logz = float(alpha[final])
        unit_k = np.full(m, -1, dtype=np.int64)
        unit_lab = np.full(m, -1, dtype=np.int64)
        for u in units:
            unit_k[u.j] = u.k
            unit_lab[u.j] = u.label
        post = np.zeros(2 * m - 1)
        self._sweep(
            _align.MODE_POSTERIOR,
            alpha,
            other=beta,
            alive=alive,
            post=post,
            unit_k=unit_k,
            unit_lab=unit_lab,
            logz=logz,
        )
        cut = np.clip(post[: m - 1], 0.0, 1.0)
        unit = np.array([post[m - 1 + u.j] if u.label >= 0 else 0.0 for u in units])
        return cut, np.clip(unit, 0.0, 1.0)


def _initial_seconds_per_char(atoms: _Atoms, lengths: np.ndarray, p: SegmentParams) -> float:
    """Reader's rate before any alignment: net speaking time over script length.

    Each of the N-1 sentence breaks is assumed to be at least one capped pause
    long; the estimate only seeds the first alignment pass.
    """
    gaps = np.minimum(atoms.starts[1:] - atoms.ends[:-1], p.pause_cap_seconds)
    speech = float((atoms.ends - atoms.starts).sum() + gaps.sum())
    speech -= p.pause_cap_seconds * min(gaps.size, max(0, lengths.size - 1))
    return max(1e-3, speech) / max(1.0, float(lengths.sum()))


@dataclass
class _Fit:
    """The reader's fitted rate and spread, and the best alignment under them."""

    rate: float  # seconds per character
    mu: np.ndarray  # expected net time of each sentence
    sigma: float
    lattice: _Lattice
    units: list[_Unit]
    skipped: list[int]
    cost: float
    forward: np.ndarray  # Viterbi costs, for the posterior pass's beam
    back: np.ndarray  # backward Viterbi costs (``_Lattice.backward``), for the same


def _fit_reading(
    atoms: _Atoms,
    env: Envelope,
    lengths: np.ndarray,
    fracs: np.ndarray,
    ncommas: np.ndarray,
    seed: float,
    default_spc: float,
    p: SegmentParams,
) -> _Fit:
    """Align from a seed rate, refit rate and spread on the matched
    sentences, align again; on short scripts, from a few seeds, keeping the
    likeliest.

    The seed divides all the speech by all the script, so a sentence the
    reader added (or left out) biases it by that sentence's share: a fifth on
    a five-sentence script. An alignment seeded that far off stretches every
    sentence to absorb the extra one instead of inserting it, and refitting on
    that alignment keeps the error. Seeds are compared on their refitted best
    paths' negative log-likelihoods, each step's duration density counted
    whole: the lattice's costs leave out its normalisation, log(sigma) per
    step, which differs between fits and between paths with an extra step.
    On long scripts one sentence barely moves the seed, and the trimmed
    refit corrects what it does: one seed.
    """
    rep_pen = np.zeros(atoms.count)  # where repeats are ruled out, see _gated_path
    factors = p.rate_search_factors if lengths.size <= p.rate_search_max_sentences else (1.0,)
    # The last alignment of the fit that is kept also needs its backward pass
    # (for the beam): with one seed that is this loop's only second pass.
    single = len(factors) == 1
    lo, hi = default_spc / p.rate_range[1], default_spc / p.rate_range[0]
    fits: list[tuple[float, int, _Fit]] = []
    for order, factor in enumerate(factors):
        rate = float(np.clip(seed * factor, lo, hi))
        mu = rate * lengths
        lattice = _Lattice(atoms, mu, fracs, ncommas, p, float(np.median(mu)), rep_pen=rep_pen)
        units = _gated_path(lattice, atoms, env, rep_pen, p, with_back=False)[0]
        rate, local, sigma = _refit(units, atoms, lengths, rate, p)
        mu = rate * lengths * local
        lattice = _Lattice(atoms, mu, fracs, ncommas, p, float(np.median(mu)), sigma, rep_pen)
        units, skipped, cost, forward, back = _gated_path(
            lattice, atoms, env, rep_pen, p, with_back=single
        )
        fit = _Fit(rate, mu, sigma, lattice, units, skipped, cost, forward, back)
        fits.append((cost + len(units) * math.log(sigma), order, fit))
    _, _, best = min(fits, key=lambda f: f[:2])
    if not single:
        # Later seeds may have ruled out more repeats than this fit knew of.
        best.units, best.skipped, best.cost, best.forward, best.back = _gated_path(
            best.lattice, atoms, env, rep_pen, p, with_back=True
        )
    return best


def _gated_path(
    lattice: _Lattice,
    atoms: _Atoms,
    env: Envelope,
    rep_pen: np.ndarray,
    p: SegmentParams,
    *,
    with_back: bool,
) -> tuple[list[_Unit], list[int], float, np.ndarray, np.ndarray | None]:
    """The lattice's best path once no repeat on it pairs two unlike readings.

    Each pass forbids the repeats whose readings differ (``rep_pen``, shared
    with the caller so later lattices start from what is known) and aligns
    again; a handful of passes settles it.

    ``with_back``: also return the lattice's backward Viterbi costs, computed
    in a second thread beside each forward pass (the kernel releases the
    GIL), so on two cores they cost no time. A pass that forbids repeats
    changes the costs, so its backward costs are dropped with it.
    """
    back = None
    with ThreadPoolExecutor(max_workers=1) as other:
        for _ in range(max(1, p.twin_passes)):
            # rep_pen is read by both passes and written only after both ended.
            pending = other.submit(lattice.backward) if with_back else None
            try:
                units, skipped, best, forward = lattice.best_path()
            finally:
                back = pending.result() if pending is not None else None
            unlike = [j for j in _unlike_twins(units, atoms, env, p) if rep_pen[j] == 0.0]
            if not unlike:
                break
            rep_pen[unlike] = _FORBIDDEN
    return units, skipped, best, forward, back


def _refit(
    units: list[_Unit], atoms: _Atoms, lengths: np.ndarray, rate: float, p: SegmentParams
) -> tuple[float, np.ndarray, float]:
    """Refit the reader's seconds-per-char and duration spread on matched units.

    Returns (rate, per-sentence local factor, sigma). Units far from the
    median ratio are left out: they are the likeliest misalignments. For long
    scripts a piecewise-constant fit of the ratios follows a reader who speeds
    up or slows down over the session, or readers who take turns.
    """
    n = lengths.size
    local = np.ones(n)
    matched = [u for u in units if u.kind == _align.MATCH]
    if len(matched) < 2:
        return rate, local, p.duration_sigma
    idx = np.array([u.label for u in matched])
    log_ratio = np.log(np.array([atoms.net(u.j, u.k) for u in matched]) / lengths[idx])
    keep = np.abs(log_ratio - np.median(log_ratio)) < 0.4
    if keep.sum() >= 2:
        idx, log_ratio = idx[keep], log_ratio[keep]
    new_rate = float(np.exp(np.mean(log_ratio)))
    r = log_ratio - math.log(new_rate)
    if idx.size >= 30:
        smooth = _rate_steps(r, p)
        local = np.exp(np.interp(np.arange(n), idx, smooth))
        r = r - smooth
    sigma = p.duration_sigma
    if idx.size >= 5:
        # 1.4826 * MAD estimates a standard deviation; 1.25 of it leaves room
        # for the sentences the estimate has not seen.
        spread = 1.4826 * float(np.median(np.abs(r - np.median(r))))
        lo, hi = p.duration_sigma_bounds
        sigma = float(np.clip(1.25 * spread, lo, hi))
    return new_rate, local, sigma


def _rate_steps(r: np.ndarray, p: SegmentParams) -> np.ndarray:
    """Piecewise-constant fit of the log rate residuals ``r`` (sentence order).

    Optimal partitioning: squared error within segments plus a penalty per
    change, scaled by the sentence-to-sentence noise (from first
    differences, which a step barely affects). A steady reader gets one
    segment; readers who take turns, or one who tires, get a level each.
    """
    n = r.size
    d = np.diff(r)
    noise = max(1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2), 0.02)
    beta = p.rate_change_penalty * math.log(n) * noise**2
    min_len = p.rate_min_run
    s1 = np.concatenate([[0.0], np.cumsum(r)])
    s2 = np.concatenate([[0.0], np.cumsum(r * r)])
    best = np.full(n + 1, np.inf)
    best[0] = -beta
    prev = np.zeros(n + 1, dtype=np.int64)
    for t in range(min_len, n + 1):
        s = np.arange(0, t - min_len + 1)
        s = s[np.isfinite(best[s])]
        if s.size == 0:
            continue
        length = t - s
        sse = s2[t] - s2[s] - (s1[t] - s1[s]) ** 2 / length
        cost = best[s] + sse + beta
        k = int(np.argmin(cost))
        best[t], prev[t] = cost[k], s[k]
    out = np.empty(n)
    t = n
    if not np.isfinite(best[n]):
        return np.full(n, float(np.median(r)))
    while t > 0:
        s = int(prev[t])
        out[s:t] = float(np.median(r[s:t]))
        t = s
    return out


def _fallback_units(
    atoms: _Atoms,
    j0: int,
    k0: int,
    p: SegmentParams,
    target: float,
    cut_post: np.ndarray | None = None,
) -> list[_Unit]:
    """Pause-based chunks over atoms j0..k0-1: up to 15 s, cut at the best pauses.

    The same lattice with no sentences: only unlabelled steps, whose duration
    prior (around ``target``) and per-chunk cost keep chunks sentence-sized.
    With ``cut_post`` the alignment's break probabilities replace the generic
    pause model, so a pause the script explains as a comma is avoided.
    """
    cut, intc = atoms.cut[j0 : k0 - 1], atoms.intc[j0 : k0 - 1]
    if cut_post is not None:
        prob = np.clip(cut_post[j0 : k0 - 1], 1e-4, 1 - 1e-4)
        cut, intc = -np.log(prob), -np.log1p(-prob)
    sub = _Atoms(
        atoms.starts[j0:k0],
        atoms.ends[j0:k0],
        cut,
        intc,
        np.concatenate([[0.0], np.cumsum(intc)]),
        atoms.pex[j0:k0] - atoms.pex[j0],
    )
    lattice = _Lattice(
        sub,
        np.zeros(0),
        np.zeros((0, _align.MAX_COMMAS)),
        np.zeros(0, np.int64),
        p,
        insert_mu=target,
    )
    units, _, _, _ = lattice.best_path()
    return [_Unit(_align.INSERT, -1, u.j + j0, u.k + j0) for u in units]


def _comma_table(sentences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    fracs = np.zeros((len(sentences), _align.MAX_COMMAS))
    counts = np.zeros(len(sentences), dtype=np.int64)
    for i, sentence in enumerate(sentences):
        positions = pause_positions(sentence)
        if len(positions) > _align.MAX_COMMAS:
            # Keep the marks that split the sentence most evenly: readers
            # pause at the big joints, not at every comma of a list.
            positions = sorted(sorted(positions, key=lambda f: abs(f - 0.5))[: _align.MAX_COMMAS])
        counts[i] = len(positions)
        fracs[i, : len(positions)] = positions
    return fracs, counts


def segment_speech(
    env: Envelope | np.ndarray,
    sentences: Sequence[str],
    language: str | None = None,
    params: SegmentParams | None = None,
) -> Segmentation:
    """Chunk a recording of ``sentences`` read aloud; see the module docstring.

    ``env`` is the recording's envelope, or (for short clips) its 16 kHz mono
    samples. Never raises on odd input: no speech gives no segments.
    """
    p = params or SegmentParams()
    if isinstance(env, np.ndarray):
        env = envelope_from_audio(env, 16000)
    atoms = _atoms(env, p)
    n = len(sentences)
    if atoms.count == 0:
        return Segmentation([], aligned=False, reason="no speech found")
    if n == 0:
        units = _fallback_units(atoms, 0, atoms.count, p, target=4.0)
        return Segmentation(
            _finish(units, atoms, env, p, None, None, None),
            aligned=False,
            reason="the script has no sentences",
        )
    fracs, ncommas = _comma_table(sentences)
    lengths = np.array(
        [
            max(1, speech_length(s)) + p.comma_chars * c
            for s, c in zip(sentences, ncommas, strict=True)
        ],
        dtype=np.float64,
    )
    default_spc = 1.0 / chars_per_second(language)
    seed = _initial_seconds_per_char(atoms, lengths, p)
    fit = _fit_reading(atoms, env, lengths, fracs, ncommas, seed, default_spc, p)
    rate, mu, sigma, lattice = fit.rate, fit.mu, fit.sigma, fit.lattice
    units, skipped, best = fit.units, fit.skipped, fit.cost
    alive = lattice.beam(fit.forward, best, fit.back)
    del fit
    cut_post, unit_post = lattice.posteriors(units, alive)
    del alive

    reason, partial = _credibility(units, atoms, n, rate, default_spc, mu, p, lengths)
    stats = {
        "atoms": float(atoms.count),
        "sentences": float(n),
        "matched": float(sum(u.kind == _align.MATCH for u in units)),
        "inserted": float(sum(u.kind == _align.INSERT for u in units)),
        "repeated": float(sum(u.kind in (_align.REPEAT, _align.ATTEMPT) for u in units)),
        "skipped": float(len(skipped)),
        "chars_per_second": 1.0 / rate,
        "duration_sigma": sigma,
        "cost": best,
        "band": float(lattice.width),
    }
    if reason is not None and not partial:
        units = _fallback_units(atoms, 0, atoms.count, p, target=float(np.median(mu)))
        segments = _finish(units, atoms, env, p, None, None, None)
        return Segmentation(
            segments, aligned=False, reason=reason, seconds_per_char=rate, skipped=[], stats=stats
        )
    segments = _finish(
        units,
        atoms,
        env,
        p,
        (cut_post, unit_post),
        mu,
        float(np.median(mu)),
        sigma,
        min_run=p.min_credible_run if partial else 1,
    )
    stats["labelled"] = float(sum(s.aligned for s in segments))
    return Segmentation(
        segments,
        aligned=reason is None,
        reason=reason,
        seconds_per_char=rate,
        skipped=skipped if reason is None else [],
        stats=stats,
    )


def _contour(
    env: Envelope, atoms: _Atoms, u: _Unit, p: SegmentParams, points: int = 64
) -> np.ndarray | None:
    """Level contour of a step's speech on a normalised net-time axis.

    Pauses are cut to the cap (a reader rests at a comma for a different time
    on each reading), levels are floored 30 dB under the step's loud frames,
    smoothed over 50 ms and resampled to ``points``.
    """
    hop = env.hop_seconds
    pieces = []
    cap = round(p.pause_cap_seconds / hop)
    for a in range(u.j, u.k):
        lo = int(atoms.starts[a] / hop)
        hi = int(atoms.ends[a] / hop)
        if a > u.j:
            pieces.append(env.db[int(atoms.ends[a - 1] / hop) : lo][:cap])
        pieces.append(env.db[lo:hi])
    x = np.concatenate(pieces).astype(np.float64) if pieces else np.zeros(0)
    if x.size < 5:
        return None
    x = np.maximum(x, np.percentile(x, 95) - 30.0)
    x = np.convolve(x, np.ones(5) / 5, mode="same")
    return np.interp(np.linspace(0, x.size - 1, points), np.arange(x.size), x)


def _similarity(env: Envelope, atoms: _Atoms, a: _Unit, b: _Unit, p: SegmentParams) -> float:
    ca, cb = _contour(env, atoms, a, p), _contour(env, atoms, b, p)
    if ca is None or cb is None:
        return 0.0
    ca, cb = ca - ca.mean(), cb - cb.mean()
    den = math.sqrt(float((ca * ca).sum() * (cb * cb).sum()))
    return float((ca * cb).sum()) / den if den > 0 else 0.0


def _unlike_twins(units: list[_Unit], atoms: _Atoms, env: Envelope, p: SegmentParams) -> list[int]:
    """Start atoms of the repeats and attempts whose two readings differ.

    A repeat is only claimed from durations inside the lattice; an extra
    sentence as long as its neighbour fits it as well as a true repeat does,
    and would carry the neighbour's text. Both readings' starts are returned:
    with the one forbidden, the other would become the repeat.
    """
    out: list[int] = []
    for idx, u in enumerate(units):
        if u.kind == _align.REPEAT and idx > 0:
            twin = units[idx - 1]
        elif u.kind == _align.ATTEMPT and idx + 1 < len(units):
            twin = units[idx + 1]
        else:
            continue
        if _similarity(env, atoms, u, twin, p) < p.min_twin_similarity:
            out += [u.j, twin.j]
    return out


def _credibility(
    units: list[_Unit],
    atoms: _Atoms,
    n: int,
    rate: float,
    default_spc: float,
    mu: np.ndarray,
    p: SegmentParams,
    lengths: np.ndarray,
) -> tuple[str | None, bool]:
    """Why the alignment as a whole cannot be trusted (None if it can), and
    whether its parts still can.

    The first test does not depend on the alignment at all: how much speech
    there is against how much the script holds at the language's usual rate.
    The alignment fits its own rate to the recording, so without this a
    reading of a different, longer text can still look self-consistent. That
    test, durations that do not fit and an implausible rate say the text or
    the reader's rate is not what the alignment assumes: nothing in it can be
    trusted. Too little of the script matched, or too much speech outside
    it, says only that the reading strayed: where it did follow the script,
    the labels still hold (``_runs``).
    """
    speech = atoms.net(0, atoms.count) - p.pause_cap_seconds * max(0, n - 1)
    expected = float(lengths.sum()) * default_spc
    lo, hi = p.speech_amount_range
    if not lo * expected <= speech <= hi * expected:
        return (
            f"{speech:.0f} s of speech for a script that takes about {expected:.0f} s: "
            "not a reading of this script"
        ), False
    matched = [u for u in units if u.kind == _align.MATCH]
    if matched:
        ratios = np.array([atoms.net(u.j, u.k) / mu[u.label] for u in matched])
        if np.median(np.abs(np.log(ratios))) > p.max_median_log_ratio:
            return "sentence durations do not fit the script", False
    cps, default_cps = 1.0 / rate, 1.0 / default_spc
    if not (p.rate_range[0] * default_cps <= cps <= p.rate_range[1] * default_cps):
        return f"implausible reading rate ({cps:.1f} characters per second)", False
    if len(matched) < p.min_matched_fraction * n:
        return f"only {len(matched)} of {n} sentences could be matched to the audio", True
    spans = {id(u): atoms.ends[u.k - 1] - atoms.starts[u.j] for u in units}
    total = sum(spans.values())
    unmatched = sum(spans[id(u)] for u in units if u.kind != _align.MATCH)
    if total > 0 and unmatched / total > p.max_inserted_fraction:
        return f"{unmatched / total:.0%} of the speech does not fit the script", True
    return None, False


_KIND_NAMES = {
    _align.MATCH: "sentence",
    _align.REPEAT: "repeat",
    _align.ATTEMPT: "repeat",
    _align.INSERT: "extra",
}


def _finish(
    units: list[_Unit],
    atoms: _Atoms,
    env: Envelope,
    p: SegmentParams,
    posterior: tuple[np.ndarray, np.ndarray] | None,
    mu: np.ndarray | None,
    target: float | None,
    sigma: float | None = None,
    min_run: int = 1,
) -> list[Segment]:
    """Turn the best path into chunks: label the credible steps, re-cut the rest.

    A step keeps its sentence when the probability of exactly that step with
    that label is high and its duration plausible. Between such steps, chunks
    are cut only where nearly all alignments cut (not where the best guess
    happened to put a break, which in a doubtful region is often a comma),
    and chunks longer than the limit are cut again at their likeliest breaks.
    With ``min_run`` > 1, labels are kept only on runs of that many
    consecutive sentences, and the rest is cut at pauses (see ``_runs``).
    """
    plan: list[tuple[_Unit, int | None, float, str]] = []
    if posterior is None or mu is None:
        plan = [(u, None, 0.0, "fallback") for u in units]
    else:
        cut_post, unit_post = posterior
        kind_of = np.full(atoms.count, "", dtype=object)
        for u in units:
            kind_of[u.j : u.k] = _KIND_NAMES[u.kind]
        pending: list[int] = []  # atoms waiting for a chunk, in order

        def flush() -> None:
            if not pending:
                return
            j = pending[0]
            for g in range(pending[0], pending[-1] + 1):
                if g == pending[-1] or cut_post[g] >= p.doubtful_cut_confidence:
                    kinds = set(kind_of[j : g + 1])
                    kind = "extra" if kinds == {"extra"} else "doubtful"
                    whole = _Unit(_align.INSERT, -1, j, g + 1)
                    for sub in _split_long(whole, atoms, p, target, cut_post):
                        plan.append((sub, None, 0.0, kind))
                    j = g + 1
            pending.clear()

        slack = p.duration_slack_seconds
        for u, conf in zip(units, unit_post, strict=True):
            ratio = z = 0.0
            if u.label >= 0:
                net, expected = atoms.net(u.j, u.k), float(mu[u.label])
                ratio = net / expected
                z = abs(math.log((net + slack) / (expected + slack))) / (sigma or p.duration_sigma)
            if (
                u.label >= 0
                and conf >= p.min_confidence
                and p.min_duration_ratio <= ratio <= p.max_duration_ratio
                and z <= p.max_duration_z
            ):
                flush()
                plan.append((u, u.label, float(conf), _KIND_NAMES[u.kind]))
            else:
                pending.extend(range(u.j, u.k))
        flush()
        if min_run > 1:
            plan = _runs(plan, atoms, p, target or 4.0, min_run)
    segments: list[Segment] = []
    margin = p.margin_seconds
    for idx, (u, label, confidence, kind) in enumerate(plan):
        s, e = float(atoms.starts[u.j]), float(atoms.ends[u.k - 1])
        if idx == 0:
            start = max(0.0, s - margin)
        else:
            prev_end = float(atoms.ends[plan[idx - 1][0].k - 1])
            start = (prev_end + s) / 2 if s - prev_end <= 2 * margin else s - margin
        if idx == len(plan) - 1:
            end = min(env.duration, e + margin)
        else:
            nxt = float(atoms.starts[plan[idx + 1][0].j])
            end = (e + nxt) / 2 if nxt - e <= 2 * margin else e + margin
        segments.append(
            Segment(
                round(start, 3),
                round(end, 3),
                round(s, 3),
                round(e, 3),
                label,
                round(confidence, 4),
                kind,
            )
        )
    return segments


def _runs(
    plan: list[tuple[_Unit, int | None, float, str]],
    atoms: _Atoms,
    p: SegmentParams,
    target: float,
    min_run: int,
) -> list[tuple[_Unit, int | None, float, str]]:
    """Keep the labelled chunks that read at least ``min_run`` script sentences
    in order, one after the other; cut everything else at pauses, unlabelled.

    For alignments that fail as a whole only because too much of the reading
    is not in the script, or too little of the script was read: a run of
    consecutive sentences whose every duration fits is not a coincidence,
    while isolated labels there may be.
    """
    keep = [False] * len(plan)
    i = 0
    while i < len(plan):
        if plan[i][1] is None:
            i += 1
            continue
        k = i + 1
        while k < len(plan) and plan[k][1] is not None and 0 <= plan[k][1] - plan[k - 1][1] <= 1:
            k += 1
        if len({entry[1] for entry in plan[i:k]}) >= min_run:
            keep[i:k] = [True] * (k - i)
        i = k
    out: list[tuple[_Unit, int | None, float, str]] = []
    start: int | None = None  # first atom of the stretch waiting to be cut at pauses
    for entry, kept in zip(plan, keep, strict=True):
        if not kept:
            start = entry[0].j if start is None else start
            continue
        if start is not None:
            for u in _fallback_units(atoms, start, entry[0].j, p, target):
                out.append((u, None, 0.0, "fallback"))
            start = None
        out.append(entry)
    if start is not None:
        for u in _fallback_units(atoms, start, atoms.count, p, target):
            out.append((u, None, 0.0, "fallback"))
    return out


def _split_long(
    u: _Unit,
    atoms: _Atoms,
    p: SegmentParams,
    target: float | None,
    cut_post: np.ndarray | None = None,
) -> list[_Unit]:
    span = atoms.ends[u.k - 1] - atoms.starts[u.j]
    if span <= p.max_chunk_seconds or u.k - u.j == 1:
        return [u]
    return _fallback_units(atoms, u.j, u.k, p, target or 4.0, cut_post)


def segment_envelope(
    env: Envelope,
    *,
    sentences: Sequence[str],
    language: str | None = None,
    params: SegmentParams | None = None,
) -> list[Segment]:
    """The chunks of ``segment_speech``, for callers that need nothing else."""
    return segment_speech(env, sentences, language, params).segments
