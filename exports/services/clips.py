"""One stored chunk row → the items it adds to an export, or why it is left out.

Both builds go through :func:`clip_items`, so the per-clip rules (a sentence
owned by another split, an object missing from storage, unreadable audio, the
processing options' own drops) and the shape of an item exist once. Audio goes
through one path too: stored FLAC is copied untouched when nothing would change
it, and everything else through ``exports.processing`` (soxr resampling, one
encoding table).
"""

from __future__ import annotations

import dataclasses
import io
import logging

import soundfile as sf

from exports import processing, splits
from exports.formats import Item
from exports.models import Export
from exports.services.planning import DEMOGRAPHICS, Speaker, options

logger = logging.getLogger(__name__)

# Why a clip was left out, as the datasheet counts it.
OTHER_SPLIT = "sentence read in another split"
MISSING = "audio missing from storage"
UNREADABLE = "audio unreadable"


@dataclasses.dataclass(frozen=True)
class Rendering:
    """How every clip of one export is rendered."""

    audio_format: str
    sample_rate: int
    options: processing.Options
    noise_bank: processing.NoiseBank | None = None
    # False: a metadata-only export (no audio is read, rendered or written).
    audio: bool = True

    @classmethod
    def of(cls, export: Export, noise_bank: processing.NoiseBank | None = None) -> Rendering:
        return cls(
            export.audio_format, export.sample_rate, options(export), noise_bank, export.audio
        )

    @property
    def ext(self) -> str:
        return processing.EXTENSIONS[self.audio_format]


@dataclasses.dataclass
class Clips:
    """What one row adds: its items, or the reason it was dropped (both empty: the
    row is skipped without counting, e.g. its speaker is not in this export's plan)."""

    items: list[Item] = dataclasses.field(default_factory=list)
    dropped: str = ""
    trimmed_seconds: float = 0.0
    limited: bool = False


def clip_items(
    row: dict,
    blob: bytes | None,
    *,
    speaker: Speaker | None,
    owners: dict[str, str] | None,
    rendering: Rendering,
    demographics: bool = True,
    full: bool = False,
) -> Clips:
    """The items for ``row`` (a ``planning.CHUNK_FIELDS`` row) with its audio ``blob``.

    ``full``: the speaker's split already holds every clip the plan counted (a
    chunk changed after planning without a new timestamp); it waits for the next
    export. ``demographics`` False leaves the speaker's demographics out.
    """
    if speaker is None:
        return Clips()  # consented after planning: next export
    sentence = splits.sentence_key(row["text"])
    if owners is not None and owners.get(sentence) != speaker.split:
        return Clips(dropped=OTHER_SPLIT)
    if full:
        return Clips()
    if blob is None:
        return Clips(dropped=MISSING)
    clip_id = row["id"].hex
    try:
        outcome = (
            render(blob, clip=clip_id, rendering=rendering, augment=speaker.split == "train")
            if rendering.audio
            else described(row, rendering)
        )
    except processing.ProcessingError:
        # One damaged object must not sink a large export; it is counted, and
        # the chunk is worth a reviewer's look.
        logger.warning("unreadable audio %s", row["audio"])
        return Clips(dropped=UNREADABLE)
    if outcome.dropped:
        return Clips(dropped=outcome.dropped)
    people = dataclasses.asdict(speaker) if demographics else dict.fromkeys(DEMOGRAPHICS, "")
    items = [
        Item(
            utt_id=f"{speaker.pseudonym}-{clip_id}" + (f"-{r.suffix}" if r.suffix else ""),
            clip_id=clip_id,
            split=speaker.split,
            speaker=speaker.pseudonym,
            language=row["language__code"],
            text=row["text"],
            sentence_id=sentence,
            duration=r.duration,
            num_samples=r.num_samples,
            sample_rate=r.sample_rate,
            audio=r.data,
            ext=rendering.ext,
            status=row["status"],
            confidence=row["confidence"],
            votes=row["transcriptions_received"],
            gender=people["gender"],
            age=people["age"],
            native_language=people["native_language"],
            dialect=people["dialect"],
            augmentation=r.augmentation,
            channels=r.channels,
        )
        for r in outcome.clips
    ]
    return Clips(items, trimmed_seconds=outcome.trimmed_seconds, limited=outcome.limited)


def described(row: dict, rendering: Rendering) -> processing.Outcome:
    """A metadata-only export's clip: its stored duration, no audio read."""
    seconds = row["duration"] or 0.0
    return processing.Outcome(
        clips=[
            processing.Rendered(
                data=b"",
                num_samples=round(seconds * rendering.sample_rate),
                sample_rate=rendering.sample_rate,
                channels=1,
            )
        ]
    )


def render(blob: bytes, *, clip: str, rendering: Rendering, augment: bool) -> processing.Outcome:
    """The clip in the export's format, rate and processing, with its augmented copies.

    Stored chunks are 16 kHz mono FLAC: an export that asks for exactly that and
    no processing copies the bytes untouched (no generation loss, no CPU),
    reading only the header.
    """
    options = rendering.options
    if rendering.audio_format == "flac" and options.passthrough:
        try:
            info = sf.info(io.BytesIO(blob))
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise processing.ProcessingError(str(exc)) from exc
        if (
            info.format == "FLAC"
            and info.samplerate == rendering.sample_rate
            and info.channels == options.channels
        ):
            copied = processing.Rendered(
                data=blob,
                num_samples=info.frames,
                sample_rate=info.samplerate,
                channels=info.channels,
            )
            return processing.Outcome(clips=[copied])
    return processing.process_clip(
        blob,
        clip=clip,
        options=options,
        sample_rate=rendering.sample_rate,
        audio_format=rendering.audio_format,
        augment=augment and options.augments,
        noise_bank=rendering.noise_bank,
    )
