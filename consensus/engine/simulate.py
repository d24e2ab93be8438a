"""Simulated Bangla transcribers, for evaluating the engine where no real
Bangla crowd data exists yet.

The sentences are short everyday sentences written for this purpose; they
deliberately contain the letters whose encodings vary in the wild (ড় ঢ় য়
with and without precomposition, ৎ, conjuncts with hasanta) and numbers.
Transcribers are drawn from profiles (careful, average, sloppy, spammer) and
make the errors Bangla typists actually make — vowel-length confusions ি/ী
and ু/ূ, the three sibilants শ/ষ/স, dental and retroflex ন/ণ, জ/য — plus
encoding noise that is *not* an error (precomposed nukta letters, ZWJ/ZWNJ,
the legacy khanda-ta sequence, Bengali or ASCII digits, danda or full stop).
Some clips are hard: a trap word that many transcribers mishear the same way.
Some readers deviate from the script, so the script prior is sometimes wrong.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, replace

from rapidfuzz.distance import Levenshtein

from .reliability import ReliabilityState, reliability_weight
from .replay import LANGUAGE_BN, Clip, ReviewQueue, replay
from .schema import EngineConfig

SENTENCES = (
    "আমি প্রতিদিন সকালে নদীর ধারে হাঁটতে যাই",
    "আজ আকাশে মেঘ জমেছে তাই বৃষ্টি হতে পারে",
    "আমাদের গ্রামের স্কুলে ৫০০ জন ছাত্রছাত্রী পড়ে",
    "বাজার থেকে দুই কেজি চাল আর এক হালি ডিম আনো",
    "শীতের সকালে খেজুরের রস খেতে খুব ভালো লাগে",
    "পুরনো বইয়ের গন্ধ আমার খুব প্রিয়",
    "ট্রেনটি সন্ধ্যা ৭টায় কমলাপুর স্টেশন ছাড়বে",
    "তিনি হঠাৎ করে চাকরি ছেড়ে দিয়ে গ্রামে ফিরে গেলেন",
    "ছোট্ট মেয়েটি গাছের ছায়ায় বসে গল্পের বই পড়ছে",
    "এই রাস্তাটি বর্ষাকালে পানিতে ডুবে যায়",
    "মা রান্নাঘরে ইলিশ মাছের ঝোল রান্না করছেন",
    "আমরা আগামী শুক্রবার সমুদ্রের ধারে বেড়াতে যাব",
    "পরীক্ষার ফল প্রকাশিত হবে ১৫ তারিখে",
    "বিদ্যুৎ চলে যাওয়ায় সবাই অন্ধকারে বসে রইল",
    "কৃষকেরা মাঠে ধান কাটছে আর গান গাইছে",
    "শহরের রাস্তায় প্রতিদিন যানজট লেগেই থাকে",
    "নতুন সেতুটি নির্মাণে তিন বছর সময় লেগেছে",
    "দাদু প্রতি সন্ধ্যায় আমাদের রূপকথার গল্প শোনাতেন",
    "বইমেলায় এবার অনেক নতুন লেখকের বই এসেছে",
    "ডাক্তার বললেন বেশি করে পানি খেতে হবে",
    "আমার বন্ধু ঢাকা বিশ্ববিদ্যালয়ে পদার্থবিজ্ঞান পড়ে",
    "পাহাড়ের চূড়া থেকে সূর্যোদয় দেখতে অপূর্ব লাগে",
    "গ্রীষ্মকালে আম আর কাঁঠালের গন্ধে চারদিক ভরে যায়",
    "সে দৌড়ে গিয়ে শেষ বাসটা ধরল",
    "আমাদের বাড়ির পাশে একটি বড় পুকুর আছে",
    "শিক্ষক ক্লাসে ছাত্রদের প্রশ্নের উত্তর দিলেন",
    "নদীতে নৌকা বাইচ দেখতে হাজার মানুষ জড়ো হয়েছে",
    "উৎসবের দিনে সবাই নতুন জামা পরে",
    "হাসপাতালের সামনে একটি ওষুধের দোকান খোলা আছে",
    "ঝড়ের রাতে গাছের ডাল ভেঙে রাস্তায় পড়ে ছিল",
    "প্রধানমন্ত্রী আজ ২টি নতুন প্রকল্প উদ্বোধন করবেন",
    "বাংলা ভাষার জন্য ১৯৫২ সালে অনেকে প্রাণ দিয়েছেন",
)

# Substitutions a hurried or unsure typist makes; each is a real word error.
SPELLING_CONFUSIONS = (
    ("ি", "ী"),
    ("ী", "ি"),
    ("ু", "ূ"),
    ("ূ", "ু"),
    ("শ", "স"),
    ("ষ", "শ"),
    ("স", "শ"),
    ("ন", "ণ"),
    ("ণ", "ন"),
    ("জ", "য"),
    ("য", "জ"),
)

_BENGALI_DIGITS = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")
_DECOMPOSED_TO_PRECOMPOSED = {
    "\u09a1\u09bc": "\u09dc",  # ড়
    "\u09a2\u09bc": "\u09dd",  # ঢ়
    "\u09af\u09bc": "\u09df",  # য়
}


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    word_error: float
    share: float
    # How often their yes/no on a sentence is wrong when they listen.
    vote_error: float = 0.05


PROFILES = (
    Profile("careful", 0.03, 0.30, 0.02),
    Profile("average", 0.10, 0.40, 0.05),
    Profile("sloppy", 0.25, 0.22, 0.15),
    # A spammer clicks at random and types at random.
    Profile("spammer", 1.0, 0.08, 0.5),
)


@dataclass(frozen=True, slots=True)
class SimulatedClip:
    clip_id: str
    script: str
    reference: str
    transcripts: tuple[tuple[str, str], ...]  # worker, raw text
    profiles: tuple[str, ...]  # each transcript's worker profile, for reports only
    # Listeners' votes on the script sentence: worker, "it matches".
    votes: tuple[tuple[str, bool], ...] = ()
    vote_profiles: tuple[str, ...] = ()


def _misspell(word: str, rng: random.Random) -> str | None:
    options = [(a, b) for a, b in SPELLING_CONFUSIONS if a in word]
    if not options:
        return None
    a, b = rng.choice(options)
    return word.replace(a, b, 1)


def _encoding_noise(text: str, rng: random.Random, habit: float) -> str:
    """Variations a keyboard or IME produces for the *same* words."""
    text = unicodedata.normalize("NFC", text)
    if rng.random() < habit:
        for decomposed, precomposed in _DECOMPOSED_TO_PRECOMPOSED.items():
            text = text.replace(decomposed, precomposed)
    if rng.random() < habit:
        text = text.replace("ৎ", "ত্\u200d")
    if rng.random() < habit:
        text = text.translate(_BENGALI_DIGITS)
    if rng.random() < habit:
        # Joiners typed after hasanta by some layouts. Not after ত: ত + ্ + ZWJ
        # *is* the legacy encoding of ৎ, a different letter.
        for index, char in enumerate(text):
            if char == "্" and index > 0 and text[index - 1] != "ত":
                joiner = "\u200c" if rng.random() < 0.5 else "\u200d"
                text = text[: index + 1] + joiner + text[index + 1 :]
                break
    ending = rng.choice(("", "।", " ।", "।।", "."))
    if rng.random() < habit:
        words = text.split()
        if len(words) > 3:
            words[len(words) // 2] += ","
        text = " ".join(words)
    return text + ending


def _transcribe(
    truth: list[str],
    rng: random.Random,
    profile: Profile,
    hardness: float,
    trap: tuple[int, str] | None,
    vocabulary: list[str],
) -> list[str]:
    if profile.name == "spammer":
        if rng.random() < 0.5:
            return rng.choice(SENTENCES).split()
        return [rng.choice(vocabulary) for _ in range(rng.randint(2, 8))]
    error = min(0.9, profile.word_error * hardness)
    out: list[str] = []
    for position, word in enumerate(truth):
        if trap is not None and position == trap[0] and rng.random() < 0.6:
            out.append(trap[1])
            continue
        if rng.random() >= error:
            out.append(word)
            continue
        out.extend(mistype(word, rng, vocabulary))
    return out


def mistype(word: str, rng: random.Random, vocabulary: list[str]) -> list[str]:
    """One typing error on ``word``: misspelt or another word, dropped, or
    followed by an inserted word (the shares crowd transcripts show)."""
    kind = rng.random()
    if kind < 0.5:
        return [_misspell(word, rng) or rng.choice(vocabulary)]
    if kind < 0.7:
        return []  # dropped word
    if kind < 0.85:
        return [rng.choice(vocabulary)]
    return [word, rng.choice(vocabulary)]  # inserted word


def simulate_clips(
    *, seed: int, clips: int = 600, workers: int = 80, per_clip: int = 7
) -> list[SimulatedClip]:
    rng = random.Random(seed)
    vocabulary = sorted({word for sentence in SENTENCES for word in sentence.split()})
    cumulative: list[tuple[float, Profile]] = []
    total = 0.0
    for profile in PROFILES:
        total += profile.share
        cumulative.append((total, profile))
    pool: list[tuple[str, Profile, float]] = []
    for index in range(workers):
        draw = rng.random() * total
        profile = next(p for edge, p in cumulative if draw <= edge)
        pool.append((f"bn-{index:03d}", profile, rng.random()))
    # A few very active contributors, as on every crowd platform.
    activity = [1.0 / (1 + index) ** 0.8 for index in range(workers)]

    out: list[SimulatedClip] = []
    for number in range(clips):
        script = SENTENCES[number % len(SENTENCES)]
        truth = script.split()
        if rng.random() < 0.08:
            # The reader deviated from the script: one word misread or skipped.
            position = rng.randrange(len(truth))
            if rng.random() < 0.5:
                del truth[position]
            else:
                truth[position] = rng.choice(vocabulary)
        hard = rng.random() < 0.15
        hardness = 2.5 if hard else 1.0
        trap = None
        if hard:
            position = rng.randrange(len(truth))
            trap = (position, _misspell(truth[position], rng) or rng.choice(vocabulary))
        chosen: list[int] = []
        while len(chosen) < per_clip:
            index = rng.choices(range(workers), weights=activity)[0]
            if index not in chosen:
                chosen.append(index)
        transcripts = []
        for index in chosen:
            worker, profile, habit = pool[index]
            words = _transcribe(truth, rng, profile, hardness, trap, vocabulary)
            transcripts.append((worker, _encoding_noise(" ".join(words), rng, habit)))
        profiles = tuple(pool[index][1].name for index in chosen)
        # Other volunteers listen and vote: "it matches" is right when the
        # reader read the sentence as written.
        matches = truth == script.split()
        listeners: list[int] = []
        while len(listeners) < per_clip:
            index = rng.choices(range(workers), weights=activity)[0]
            if index not in chosen and index not in listeners:
                listeners.append(index)
        votes = []
        for index in listeners:
            worker, profile, _ = pool[index]
            wrong = rng.random() < min(0.5, profile.vote_error * hardness)
            votes.append((worker, matches != wrong))
        out.append(
            SimulatedClip(
                clip_id=f"bn-clip-{number:05d}",
                script=script,
                reference=" ".join(truth),
                transcripts=tuple(transcripts),
                profiles=profiles,
                votes=tuple(votes),
                vote_profiles=tuple(pool[index][1].name for index in listeners),
            )
        )
    return out


def simulate_bangla(
    *,
    seed: int = 0,
    max_transcripts: int | None = None,
    config: EngineConfig | None = None,
    clips: int = 600,
    queue: ReviewQueue | None = None,
) -> dict[str, object]:
    """Replay simulated Bangla transcribers with and without the script
    sentence as a prior voter.

    ``single_worker_wer_whitespace_only`` scores the same transcripts split on
    whitespace with no normalisation: the gap to ``single_worker_wer`` is the
    encoding noise and punctuation the pipeline removes.
    """
    config = config or EngineConfig()
    if max_transcripts is not None:
        config = config.capped(max_transcripts)
    simulated = simulate_clips(seed=seed, clips=clips)
    replayable = [
        Clip(
            clip_id=item.clip_id,
            reference=item.reference,
            transcripts=tuple((worker, text, frozenset()) for worker, text in item.transcripts),
            prior_text=item.script,
            votes=item.votes,
        )
        for item in simulated
    ]
    typing_only = [replace(clip, votes=()) for clip in replayable]
    profile_of = {
        worker: profile
        for item in simulated
        for (worker, _), profile in zip(item.transcripts, item.profiles, strict=True)
    }
    learned: dict[str, list[float]] = {}

    def collect(state: ReliabilityState) -> None:
        for (worker, _), reliability in state.items():
            learned.setdefault(profile_of[worker], []).append(
                reliability_weight(reliability, config)
            )

    naive_errors = naive_words = 0
    for item in simulated:
        reference = item.reference.split()
        for _, text in item.transcripts:
            naive_errors += Levenshtein.distance(text.split(), reference)
            naive_words += len(reference)
    return {
        "simulation": "bangla",
        "seed": seed,
        "clips": len(simulated),
        "max_transcripts": config.max_transcripts,
        "single_worker_wer_whitespace_only": round(naive_errors / naive_words, 5),
        # The platform: listen-and-vote first on chunks that carry their sentence.
        "with_votes": replay(
            replayable, seed=seed, config=config, language=LANGUAGE_BN, queue=queue
        ),
        # Typing only, the script sentence as a prior voter.
        "with_prior": replay(
            typing_only,
            seed=seed,
            config=config,
            language=LANGUAGE_BN,
            on_finish=collect,
            queue=queue,
        ),
        "without_prior": replay(
            typing_only,
            seed=seed,
            config=config,
            language=LANGUAGE_BN,
            use_prior=False,
            queue=queue,
        ),
        # Weights learned (with the prior) per simulated profile: spammers
        # should end at 0 and careful transcribers highest.
        "learned_weight_by_profile": {
            name: {
                "workers": len(weights),
                "mean_weight": round(sum(weights) / len(weights), 3),
                "silenced": sum(1 for weight in weights if weight == 0.0),
            }
            for name, weights in sorted(learned.items())
        },
    }
