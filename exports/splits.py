"""Train/dev/test splits: speaker-disjoint always, sentence-disjoint on request.

Framework-free (stdlib only) so it can be tested and benchmarked on its own.

Properties, and why:

* **No speaker in two splits.** A model evaluated on voices it trained on
  looks better than it is; speakers are the unit of assignment.
* **Deterministic.** The same speakers, hours, seed and earlier assignments
  give the same split, whatever order the rows arrive in: ties are broken by
  a keyed hash of (seed, speaker), never by input order.
* **Stable as data grows.** Callers pass the assignments of earlier exports of
  the same lineage (``previous``); those speakers keep their split, so a model
  trained on an earlier train split is never evaluated on its own speakers
  after a re-export. Only new speakers are placed.
* **Balanced in hours, per language, nothing thrown away.** New speakers are
  placed heaviest first into the split furthest below its target hours
  (longest-processing-time-first bin packing), so each split's hours follow
  the requested ratios even when a few speakers read much more than the rest.
  Each language is balanced on its own: packing all languages as one pool
  lets a language with a few heavy speakers land whole in one split. Every clip of every
  speaker lands in some split; unlike Common Voice's splitter nothing is
  capped or discarded. The one exception is sentence-disjointness (below).
* **Sentence-disjoint (optional).** A sentence read in several splits is kept
  only in the split holding most of its audio; its clips in other splits are
  dropped (the caller counts and reports them). Speaker-disjointness and
  sentence-disjointness conflict in general (a sentence read by a train and a
  test speaker); dropping the minority side keeps both guarantees and loses
  the least audio.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SPLITS = ("train", "dev", "test")
DEFAULT_RATIOS = {"train": 0.8, "dev": 0.1, "test": 0.1}


@dataclass(frozen=True)
class SplitSpec:
    ratios: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATIOS))
    seed: int = 0
    sentence_disjoint: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.ratios) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown splits: {', '.join(sorted(unknown))}")
        if any(r < 0 for r in self.ratios.values()):
            raise ValueError("split ratios must not be negative")
        if not any(r > 0 for r in self.ratios.values()):
            raise ValueError("at least one split ratio must be positive")

    @classmethod
    def from_dict(cls, data: Mapping) -> SplitSpec:
        """From a stored or requested split (``ratios``, ``seed``,
        ``sentence_disjoint``; missing keys take the defaults)."""
        return cls(
            ratios=data.get("ratios") or dict(DEFAULT_RATIOS),
            seed=int(data.get("seed", 0)),
            sentence_disjoint=bool(data.get("sentence_disjoint", False)),
        )

    @property
    def active(self) -> list[str]:
        """Splits that receive data, in canonical order."""
        return [s for s in SPLITS if self.ratios.get(s, 0) > 0]

    @property
    def normalized(self) -> dict[str, float]:
        total = sum(self.ratios.get(s, 0) for s in self.active)
        return {s: self.ratios[s] / total for s in self.active}

    @property
    def lineage(self) -> str:
        """Exports sharing this key share speaker assignments (see ``previous``)."""
        payload = json.dumps(
            {
                "ratios": {s: round(r, 6) for s, r in sorted(self.normalized.items())},
                "seed": self.seed,
                "sentence_disjoint": self.sentence_disjoint,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


def rank(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, key): HMAC, so it cannot be
    steered by choosing keys without knowing the seed, and stable forever."""
    digest = hmac.new(str(seed).encode(), key.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_bucket(seed: int, key: str, ratios: Mapping[str, float]) -> str:
    """The split whose slice of [0, 1) the key's rank falls into (ratio-sized slices)."""
    splits = [s for s in SPLITS if ratios.get(s, 0) > 0]
    total = sum(ratios[s] for s in splits)
    u = rank(seed, key) * total
    edge = 0.0
    for split in splits:
        edge += ratios[split]
        if u < edge:
            return split
    return splits[-1]


def assign_speakers(
    hours: Mapping[str, float | Mapping[str, float]],
    *,
    spec: SplitSpec,
    previous: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map every speaker in ``hours`` to a split.

    ``hours`` is the amount of audio per speaker (any unit), or per speaker and
    language (``{speaker: {language: hours}}``): then every language is
    balanced on its own, so each gets its share of train, dev and test however
    the speakers of the languages compare in number and hours. A speaker who
    reads several languages is still in one split only. ``previous`` holds
    earlier assignments of the same lineage, which are kept as they are.
    """
    splits = spec.active
    ratios = spec.normalized
    # A speaker with no measured audio still counts a little, so that ratios
    # also apply to counts when every duration is zero.
    weight = {
        speaker: {
            language: max(float(h), 1e-9)
            for language, h in (amount.items() if isinstance(amount, Mapping) else [("", amount)])
        }
        or {"": 1e-9}
        for speaker, amount in hours.items()
    }
    total: dict[str, float] = {}
    for amounts in weight.values():
        for language, h in amounts.items():
            total[language] = total.get(language, 0.0) + h
    target = {lang: {s: ratios[s] * t for s in splits} for lang, t in total.items()}
    load = {lang: dict.fromkeys(splits, 0.0) for lang in total}
    members: dict[str, dict[str, list[str]]] = {lang: {s: [] for s in splits} for lang in total}
    result: dict[str, str] = {}

    def place(speaker: str, split: str) -> None:
        result[speaker] = split
        for language, h in weight[speaker].items():
            load[language][split] += h
            members[language][split].append(speaker)

    def deficit(speaker: str, split: str) -> float:
        # How far below target the split is in the speaker's languages, each
        # as a share of that language's hours (so a small language counts as
        # much as a large one).
        return sum(
            (target[lang][split] - load[lang][split]) / total[lang] for lang in weight[speaker]
        )

    def share(speaker: str) -> float:
        return sum(h / total[lang] for lang, h in weight[speaker].items())

    for speaker, split in (previous or {}).items():
        if speaker in weight and split in splits:
            place(speaker, split)

    new = sorted(
        (s for s in weight if s not in result), key=lambda s: (-share(s), rank(spec.seed, s))
    )
    fresh: set[str] = set()
    for speaker in new:
        preferred = hash_bucket(spec.seed, speaker, ratios)
        # Furthest below target wins; among equals the speaker's own hash
        # bucket, then canonical order — never the input order.
        split = max(splits, key=lambda s: (deficit(speaker, s), s == preferred, -splits.index(s)))
        place(speaker, split)
        fresh.add(speaker)

    # Small datasets: heaviest-first packing can leave a small split empty
    # (three speakers, 80/10/10 → all train). A requested split should get
    # someone of each language when it has enough speakers; only speakers
    # placed in this call, and reading that language alone, move, so earlier
    # assignments stay put and no other language loses its balance.
    for language in sorted(total):
        mine = members[language]

        def movable(split: str, language=language, mine=mine) -> list[str]:
            return [m for m in mine[split] if m in fresh and set(weight[m]) == {language}]

        for split in splits:
            if mine[split]:
                continue
            donors = [s for s in splits if len(mine[s]) > 1 and movable(s)]
            if not donors:
                continue
            donor = max(
                donors,
                key=lambda s, lang=language: (load[lang][s] - target[lang][s], -splits.index(s)),
            )
            speaker = min(
                movable(donor), key=lambda m, lang=language: (weight[m][lang], rank(spec.seed, m))
            )
            h = weight[speaker][language]
            mine[donor].remove(speaker)
            mine[split].append(speaker)
            load[language][donor] -= h
            load[language][split] += h
            result[speaker] = split
    return result


def sentence_owners(
    readings: Iterable[tuple[str, str, float]],
    *,
    speaker_split: Mapping[str, str],
    spec: SplitSpec,
) -> dict[str, str]:
    """For sentence-disjoint splits: the one split allowed to hold each sentence.

    ``readings`` yields (speaker, sentence key, seconds) — one row per speaker
    and sentence is enough. The owner is the split with the most audio of the
    sentence; clips of the sentence in any other split must be dropped.
    """
    per_sentence: dict[str, dict[str, float]] = {}
    for speaker, sentence, seconds in readings:
        split = speaker_split.get(speaker)
        if split is None:
            continue
        shares = per_sentence.setdefault(sentence, {})
        shares[split] = shares.get(split, 0.0) + max(float(seconds), 1e-9)
    owners = {}
    splits = spec.active
    for sentence, shares in per_sentence.items():
        if len(shares) == 1:
            owners[sentence] = next(iter(shares))
            continue
        preferred = hash_bucket(spec.seed, "sentence:" + sentence, spec.normalized)
        owners[sentence] = max(shares, key=lambda s: (shares[s], s == preferred, -splits.index(s)))
    return owners


def sentence_key(text: str) -> str:
    """Sentences compare after case folding and whitespace collapsing."""
    normal = " ".join(text.casefold().split())
    return hashlib.sha256(normal.encode()).hexdigest()[:24]
