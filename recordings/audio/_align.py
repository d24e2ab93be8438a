"""The sentence/speech alignment lattice of ``segment.py``: its steps, the
kernel's parameters and modes, and ``sweep``, which runs the kernel
(``_align_kernel.py``, through ``kernels``).

The lattice has a state (i, j) for "the first i script sentences are accounted
for and the first j speech atoms consumed". From a state, one step is:

* match  (i, j) -> (i+1, k): atoms j..k-1 are a reading of sentence i;
* repeat (i, j) -> (i, k):   atoms j..k-1 read sentence i-1 again;
* attempt (i, j) -> (i, k):  atoms j..k-1 read sentence i, which is read again;
* insert (i, j) -> (i, k):   atoms j..k-1 are speech not in the script;
* skip   (i, j) -> (i+1, j): sentence i was not read.

A step that consumes atoms ends with a cut in the gap after atom k-1 (none
after the last atom). Costs are negative log-likelihoods, so one lattice gives
both the best path (min-sum) and posteriors (log-sum-exp). States live in a
band of sentence indices around where each atom is expected, stored as
``(M + 1) * W`` flat arrays: an hour-long recording stays within megabytes.

Cost of a step over atoms j..k-1 read as sentence i:

* duration: ``((log(D + s) - log(mu_i + s)) / sigma)^2 / 2`` where D is the
  *net* speaking time (span minus the part of each internal pause above a
  cap), so how long someone pauses at a comma does not distort the estimate;
* internal pauses: each gap inside the step costs -log P(not a break | gap).
  A sentence with commas at fractions f of its length may instead pause at up
  to three gaps for a small price, *if* each such gap sits near the matching
  fraction of the step's net time, and pays more for each comma without such
  a pause (readers mostly pause at commas). This is what tells a long comma
  pause from a sentence break, and one sentence from another of the same
  length: position, not length;
* the cut after the step: -log P(break | gap).
"""

from __future__ import annotations

from . import kernels

MATCH, REPEAT, INSERT, SKIP, ATTEMPT = 1, 2, 3, 0, 4

# Indices into the float parameter vector passed to the kernel.
(
    P_SKIP,
    P_INSERT,
    P_REPEAT,
    P_INV2S2,
    P_INV2S2_INS,
    P_MULOG_INS,
    P_MAX_INSERT,
    P_SLACK,
    P_COMMA,
    P_MAX_SPAN,
    P_INV2S2_POS,
    P_SIG_GAIN,
    P_INSERT_PAUSE,
    P_COMMA_MISS,
) = range(14)
N_PARAMS = 14
MAX_COMMAS = 3

MODE_VITERBI_FWD, MODE_VITERBI_BWD, MODE_SUM_FWD, MODE_SUM_BWD, MODE_POSTERIOR = range(5)


def sweep(mode: int, *args) -> None:
    """Visit every transition of the banded lattice in the order ``mode``
    needs (see ``_align_kernel._sweep``). Releases the GIL while it runs:
    passes that do not depend on each other's results can run in threads, on
    two cores."""
    kernels.sweep(mode, *args)
