"""Lhotse: ``recordings_<split>.jsonl.gz`` and ``supervisions_<split>.jsonl.gz``.

Sources are paths relative to the export root (load the manifests from there),
like the other formats that share ``clips/``.
"""

from __future__ import annotations

import gzip
import json

from exports.formats import Item, Writer, tier_fields


def _open_gz(path):
    # mtime=0: the same export data gives byte-identical files (and checksums).
    return gzip.GzipFile(filename="", mode="wb", fileobj=open(path, "wb"), mtime=0)


class LhotseWriter(Writer):
    name = "lhotse"
    uses_clips = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.files = {}
        for split in self.plan.splits:
            for kind in ("recordings", "supervisions"):
                name = f"{kind}_{split}.jsonl.gz"
                self.files[name] = _open_gz(self.workdir / name)

    def write(self, item: Item) -> None:
        channels = list(range(item.channels))
        recording = {
            "id": item.utt_id,
            "sources": [{"type": "file", "channels": channels, "source": item.clip_path}],
            "sampling_rate": item.sample_rate,
            "num_samples": item.num_samples,
            "duration": item.duration,
            "channel_ids": channels,
        }
        supervision = {
            "id": item.utt_id,
            "recording_id": item.utt_id,
            "start": 0.0,
            "duration": item.duration,
            "channel": channels[0] if len(channels) == 1 else channels,
            "text": item.text,
            "language": item.language,
            "speaker": item.speaker,
        }
        if item.gender:
            supervision["gender"] = item.gender
        custom = {k: v for k, v in (("age", item.age), ("accent", item.dialect)) if v}
        if self.plan.augmented:
            custom["augmentation"] = item.augmentation
        if self.plan.tiered:
            custom.update(tier_fields(item))
        if custom:
            supervision["custom"] = custom
        for kind, row in (("recordings", recording), ("supervisions", supervision)):
            line = json.dumps(row, ensure_ascii=False) + "\n"
            self.files[f"{kind}_{item.split}.jsonl.gz"].write(line.encode())

    def finish(self) -> None:
        for name, fh in self.files.items():
            raw = fh.fileobj
            fh.close()
            raw.close()
            self.sink.put_file(name, self.workdir / name)
