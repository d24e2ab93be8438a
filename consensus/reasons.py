"""Why the engine decided what it did, in words a reviewer reads.

The engine (``engine.policy._status``) stores a short technical reason with
every decision ("a review pays: 1.20 expected wrong words, estimated WER
14.0%"). Stored decisions keep that text, the record of what the rules said;
this module reads it back and says the same thing plainly, in the reviewer's
language. A reason it does not know (an older engine's) is shown as stored.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext, gettext_noop, ngettext

_NUMBER = r"(\d+(?:\.\d+)?)"


def _percent(value: str | float) -> str:
    return f"{float(value):.0%}"


# Reasons without figures.
_FIXED = {
    "the transcripts agree on no words": gettext_noop(
        "The transcripts agree on no word: careless answers or broken audio. A person must listen."
    ),
    "every word clearly agreed": gettext_noop("Every word clearly agreed."),
    "every word agreed; one more transcript to confirm": gettext_noop(
        "Every word agreed; one more transcript to confirm it."
    ),
    "reviewer: accept": gettext_noop("A reviewer accepted the proposed text."),
    "reviewer: correct": gettext_noop("A reviewer corrected the text."),
    "reviewer: reject": gettext_noop("A reviewer rejected the clip."),
    # Why a finished chunk was decided again (the rule's reason follows).
    "re-scored with re-estimated reliabilities": gettext_noop(
        "Decided again with the contributors' newly estimated reliabilities."
    ),
    "a contributor was blocked": gettext_noop("Decided again because a contributor was blocked."),
    "a contributor was unblocked": gettext_noop(
        "Decided again because a contributor was unblocked."
    ),
    "nobody left to ask": gettext_noop(
        "Finished with the answers it has: every volunteer active in its language "
        "has answered it, and nobody new came to answer it."
    ),
}

# "<prefix>: 1.20 expected wrong words, estimated WER 14.0%": the chunk's doubt.
_DOUBT = re.compile(r"(.+): " + _NUMBER + r" expected wrong words, estimated WER " + _NUMBER + "%")
_DOUBTS = {
    "a review pays": gettext_noop(
        "About %(expected)s wrong words are expected (%(wer)s of the words): a review "
        "fixes more of them than another volunteer would, for the time it takes."
    ),
    "the sentence is disputed": gettext_noop(
        "Volunteers disagree on whether it says its script sentence "
        "(about %(expected)s wrong words expected, %(wer)s of the words): "
        "a person must decide."
    ),
    "review queue full": gettext_noop(
        "A review would pay, but the review queue is full: one more volunteer "
        "is asked instead (about %(expected)s wrong words expected, %(wer)s of the words)."
    ),
    "settled by the crowd": gettext_noop(
        "Settled by the crowd: a review would not pay for its time "
        "(about %(expected)s wrong words expected, %(wer)s of the words)."
    ),
    "settled": gettext_noop(
        "Settled by the crowd: another transcript would fix too little "
        "(about %(expected)s wrong words expected, %(wer)s of the words)."
    ),
    "uncertain": gettext_noop(
        "Still uncertain: one more volunteer is asked "
        "(about %(expected)s wrong words expected, %(wer)s of the words)."
    ),
}

_FLAGGED = re.compile(r"(\d+) people flagged the audio")
_SAYS = re.compile(r"says its sentence \(P " + _NUMBER + r", (\d+) confirmed\)")
_NOT_YET = re.compile(r"sentence not yet confirmed \(P " + _NUMBER + r"\)")
_SPLIT = re.compile(r"split on the sentence \(P " + _NUMBER + r"\)")
_WORD_FOR_WORD = re.compile(r"(\d+) transcripts agree word for word")
_SO_FAR = re.compile(r"(\d+) of (\d+) transcripts")
_WILD = re.compile(r"transcripts disagree wildly \(mean CER " + _NUMBER + r"\)")


def _match(reason: str) -> str | None:
    reason = reason.strip()
    if reason in _FIXED:
        return gettext(_FIXED[reason])
    if (match := _DOUBT.fullmatch(reason)) and match[1] in _DOUBTS:
        figures = {"expected": f"{float(match[2]):.1f}", "wer": _percent(float(match[3]) / 100)}
        return gettext(_DOUBTS[match[1]]) % figures
    if match := _FLAGGED.fullmatch(reason):
        n = int(match[1])
        return ngettext(
            "%(n)d person flagged the audio (unintelligible or in another language): "
            "a person must listen.",
            "%(n)d people flagged the audio (unintelligible or in another language): "
            "a person must listen.",
            n,
        ) % {"n": n}
    if match := _SAYS.fullmatch(reason):
        n = int(match[2])
        return ngettext(
            "It says its script sentence (probability %(p)s; %(n)d listener confirmed it).",
            "It says its script sentence (probability %(p)s; %(n)d listeners confirmed it).",
            n,
        ) % {"p": _percent(match[1]), "n": n}
    if match := _NOT_YET.fullmatch(reason):
        return gettext("Its script sentence is not confirmed yet (probability %(p)s).") % {
            "p": _percent(match[1])
        }
    if match := _SPLIT.fullmatch(reason):
        return gettext(
            "Listeners disagree on whether it says its script sentence: one more "
            "listener is asked (probability %(p)s)."
        ) % {"p": _percent(match[1])}
    if match := _WORD_FOR_WORD.fullmatch(reason):
        # Never fewer than three: the rule needs that many.
        return gettext("%(n)s transcripts typed the same words, word for word.") % {"n": match[1]}
    if match := _SO_FAR.fullmatch(reason):
        return gettext("%(typed)s of the %(needed)s transcripts it needs so far.") % {
            "typed": match[1],
            "needed": match[2],
        }
    if match := _WILD.fullmatch(reason):
        return gettext(
            "The transcripts disagree wildly (%(cer)s of their letters differ): "
            "a person must listen."
        ) % {"cer": _percent(match[1])}
    return None


def _explain(reason: str) -> str:
    explained = _match(reason)
    if explained is not None:
        return explained
    # A re-score's reason is two: why it was decided again, then the rule's own.
    head, separator, tail = reason.partition("; ")
    if separator and (first := _match(head)) is not None:
        return f"{first} {_explain(tail)}"
    return reason


def explain_reason(reason: str, *, audit: bool = False) -> str:
    """The stored ``reason`` of a decision, said plainly; ``audit``: the
    decision drew the clip for an audit."""
    text = _explain(reason) if reason.strip() else ""
    if audit:
        note = gettext(
            "Drawn at random for an audit: a person confirms a small share of "
            "the clips the engine validated, to keep it honest."
        )
        text = f"{text} {note}".strip()
    return text
