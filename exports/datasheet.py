"""The export's datasheet: ``README.md`` (for people) from ``stats.json`` (for tools).

Written from the finished statistics only, so the figures a researcher reads
are the figures of the files they downloaded. Demographic tables are shown
per language only when the language has at least ``MIN_SPEAKERS_FOR_DEMOGRAPHICS``
speakers: with fewer, a table of ages and genders points at individuals.
"""

from __future__ import annotations

from django.utils import translation

from exports.formats import is_tiered
from shrutik.licences import licence_get

MIN_SPEAKERS_FOR_DEMOGRAPHICS = 5

FORMAT_NOTES = {
    "commonvoice": "`clips/` + `train.tsv`, `dev.tsv`, `test.tsv`, `validated.tsv` "
    "(Common Voice columns, tab-separated, no quoting; `accepted.tsv` lists the "
    "crowd-accepted tier) and `clip_durations.tsv`",
    "huggingface": '`data/<split>-0000N-of-0000M.parquet`: `load_dataset("parquet", '
    'data_dir="data")` or `load_dataset(".")` (this card\'s `configs`)',
    "nemo": "`<split>_manifest.json` (JSON lines; paths relative to the manifest)",
    "kaldi": "`kaldi/<split>/` (wav.scp, text, utt2spk, spk2utt, utt2dur, reco2dur, "
    "utt2lang, spk2gender; paths relative to the export root)",
    "lhotse": "`recordings_<split>.jsonl.gz`, `supervisions_<split>.jsonl.gz` "
    "(paths relative to the export root)",
    "webdataset": "`<split>-000000.tar` ...: `<key>.<audio>` + `<key>.json` per sample",
}


def _count(n: int, noun: str) -> str:
    """``1 speaker``, ``2 speakers``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def render(*, stats: dict, card_yaml: str = "") -> str:
    """Markdown datasheet; ``card_yaml`` (Hugging Face metadata) becomes front matter."""
    out: list[str] = []
    licence = licence_get(stats["licence"])
    with translation.override("en"):  # the datasheet is in English
        licence_name = str(licence.name)
    if card_yaml:
        # The card's licence, in the id the Hugging Face Hub knows it by.
        out += ["---", f"license: {licence.hub_id}", card_yaml.rstrip("\n"), "---", ""]
    export = stats["export"]
    out += [f"# Shrutik speech dataset — {export['version']}", ""]
    languages = ", ".join(f"{lang['name']} (`{code}`)" for code, lang in stats["languages"].items())
    out += [
        "Read speech recorded by volunteers on Shrutik, cut into sentence-sized clips "
        "and transcribed by other volunteers; each clip's text was decided by "
        "consensus (see *Collection and validation*).",
        "",
        f"- Languages: {languages or '—'}",
        *_campaign_line(export),
        f"- Clips: {stats['totals']['clips']}, hours: {_hours(stats['totals']['seconds'])}, "
        f"speakers: {stats['totals']['speakers']}",
        f"- Licence: [{licence_name}]({licence.url}) (`{licence.spdx}`)",
        _audio_line(export),
        f"- Export id: `{export['id']}`, created {export['created_at']}",
        "",
        *_delta_section(stats),
        "## Splits",
        "",
        "No speaker appears in more than one split"
        + (", and no sentence either" if export["split"].get("sentence_disjoint") else "")
        + ". Each language is split on its own, so every language follows the ratios. "
        + f"Split seed: {export['split'].get('seed', 0)}; ratios (by hours): "
        + ", ".join(f"{k} {v}" for k, v in export["split"].get("ratios", {}).items())
        + ". Speakers keep their split in later exports with the same seed and ratios.",
        "",
    ]
    rows = []
    for split, figures in stats["splits"].items():
        for code, lang in figures["languages"].items():
            rows.append([split, code, lang["clips"], _hours(lang["seconds"]), lang["speakers"]])
        rows.append(
            [f"**{split}**", "all", figures["clips"], _hours(figures["seconds"]),
             figures["speakers"]]
        )  # fmt: skip
    out += [*_table(["split", "language", "clips", "hours", "speakers"], rows), ""]
    out += _tiers_section(stats)
    dropped = stats.get("dropped", {})
    if dropped.get("clips"):
        out += [
            f"{_count(dropped['clips'], 'clip')} ({_hours(dropped['seconds'])} h) "
            f"{'was' if dropped['clips'] == 1 else 'were'} left out: "
            + "; ".join(f"{reason}: {n}" for reason, n in dropped.get("reasons", {}).items()),
            "",
        ]

    out += _processing_section(stats)
    out += ["## Speakers", ""]
    for code, lang in stats["languages"].items():
        out += [f"### {lang['name']} (`{code}`): {_count(lang['speakers'], 'speaker')}", ""]
        demo = lang.get("demographics")
        if demo is None:
            out += [
                f"Demographic tables are withheld: fewer than {MIN_SPEAKERS_FOR_DEMOGRAPHICS} "
                "speakers, so they could identify people.",
                "",
            ]
            continue
        for title, key in (("Gender", "gender"), ("Age", "age"), ("Accent / region", "accent")):
            counts = demo.get(key, {})
            if counts:
                rows = [[name or "not given", n] for name, n in counts.items()]
                out += [f"{title} (speakers):", "", *_table([title.lower(), "speakers"], rows)]
                out += [""]

    method = stats["method"]
    thresholds = ", ".join(f"`{k}` = {v}" for k, v in method["consensus"].items())
    out += [
        "## Collection and validation",
        "",
        "Contributors who accepted the contributor agreement read script sentences "
        "aloud in the browser. Recordings were checked for level, clipping and "
        "speech content and cut into sentence-sized clips (16 kHz mono FLAC). Other "
        "contributors listened to each clip and voted whether it says its script "
        "sentence, or, where the sentence was contradicted or missing, transcribed it "
        "blind, without seeing the script. A consensus engine weighed the votes by "
        "each listener's record, aligned the transcripts word by word and voted, "
        "weighting each transcriber by their estimated reliability and giving the "
        "script sentence one prior vote. Clips it settled with high confidence are "
        "`validated`; clips where the crowd settled below that bar are `accepted`, "
        "kept with their confidence; human reviewers decided the clips where a "
        "review added most (their texts count as validated).",
        "",
        f"Consensus method `{method['method_version']}`; thresholds: {thresholds}.",
        "",
        "Speaker ids are keyed hashes of internal pseudonyms: stable across exports, "
        "not reversible. Contributors who withdrew consent or erased their account "
        "are not included.",
        "",
        "## Files",
        "",
    ]
    out += [f"- **{fmt}**: {FORMAT_NOTES[fmt]}" for fmt in export["formats"]]
    if stats.get("delta"):
        out.append("- `removed.tsv`: ids of clips to delete from the earlier export (`id`, "
                   "`clip_id`, `split`; tab-separated).")  # fmt: skip
    out += [
        "- `stats.json`: these figures, machine-readable; `SHA256SUMS`: every file's "
        "checksum (`sha256sum -c SHA256SUMS`).",
        "",
        "## Filters",
        "",
        "```json",
        _json(export["filters"]),
        "```",
        "",
        "## Licence",
        "",
        f"[{licence_name}]({licence.url}) (`{licence.spdx}`). Every contributor accepted "
        "Shrutik's contributor agreement, which publishes their recordings, "
        "transcriptions and answers under this licence; credit them as "
        '"the Shrutik contributors" (the citation below).',
        "",
        "## Citation",
        "",
        "```",
        stats["citation"],
        "```",
        "",
    ]
    return "\n".join(out)


TIER_NOTES = {
    "validated": "high confidence: the sentence confirmed by listeners, every word "
    "clearly agreed by transcribers, or a reviewer's text",
    "accepted": "the crowd settled on the text below the validated bar; kept with "
    "its per-word confidence",
}


def _campaign_line(export: dict) -> list[str]:
    name = (export.get("filters") or {}).get("campaign_name")
    return [f"- Campaign: {name} (the clips recorded for it)"] if name else []


def _audio_line(export: dict) -> str:
    channels = "stereo" if (export.get("processing") or {}).get("channels") == 2 else "mono"
    if export.get("audio", True):
        return f"- Audio: {export['audio_format'].upper()}, {export['sample_rate']} Hz, {channels}"
    return (
        "- Audio: none — a metadata-only export (texts, speakers, durations). The "
        f"manifests name each clip as a full export with {export['audio_format'].upper()} "
        f"at {export['sample_rate']} Hz would ship it; durations are the stored ones."
    )


def _delta_section(stats: dict) -> list[str]:
    delta = stats.get("delta")
    if not delta:
        return []
    return [
        "## Changes since an earlier export",
        "",
        f"A delta export: only what changed since export `{delta['since_version']}` "
        f"(`{delta['since']}`, created {delta['since_created_at']}).",
        "",
        f"- {delta['added']} clips added and {delta['changed']} changed (their new "
        "text, status or speaker details): they are in this export's files. Replace "
        "clips of the earlier export by `id`.",
        f"- {delta['removed']} clips removed (rejected on review, or their speaker "
        "withdrew consent or erased their account): `removed.tsv` lists them, with "
        f"the old ids of changed clips whose id changed ({delta['ids_removed']} lines "
        "in all). Delete them from your copies.",
        f"- {delta['unchanged']} clips did not change and are not repeated.",
        "",
        "Speakers keep the split they had in the earlier export, so the splits of "
        "the two exports fit together.",
        "",
    ]


def _tiers_section(stats: dict) -> list[str]:
    """Clips, hours and estimated word error rate per status (clips as
    contributed, without augmented copies)."""
    tiers = stats.get("tiers") or {}
    if not tiers:
        return []
    out = ["## Quality tiers", ""]
    rows = []
    for status, figures in tiers.items():
        wer = figures.get("estimated_wer")
        rows.append(
            [status, figures["clips"], _hours(figures["seconds"]),
             "—" if wer is None else f"{wer:.2%}"]
        )  # fmt: skip
    out += _table(["status", "clips", "hours", "estimated WER"], rows)
    out += [""]
    out += [f"- `{s}`: {TIER_NOTES[s]}." for s in tiers if s in TIER_NOTES]
    out += [
        "",
        "Estimated WER is the consensus engine's own estimate (expected wrong words "
        "over words, from its per-word confidence); it ranks clips well but is "
        "optimistic for clips that look clean.",
    ]
    if is_tiered(stats["export"]["filters"].get("statuses")):
        out.append(
            "Every manifest carries each clip's `status` and `confidence` (1 − its estimated WER)."
        )
    return [*out, ""]


def _json(value) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _processing_section(stats: dict) -> list[str]:
    """What was done to the audio, so that a researcher can reproduce or undo it."""
    options = stats["export"].get("processing")
    if not options:
        return []
    out = ["## Audio processing", ""]
    rate = stats["export"]["sample_rate"]
    out.append(f"- Channels: {options.get('channels', 1)}; resampled to {rate} Hz with soxr (VHQ).")
    if trim := options.get("trim"):
        out.append(
            f"- Leading and trailing silence (below {trim['top_db']:g} dB under the "
            f"clip's loudest frame) trimmed, keeping {trim['margin_ms']} ms at each end."
        )
    low, high = options.get("min_duration"), options.get("max_duration")
    if low is not None or high is not None:
        out.append(
            f"- Clip duration after trimming kept within {low or 0:g}–"
            f"{'∞' if high is None else f'{high:g}'} s; others left out (see above)."
        )
    if loudness := options.get("loudness"):
        out.append(
            f"- Loudness normalised to {loudness['target_lufs']:g} LUFS (ITU-R BS.1770, "
            f"gated) with true peaks (4x oversampled) at most "
            f"{loudness['true_peak_dbtp']:g} dBTP."
        )
    augment = options.get("augment") or {}
    if augment:
        kinds = [f"speed {f:g}" for f in augment.get("speed") or []]
        if noise := augment.get("noise"):
            source = (
                "uploaded noise recordings"
                if noise["source"] == "set"
                else (f"generated {noise['source']} noise")
            )
            kinds += [f"{source} at {snr:g} dB SNR" for snr in noise["snrs"]]
        out.append(
            "- Augmented copies in the train split only (never dev or test), one per "
            f"kind: {', '.join(kinds)}. Each is marked in every manifest "
            "(`augmentation`: `speed=1.1`, `noise=pink@10dB`; empty for the recorded clip). "
            "Speed perturbation resamples, so pitch changes with speed."
        )
    out.append(f"- Seed: {options.get('seed', 0)} (same data, options and seed: same bytes).")
    figures = stats.get("processing") or {}
    augmented = figures.get("augmented", {})
    rows = [[name, v["clips"], _hours(v["seconds"])] for name, v in augmented.items()]
    if rows:
        out += ["", *_table(["augmentation", "clips", "hours"], rows)]
    extra = []
    if figures.get("limited_clips"):
        extra.append(f"{figures['limited_clips']:g} clips needed the true-peak limiter")
    if figures.get("trimmed_seconds"):
        extra.append(f"{figures['trimmed_seconds'] / 3600:.2f} h of silence trimmed")
    if extra:
        out += ["", "; ".join(extra).capitalize() + "."]
    return [*out, ""]
