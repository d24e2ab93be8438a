"""Hugging Face: ``data/<split>-0000N-of-0000M.parquet`` with an ``audio``
column ``{bytes, path}`` and the ``datasets`` feature schema embedded in the
parquet metadata, so ``load_dataset("parquet", ...)`` reports ``Audio`` at the
export's sampling rate without reading the card. The dataset card (YAML
``dataset_info`` and ``configs``) is the datasheet's front matter.

Shards hold ``EXPORT_PARQUET_SHARD_ROWS`` rows, so the shard count of each
split (the ``-of-M`` in its names) is known from the plan before the first
row; a finished shard is uploaded and deleted at once.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import TYPE_CHECKING

from django.conf import settings

from exports.formats import Item, Writer, tier_fields

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

# pyarrow (about 40 MB resident) is imported where parquet is written, not at
# module import: every web and worker process loads this module.

STRING_COLUMNS = ("id", "text", "speaker_id", "language", "gender", "age", "accent")


def _string_columns(augmented: bool, tiered: bool) -> tuple[str, ...]:
    # "augmentation" only in exports with augmented copies ("" for originals),
    # "status" only in exports with more than validated clips.
    return (
        *STRING_COLUMNS,
        *(("augmentation",) if augmented else ()),
        *(("status",) if tiered else ()),
    )


def _float_columns(tiered: bool) -> tuple[str, ...]:
    return ("duration", "confidence") if tiered else ("duration",)


def features(
    sample_rate: int, augmented: bool = False, tiered: bool = False, audio: bool = True
) -> dict:
    """The ``datasets`` Features dict (``Features.to_dict()`` shape)."""
    feats: dict = {"audio": {"sampling_rate": sample_rate, "_type": "Audio"}} if audio else {}
    for name in _string_columns(augmented, tiered):
        feats[name] = {"dtype": "string", "_type": "Value"}
    for name in _float_columns(tiered):
        feats[name] = {"dtype": "float64", "_type": "Value"}
    return feats


def schema(
    sample_rate: int, augmented: bool = False, tiered: bool = False, audio: bool = True
) -> pa.Schema:
    import pyarrow as pa

    fields = (
        [pa.field("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())]))]
        if audio
        else []
    )
    fields += [pa.field(name, pa.string()) for name in _string_columns(augmented, tiered)]
    fields += [pa.field(name, pa.float64()) for name in _float_columns(tiered)]
    info = {"features": features(sample_rate, augmented, tiered, audio)}
    return pa.schema(fields, metadata={"huggingface": json.dumps({"info": info})})


def shard_count(clips: int, rows_per_shard: int) -> int:
    return max(1, math.ceil(clips / rows_per_shard))


def card_yaml(
    *,
    sample_rate: int,
    splits: dict[str, dict],
    augmented: bool = False,
    tiered: bool = False,
    num_bytes: dict[str, int] | None = None,
    download_size: int = 0,
    audio: bool = True,
) -> str:
    """YAML front matter for README.md (Hugging Face dataset card metadata).

    ``datasets`` reads a split only with its name, ``num_examples`` and
    ``num_bytes`` (the split's size in Arrow, as loaded); without all three it
    warns that the card is malformed and ignores the splits.
    """
    num_bytes = num_bytes or {}
    lines = ["dataset_info:", "  features:"]
    if audio:
        lines += ["  - name: audio", "    dtype:", "      audio:"]
        lines.append(f"        sampling_rate: {sample_rate}")
    for name in _string_columns(augmented, tiered):
        lines += [f"  - name: {name}", "    dtype: string"]
    for name in _float_columns(tiered):
        lines += [f"  - name: {name}", "    dtype: float64"]
    lines += ["  splits:"]
    for split, figures in splits.items():
        lines += [
            f"  - name: {split}",
            f"    num_bytes: {num_bytes.get(split, 0)}",
            f"    num_examples: {figures['clips']}",
        ]
    lines += [f"  download_size: {download_size}", f"  dataset_size: {sum(num_bytes.values())}"]
    lines += ["configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    return "\n".join(lines) + "\n"


class HuggingFaceWriter(Writer):
    name = "huggingface"

    def __init__(self, **kwargs) -> None:
        import pyarrow as pa

        super().__init__(**kwargs)
        self.rows_per_shard = settings.EXPORT_PARQUET_SHARD_ROWS
        self.schema = schema(
            self.plan.sample_rate, self.plan.augmented, self.plan.tiered, self.plan.audio
        )
        self.shards = {
            s: shard_count(self.plan.clips_per_split.get(s, 0), self.rows_per_shard)
            for s in self.plan.splits
        }
        self.index = dict.fromkeys(self.plan.splits, 0)
        self.rows_in_shard = dict.fromkeys(self.plan.splits, 0)
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[dict]] = {s: [] for s in self.plan.splits}
        # Arrow bytes written per split: the card's ``num_bytes``.
        self.num_bytes = dict.fromkeys(self.plan.splits, 0)
        # Arrow's jemalloc pool keeps freed row groups for reuse; return them at
        # once so a long export's RSS stays at one batch.
        with contextlib.suppress(NotImplementedError):
            pa.jemalloc_set_decay_ms(0)

    def _name(self, split: str, index: int) -> str:
        return f"{split}-{index:05d}-of-{self.shards[split]:05d}.parquet"

    def _writer(self, split: str) -> pq.ParquetWriter:
        import pyarrow.parquet as pq

        if split not in self.writers:
            path = self.workdir / self._name(split, self.index[split])
            self.writers[split] = pq.ParquetWriter(path, self.schema, compression="snappy")
        return self.writers[split]

    def write(self, item: Item) -> None:
        row = {
            "id": item.utt_id,
            "text": item.text,
            "speaker_id": item.speaker,
            "language": item.language,
            "gender": item.gender,
            "age": item.age,
            "accent": item.dialect,
            "duration": item.duration,
        }
        if self.plan.audio:
            row["audio"] = {"bytes": item.audio, "path": item.clip_name}
        if self.plan.augmented:
            row["augmentation"] = item.augmentation
        if self.plan.tiered:
            row.update(tier_fields(item))
        self.buffers[item.split].append(row)
        self.rows_in_shard[item.split] += 1
        if self.rows_in_shard[item.split] >= self.rows_per_shard:
            self._flush(item.split)
            self._close(item.split)

    def _flush(self, split: str) -> None:
        import pyarrow as pa

        rows = self.buffers[split]
        if rows:
            table = pa.Table.from_pylist(rows, schema=self.schema)
            self._writer(split).write_table(table)
            self.num_bytes[split] += table.nbytes
            self.buffers[split] = []

    def _close(self, split: str) -> None:
        self._writer(split)  # an empty shard still needs its file
        self.writers.pop(split).close()
        name = self._name(split, self.index[split])
        self.sink.put_file(f"data/{name}", self.workdir / name)
        self.index[split] += 1
        self.rows_in_shard[split] = 0

    def end_batch(self) -> None:
        # One row group per batch: bounded memory, and row groups of a few
        # hundred clips read efficiently.
        for split in self.plan.splits:
            self._flush(split)

    def finish(self) -> None:
        for split in self.plan.splits:
            self._flush(split)
            if split in self.writers:
                self._close(split)
            # Clips that vanished since planning (missing audio, withdrawn
            # consent) can leave planned shards unwritten: write them empty so
            # the "-of-M" names stay true.
            while self.index[split] < self.shards[split]:
                self._close(split)
