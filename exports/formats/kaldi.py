"""Kaldi: ``kaldi/<split>/`` with wav.scp, text, utt2spk, spk2utt, utt2dur,
reco2dur, utt2lang and spk2gender; every file C-sorted with unique keys.

One recording per utterance, so recording ids equal utterance ids and no
``segments`` file is needed. Utterance ids start with the speaker id, which
keeps ``utt2spk`` and ``spk2utt`` in the same order (Kaldi's
``validate_data_dir.sh`` requires it). wav.scp names files relative to the
export root; Kaldi's own binaries read only WAV (export with ``wav`` for them),
lhotse reads every format we write.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from exports.formats import Item, Writer, clean_text, tier_fields

_PER_UTT = ("wav.scp", "text", "utt2spk", "utt2dur", "reco2dur", "utt2lang")
# Augmented exports add utt2augmentation: "none" or e.g. "speed=1.1" per utterance
# (Kaldi's tools ignore files they do not know).
_AUGMENTATION = "utt2augmentation"
# Exports with more than validated clips add each utterance's status and the
# engine's confidence in its text ("-" if never decided).
_TIERS = ("utt2status", "utt2confidence")
# Kaldi's vocabulary is m/f; anyone else is "u" so that spk2gender still
# covers every speaker, as validate_data_dir.sh requires.
_GENDER = {"male": "m", "female": "f"}


def c_sort(path: Path, tmpdir: Path) -> None:
    """Sort a file in byte order, in place, with bounded memory (external merge)."""
    subprocess.run(
        ["sort", "-u", "-S", "64M", "-T", str(tmpdir), "-o", str(path), str(path)],
        check=True,
        env={"LC_ALL": "C"},
    )


class KaldiWriter(Writer):
    name = "kaldi"
    uses_clips = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.per_utt = (
            *_PER_UTT,
            *((_AUGMENTATION,) if self.plan.augmented else ()),
            *(_TIERS if self.plan.tiered else ()),
        )
        self.files = {}
        for split in self.plan.splits:
            (self.workdir / split).mkdir(exist_ok=True)
            for name in (*self.per_utt, "spk2gender"):
                self.files[split, name] = open(self.workdir / split / name, "w", encoding="utf-8")  # noqa: SIM115
        self.genders: dict[tuple[str, str], str] = {}

    def write(self, item: Item) -> None:
        lines = {
            "wav.scp": item.clip_path,
            "text": clean_text(item.text),
            "utt2spk": item.speaker,
            "utt2dur": f"{item.duration:.4f}",
            "reco2dur": f"{item.duration:.4f}",
            "utt2lang": item.language,
        }
        if self.plan.augmented:
            lines[_AUGMENTATION] = item.augmentation or "none"
        if self.plan.tiered:
            tier = tier_fields(item)
            lines["utt2status"] = tier["status"]
            lines["utt2confidence"] = "-" if tier["confidence"] is None else f"{tier['confidence']}"
        for name, value in lines.items():
            self.files[item.split, name].write(f"{item.utt_id} {value}\n")
        key = (item.split, item.speaker)
        if key not in self.genders:
            self.genders[key] = _GENDER.get(item.gender, "u")
            self.files[key[0], "spk2gender"].write(f"{item.speaker} {self.genders[key]}\n")

    def finish(self) -> None:
        for fh in self.files.values():
            fh.close()
        for split in self.plan.splits:
            folder = self.workdir / split
            for name in (*self.per_utt, "spk2gender"):
                c_sort(folder / name, self.workdir)
            # spk2utt from the sorted utt2spk: utterances of one speaker are
            # contiguous because every utterance id starts with its speaker id.
            with (
                open(folder / "utt2spk", encoding="utf-8") as src,
                open(folder / "spk2utt", "w", encoding="utf-8") as out,
            ):
                speaker, utts = None, []
                for line in src:
                    utt, spk = line.split()
                    if spk != speaker and speaker is not None:
                        out.write(f"{speaker} {' '.join(utts)}\n")
                        utts = []
                    speaker = spk
                    utts.append(utt)
                if speaker is not None:
                    out.write(f"{speaker} {' '.join(utts)}\n")
            for name in (*self.per_utt, "spk2gender", "spk2utt"):
                self.sink.put_file(f"kaldi/{split}/{name}", folder / name)
