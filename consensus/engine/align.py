"""ROVER-style multiple alignment of token sequences into slots.

Voters are merged one at a time, heaviest first, so the most reliable
transcript shapes the skeleton. Each new sequence is aligned to the slots
built so far by dynamic programming:

- matching a word to a slot costs 1 − the best character similarity between
  the word and the slot's words (RapidFuzz normalised Indel similarity), so
  spelling variants (ি/ী, শ/ষ/স, colour/color) line up instead of shifting
  the rest of the sentence;
- leaving a slot empty (deletion) costs the share of the already-merged
  weight that put a word there, so skipping a word only one light voter
  inserted is nearly free;
- a word without a slot (insertion) costs 1 and opens a new slot in which
  every voter merged so far gets NULL.

Speed: a full Python DP per voter would be far too slow for the decision rate
we need, so exact matches are anchored first with RapidFuzz's C++
Levenshtein opcodes against each slot's heaviest word, and the similarity DP
runs only inside the short stretches between anchors. Crowd transcripts of
one clip agree on most words, so those stretches are usually 0–3 words long.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Indel, Levenshtein

INSERTION_COST = 1.0


class Slot:
    """One aligned position: what each merged voter put there (None = nothing).

    ``word_weight`` and ``null_weight`` are the running vote totals, so the
    full vote needs no second pass over the entries; ``best`` is the heaviest
    word so far (the first one on ties), used as the anchor skeleton.
    A plain class with ``__slots__``: thousands are built per second.
    """

    __slots__ = ("best", "entries", "null_weight", "word_weight")

    def __init__(
        self,
        entries: list[str | None],
        null_weight: float = 0.0,
        word: str = "",
        weight: float = 0.0,
    ) -> None:
        """A slot holding ``entries`` (already counted in ``null_weight``) and,
        when ``word`` is given, one more voter of ``weight`` who wrote it."""
        self.entries = entries
        self.null_weight = null_weight
        if word:
            entries.append(word)
            self.word_weight: dict[str, float] = {word: weight}
        else:
            self.word_weight = {}
        self.best = word

    def __repr__(self) -> str:
        return f"Slot({self.entries!r})"

    def add(self, word: str | None, weight: float) -> None:
        self.entries.append(word)
        if word is None:
            self.null_weight += weight
            return
        total = self.word_weight.get(word, 0.0) + weight
        self.word_weight[word] = total
        if not self.best or (word != self.best and total > self.word_weight[self.best]):
            self.best = word

    def deletion_cost(self) -> float:
        total = self.null_weight + sum(self.word_weight.values())
        # Only weightless (silenced) voters so far: no evidence either way.
        return 1.0 - self.null_weight / total if total > 0.0 else 0.5


# Windows with more cells than this get their similarities from one RapidFuzz
# ``cdist`` call; below it, numpy's fixed overhead costs more than it saves.
_CDIST_MIN_CELLS = 49


def _substitution_costs(slots: Sequence[Slot], tokens: list[str]) -> list[list[float]]:
    """1 − the best similarity between each slot's words and each token."""
    if len(slots) * len(tokens) < _CDIST_MIN_CELLS:
        similarity = Indel.normalized_similarity
        costs = []
        for slot in slots:
            words = slot.word_weight
            if len(words) == 1:
                # Most slots hold one spelling (similarity 1 to itself: cost 0).
                (word,) = words
                costs.append([1.0 - similarity(word, token) for token in tokens])
            else:
                costs.append(
                    [1.0 - max([similarity(word, token) for word in words]) for token in tokens]
                )
        return costs
    words: list[str] = []
    offsets: list[int] = []
    for slot in slots:
        offsets.append(len(words))
        words.extend(slot.word_weight)
    # float64, so the costs equal the per-pair path bit for bit.
    matrix = process.cdist(words, tokens, scorer=Indel.normalized_similarity, dtype=np.float64)
    return (1.0 - np.maximum.reduceat(matrix, offsets, axis=0)).tolist()


def _align_window(slots: Sequence[Slot], tokens: list[str]) -> list[tuple[int, int]]:
    """Optimal alignment of a short window; pairs (slot index or -1, token index or -1)."""
    n, m = len(slots), len(tokens)
    if n == 1 and m == 1:
        # The most common window, a one-word substitution: pairing costs at
        # most 1, while deleting and inserting costs at least 1 + 0 and
        # the tie goes to the pairing anyway.
        return [(0, 0)]
    deletion = [slot.deletion_cost() for slot in slots]
    substitution = _substitution_costs(slots, tokens)
    # cost[i][j]: best cost of aligning slots[:i] with tokens[:j].
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    move = [[0] * (m + 1) for _ in range(n + 1)]  # 0 diagonal, 1 deletion, 2 insertion
    for j in range(1, m + 1):
        cost[0][j] = cost[0][j - 1] + INSERTION_COST
        move[0][j] = 2
    for i in range(1, n + 1):
        sub = substitution[i - 1]
        row, prev = cost[i], cost[i - 1]
        drop = deletion[i - 1]
        row[0] = prev[0] + drop
        move[i][0] = 1
        for j in range(1, m + 1):
            best = prev[j - 1] + sub[j - 1]
            step = 0
            candidate = prev[j] + drop
            if candidate < best:
                best, step = candidate, 1
            candidate = row[j - 1] + INSERTION_COST
            if candidate < best:
                best, step = candidate, 2
            row[j] = best
            move[i][j] = step
    pairs: list[tuple[int, int]] = []
    i, j = n, m
    while i or j:
        step = move[i][j]
        if step == 0:
            i, j = i - 1, j - 1
            pairs.append((i, j))
        elif step == 1:
            i -= 1
            pairs.append((i, -1))
        else:
            j -= 1
            pairs.append((-1, j))
    pairs.reverse()
    return pairs


def _merge(
    slots: list[Slot], tokens: list[str], weight: float, merged: int, merged_weight: float
) -> list[Slot]:
    """Align ``tokens`` to ``slots`` and return the new slot list with the voter added.

    ``merged`` voters of total weight ``merged_weight`` are already in; a new
    slot gives each of them a NULL.
    """
    if not slots:
        return [Slot([None] * merged, merged_weight, token, weight) for token in tokens]
    out: list[Slot] = []

    # Consecutive non-equal opcodes form one window: an insert next to a
    # replace (``airtight`` vs ``air tight``) must be solved together.
    opcodes = Levenshtein.opcodes([slot.best for slot in slots], tokens)
    window: list[int] | None = None  # [i1, i2, j1, j2]
    for tag, i1, i2, j1, j2 in [*opcodes, ("equal", 0, 0, 0, 0)]:
        if tag != "equal":
            if window is None:
                window = [i1, i2, j1, j2]
            else:
                window[1], window[3] = i2, j2
            continue
        if window is not None:
            w_i1, w_i2, w_j1, w_j2 = window
            window = None
            if w_i1 == w_i2:
                pairs: Iterable[tuple[int, int]] = ((-1, j) for j in range(w_j1, w_j2))
            elif w_j1 == w_j2:
                pairs = ((i, -1) for i in range(w_i1, w_i2))
            else:
                pairs = (
                    (w_i1 + a if a >= 0 else -1, w_j1 + b if b >= 0 else -1)
                    for a, b in _align_window(slots[w_i1:w_i2], tokens[w_j1:w_j2])
                )
            for i, j in pairs:
                if i < 0:
                    # A slot opened by this token: every voter merged before gets NULL.
                    out.append(Slot([None] * merged, merged_weight, tokens[j], weight))
                else:
                    slot = slots[i]
                    slot.add(tokens[j] if j >= 0 else None, weight)
                    out.append(slot)
        # Anchored words equal their slot's heaviest word: the best cannot change.
        anchored = slots[i1:i2]
        for slot in anchored:
            best = slot.best
            slot.entries.append(best)
            slot.word_weight[best] += weight
        out.extend(anchored)
    return out


def align(sequences: Sequence[Sequence[str]], weights: Sequence[float]) -> list[Slot]:
    """Align token sequences into slots; ``Slot.entries`` follow the input order.

    Identical sequences are merged once with their summed weight (they would
    align identically anyway, and crowd transcripts of one clip often are
    identical). Distinct sequences are merged in descending weight, ties in
    input order; the returned entries are re-indexed so ``entries[k]`` is what
    ``sequences[k]`` put in the slot. Each slot also carries the weight totals
    per candidate, which are the vote scores (NULL before any NULL discount).
    """
    group_of: list[int] = []
    index: dict[tuple[str, ...], int] = {}
    distinct: list[list[str]] = []
    group_weight: list[float] = []
    for sequence, weight in zip(sequences, weights, strict=True):
        key = tuple(sequence)
        group = index.get(key)
        if group is None:
            group = index[key] = len(distinct)
            distinct.append(list(sequence))
            group_weight.append(0.0)
        group_weight[group] += weight
        group_of.append(group)

    order = sorted(range(len(distinct)), key=lambda g: -group_weight[g])
    slots: list[Slot] = []
    merged_weight = 0.0
    for merged, group in enumerate(order):
        slots = _merge(slots, distinct[group], group_weight[group], merged, merged_weight)
        merged_weight += group_weight[group]
    rank = [0] * len(distinct)
    for position, group in enumerate(order):
        rank[group] = position
    columns = [rank[group] for group in group_of]
    if columns == list(range(len(columns))):
        return slots  # merged in input order, no duplicates: entries already follow it
    for slot in slots:
        merged_entries = slot.entries
        slot.entries = [merged_entries[column] for column in columns]
    return slots
