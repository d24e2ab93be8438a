"""WebDataset: ``<split>-000000.tar`` shards of ``<key>.<ext>`` + ``<key>.json``.

Shards are uploaded as soon as they reach ``EXPORT_WEBDATASET_SHARD_BYTES``, so
local disk holds at most one shard per split.
"""

from __future__ import annotations

import io
import json
import tarfile

from django.conf import settings

from exports.formats import Item, Writer, tier_fields


class WebDatasetWriter(Writer):
    name = "webdataset"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.limit = settings.EXPORT_WEBDATASET_SHARD_BYTES
        self.shard_index = dict.fromkeys(self.plan.splits, 0)
        self.current: dict[str, tarfile.TarFile] = {}

    def _shard_name(self, split: str) -> str:
        return f"{split}-{self.shard_index[split]:06d}.tar"

    def _tar(self, split: str) -> tarfile.TarFile:
        if split not in self.current:
            path = self.workdir / self._shard_name(split)
            self.current[split] = tarfile.open(path, "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115
        return self.current[split]

    def _add(self, tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 0  # reproducible shards
        tar.addfile(info, io.BytesIO(data))

    def write(self, item: Item) -> None:
        tar = self._tar(item.split)
        meta = {
            "text": item.text,
            "speaker_id": item.speaker,
            "language": item.language,
            "duration": item.duration,
            "sampling_rate": item.sample_rate,
            "gender": item.gender,
            "age": item.age,
            "accent": item.dialect,
        }
        if self.plan.augmented:
            meta["augmentation"] = item.augmentation
        if self.plan.tiered:
            meta.update(tier_fields(item))
        # The key must contain no dot: WebDataset splits a member name at the
        # first dot of its basename into key and extension.
        if self.plan.audio:
            self._add(tar, f"{item.utt_id}.{item.ext}", item.audio)
        self._add(tar, f"{item.utt_id}.json", json.dumps(meta, ensure_ascii=False).encode())
        if tar.fileobj.tell() >= self.limit:
            self._close(item.split)
            self.shard_index[item.split] += 1

    def _close(self, split: str) -> None:
        tar = self.current.pop(split)
        tar.close()
        name = self._shard_name(split)
        self.sink.put_file(name, self.workdir / name)

    def finish(self) -> None:
        for split in self.plan.splits:
            if split in self.current:
                self._close(split)
            elif self.shard_index[split] == 0:
                # An empty split still gets its (empty) first shard, so the
                # documented URL pattern always resolves.
                self._tar(split)
                self._close(split)
