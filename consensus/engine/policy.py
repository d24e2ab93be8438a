"""The stopping rule: validate, ask for one more transcript, or send to review."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from transcriptions.normalize import tokenize, tokenize_with_raw

from .schema import (
    METHOD_VERSION,
    Decision,
    EngineConfig,
    Status,
    Transcript,
    transcript_weight,
    weight_from_accuracy,
)
from .vote import Consensus, Voter, combine, mean_pairwise_cer

_DEFAULT_CONFIG = EngineConfig()


def audit_draw(key: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by ``key``: the same chunk always draws
    the same number, so audit sampling is reproducible without stored state."""
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def build_voters(
    transcripts: Sequence[Transcript], prior_text: str | None, config: EngineConfig
) -> tuple[list[Voter], list[int]]:
    """Voters in input order (the script prior last) and, for each transcript
    that votes, its index among the voters (-1 when it does not vote).

    A transcript flagged unintelligible or wrong-language does not vote: its
    text, if any, is a guess its own author disowned.
    """
    voters: list[Voter] = []
    index: list[int] = []
    for transcript in transcripts:
        if transcript.flags & config.review_flags:
            index.append(-1)
            continue
        tokens, raws = tokenize_with_raw(transcript.raw_text)
        index.append(len(voters))
        voters.append(Voter(tokens, raws, transcript_weight(transcript, config)))
    if prior_text is not None and config.prior_weight > 0.0:
        tokens, raws = tokenize_with_raw(prior_text)
        voters.append(Voter(tokens, raws, config.prior_weight))
    return voters, index


def _status(
    transcripts: Sequence[Transcript],
    own: Sequence[Voter],
    consensus: Consensus,
    cer: float,
    prior_text: str | None,
    config: EngineConfig,
) -> tuple[Status, str]:
    """The stopping rule proper (see :func:`decide`); first match wins."""
    count = len(transcripts)
    # Voters at least as reliable as a newcomer: only they confirm a script or
    # an agreement.
    reliable = weight_from_accuracy(config.reliable_accuracy)
    flagged = sum(1 for t in transcripts if t.flags & config.review_flags)
    if flagged >= config.flags_for_review:
        return "needs_review", f"{flagged} transcribers flagged the audio"

    if prior_text is not None:
        prior_tokens = tokenize(prior_text)
        confirming = sum(1 for v in own if v.weight >= reliable and list(v.tokens) == prior_tokens)
        if prior_tokens and confirming >= 2:
            return "validated", "script confirmed word for word by 2 reliable transcribers"

    if count < config.start_transcripts:
        return "need_more", f"{count} of {config.start_transcripts} transcripts to start"

    if not consensus.tokens:
        # Speech chunks are cut around speech: agreeing on nothing means
        # lazy or broken submissions more often than a silent chunk.
        return "needs_review", "the transcripts agree on no words"

    if consensus.min_margin >= config.margin and consensus.estimated_wer <= config.wer_threshold:
        # Two people who agree on every word can still share a mishearing
        # (hard audio breeds the same wrong word), so validation waits for
        # ``validate_from`` reliable voters: a silenced or floored voter
        # confirms nothing.
        if sum(1 for v in own if v.weight >= reliable) >= config.validate_from:
            return "validated", "every word clearly agreed"
        return "need_more", "every word agreed; one more transcript to confirm"

    if len(own) >= config.wild_min_transcripts and cer > config.wild_cer:
        return "needs_review", f"transcripts disagree wildly (mean CER {cer:.2f})"

    estimated = consensus.estimated_wer
    if consensus.expected_errors <= config.stop_expected_errors:
        # Not clear enough to validate, but few enough words in doubt that
        # the transcript budget does more good on chunks with more of them.
        return "needs_review", (
            f"settled: {consensus.expected_errors:.2f} expected wrong words "
            f"(estimated WER {estimated:.1%})"
        )

    if count >= config.max_transcripts:
        return (
            "needs_review",
            f"no agreement after {count} transcripts (estimated WER {estimated:.1%})",
        )
    return "need_more", (
        f"uncertain words (estimated WER {estimated:.1%}, lowest margin {consensus.min_margin:.2f})"
    )


def decide(
    transcripts: Sequence[Transcript],
    *,
    prior_text: str | None = None,
    language: str,
    config: EngineConfig = _DEFAULT_CONFIG,
    audit_key: str | None = None,
) -> Decision:
    """Decide what a chunk says from the transcripts collected so far.

    Pure and deterministic: the same inputs give the same decision, including
    the audit draw, which depends only on ``audit_key`` (e.g. the chunk id).
    Rules, first match wins:

    1. ``flags_for_review`` transcripts flag the audio → needs_review.
    2. The script prior is matched word for word by two reliable transcribers
       → validated (no margin needed: three independent sources agree).
    3. Fewer than ``start_transcripts`` → need_more; a consensus with no
       words at all → needs_review.
    4. Every slot's winner leads by ``margin`` and the estimated WER is under
       ``wer_threshold`` → validated.
    5. Transcripts are wildly different (mean pairwise CER over the voting
       transcripts above ``wild_cer``, from ``wild_min_transcripts`` on)
       → needs_review.
    6. The expected number of wrong words is at most
       ``stop_expected_errors`` → needs_review (settled: one more transcript
       would fix less here than elsewhere; the platform steers that threshold
       to the transcript budget).
    7. ``max_transcripts`` reached → needs_review; otherwise need_more.

    A validated decision is marked for audit with probability ``audit_rate``;
    the caller sends it to review as well and keeps the status.
    """
    voters, voter_index = build_voters(transcripts, prior_text, config)
    consensus = combine(voters, null_factor=config.null_vote_factor)
    own = [voters[k] for k in voter_index if k >= 0]
    silenced = tuple(
        t.contributor_id
        for t, k in zip(transcripts, voter_index, strict=True)
        if k >= 0 and voters[k].weight <= 0.0
    )
    # Silenced voters are left out: one known spammer must not make an
    # otherwise agreeing chunk look wildly disputed.
    heard = [" ".join(v.tokens) for v in own if v.weight > 0.0]
    if len(heard) < 2:
        heard = [" ".join(v.tokens) for v in own]
    cer = mean_pairwise_cer(heard)
    status, reason = _status(transcripts, own, consensus, cer, prior_text, config)
    audit = (
        status == "validated"
        and audit_key is not None
        and audit_draw(audit_key, config.audit_salt) < config.audit_rate
    )
    return Decision(
        status=status,
        text=consensus.text,
        normalized_text=" ".join(consensus.tokens),
        words=tuple(zip(consensus.tokens, consensus.confidences, strict=True)),
        estimated_wer=consensus.estimated_wer,
        expected_errors=consensus.expected_errors,
        reason=reason,
        audit=audit,
        method_version=METHOD_VERSION,
        language=language,
        transcript_count=len(transcripts),
        min_margin=consensus.min_margin,
        mean_pairwise_cer=cer,
        silenced_contributors=silenced,
    )


def rescored_status(previous: Status, decision: Decision) -> Status:
    """Where a finished chunk stands after it is decided again with new weights
    (after the batch re-estimation, or once a contributor is blocked).

    Only the text and the weights change, never the number of transcripts, so
    a finished chunk never goes back to asking for more. A validated chunk
    stays validated only if the new weights still validate it; otherwise, like
    every other finished chunk, it waits for a reviewer with the new text.
    """
    if previous == "validated" and decision.status == "validated":
        return "validated"
    return "needs_review"
