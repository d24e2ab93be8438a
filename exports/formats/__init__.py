"""One writer per export format, all fed the same stream of clips.

A writer receives every exported clip once (``write``), is told when a batch
ends (``end_batch``: flush buffered rows, so memory stays bounded by the batch
size) and finishes by uploading its manifests (``finish``). Writers keep
nothing per clip in memory: rows go to local temporary files that are
uploaded and deleted as shards fill, or at the end.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exports.uploads import ExportSink


@dataclass(frozen=True, slots=True)
class Item:
    """One exported clip: identifiers are already pseudonymous."""

    utt_id: str  # "<speaker>-<clip>": Kaldi wants utterances prefixed by speaker
    clip_id: str
    split: str
    speaker: str
    language: str
    text: str
    sentence_id: str
    duration: float
    num_samples: int
    sample_rate: int
    audio: bytes
    ext: str
    status: str
    confidence: float | None
    votes: int
    gender: str
    age: str
    native_language: str
    dialect: str
    # "" for a clip as recorded; e.g. "speed=1.1" or "noise=pink@10dB" for an
    # augmented copy (train split only).
    augmentation: str = ""
    channels: int = 1

    @property
    def clip_name(self) -> str:
        return f"{self.utt_id}.{self.ext}"

    @property
    def clip_path(self) -> str:
        """Path of the shared audio file, relative to the export root."""
        return f"clips/{self.clip_name}"


@dataclass
class Plan:
    """What the writers know before the first clip: splits and their sizes."""

    splits: list[str]
    clips_per_split: dict[str, int]
    sample_rate: int
    audio_format: str
    statuses: list[str]
    # The export adds augmented copies: every manifest carries an augmentation field.
    augmented: bool = False
    # False: a metadata-only export; manifests name the clips, no audio is written.
    audio: bool = True

    @property
    def tiered(self) -> bool:
        return is_tiered(self.statuses)


def is_tiered(statuses: list[str]) -> bool:
    """The export holds more than validated clips (e.g. the crowd-accepted
    tier): every manifest then carries each clip's status and confidence."""
    return sorted(statuses or ["validated"]) != ["validated"]


def tier_fields(item: Item) -> dict:
    """A clip's tier as manifests carry it: its status and the engine's
    confidence in its text (1 − estimated WER; None if never decided)."""
    confidence = None if item.confidence is None else round(item.confidence, 4)
    return {"status": item.status, "confidence": confidence}


class Writer(ABC):
    """One export format: receives every item, then writes its manifests."""

    name = ""
    uses_clips = False  # manifests point at the shared clips/ folder

    def __init__(self, *, sink: ExportSink, workdir: Path, plan: Plan) -> None:
        self.sink = sink
        self.workdir = workdir / self.name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.plan = plan

    @abstractmethod
    def write(self, item: Item) -> None: ...

    def end_batch(self) -> None:  # noqa: B027 - optional hook, most formats need none
        """Called after each batch of items; formats that buffer flush here."""

    @abstractmethod
    def finish(self) -> None: ...


def clean_text(text: str) -> str:
    """One line, single-spaced: every format here is line- or tab-delimited."""
    return " ".join(text.split())


def writer_classes() -> dict[str, type[Writer]]:
    from exports.formats import commonvoice, huggingface, kaldi, lhotse, nemo, webdataset

    return {
        "commonvoice": commonvoice.CommonVoiceWriter,
        "huggingface": huggingface.HuggingFaceWriter,
        "nemo": nemo.NemoWriter,
        "kaldi": kaldi.KaldiWriter,
        "lhotse": lhotse.LhotseWriter,
        "webdataset": webdataset.WebDatasetWriter,
    }
