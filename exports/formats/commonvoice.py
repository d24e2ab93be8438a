"""Common Voice: ``clips/`` plus tab-separated files with Common Voice's columns.

``train/dev/test.tsv`` hold every exported clip of their split; the status
files follow Common Voice's meaning: ``validated.tsv`` (validated chunks),
``other.tsv`` (not yet decided: open or waiting for review) and
``invalidated.tsv`` (rejected), written when the export includes such chunks;
``accepted.tsv`` (not Common Voice's) lists the crowd-accepted tier, decided
below the validated bar.
No quoting (Common Voice has none): tabs and newlines in text become spaces.
An export with augmented copies adds an ``augmentation`` column; the copies are
listed in ``train.tsv`` and ``clip_durations.tsv`` only, never in the status files
(those list the clips as contributed).
"""

from __future__ import annotations

from exports.formats import Item, Writer, clean_text

COLUMNS = (
    "client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes",
    "down_votes", "age", "gender", "accents", "variant", "locale", "segment",
)  # fmt: skip
STATUS_FILES = {
    "validated": "validated.tsv",
    "accepted": "accepted.tsv",
    "open": "other.tsv",
    "needs_review": "other.tsv",
    "rejected": "invalidated.tsv",
}


class CommonVoiceWriter(Writer):
    name = "commonvoice"
    uses_clips = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.columns = (*COLUMNS, "augmentation") if self.plan.augmented else COLUMNS
        names = [f"{split}.tsv" for split in self.plan.splits]
        names += sorted({"validated.tsv"} | {STATUS_FILES[s] for s in self.plan.statuses})
        self.files = {}
        for name in names:
            fh = open(self.workdir / name, "w", encoding="utf-8", newline="")  # noqa: SIM115
            fh.write("\t".join(self.columns) + "\n")
            self.files[name] = fh
        self.durations = open(self.workdir / "clip_durations.tsv", "w", encoding="utf-8")  # noqa: SIM115
        self.durations.write("clip\tduration[ms]\n")

    def write(self, item: Item) -> None:
        row = (
            item.speaker,
            item.clip_name,
            item.sentence_id,
            clean_text(item.text),
            "",
            str(item.votes if item.status == "validated" else 0),
            str(item.votes if item.status == "rejected" else 0),
            item.age,
            item.gender,
            clean_text(item.dialect),
            "",
            item.language,
            "",
        )
        if self.plan.augmented:
            row = (*row, item.augmentation)
        line = "\t".join(row) + "\n"
        self.files[f"{item.split}.tsv"].write(line)
        if not item.augmentation:
            self.files[STATUS_FILES[item.status]].write(line)
        self.durations.write(f"{item.clip_name}\t{round(item.duration * 1000)}\n")

    def finish(self) -> None:
        self.durations.close()
        self.sink.put_file("clip_durations.tsv", self.workdir / "clip_durations.tsv")
        for name, fh in self.files.items():
            fh.close()
            self.sink.put_file(name, self.workdir / name)
