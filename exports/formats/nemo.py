"""NeMo: ``<split>_manifest.json``, JSON lines with paths relative to the manifest."""

from __future__ import annotations

import json

from exports.formats import Item, Writer, tier_fields


class NemoWriter(Writer):
    name = "nemo"
    uses_clips = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.files = {
            split: open(self.workdir / f"{split}_manifest.json", "w", encoding="utf-8")  # noqa: SIM115
            for split in self.plan.splits
        }

    def write(self, item: Item) -> None:
        row = {
            "audio_filepath": item.clip_path,
            "duration": item.duration,
            "text": item.text,
            "lang": item.language,
            "speaker": item.speaker,
        }
        if self.plan.augmented:
            row["augmentation"] = item.augmentation
        if self.plan.tiered:
            row.update(tier_fields(item))
        self.files[item.split].write(json.dumps(row, ensure_ascii=False) + "\n")

    def finish(self) -> None:
        for split, fh in self.files.items():
            fh.close()
            name = f"{split}_manifest.json"
            self.sink.put_file(name, self.workdir / name)
