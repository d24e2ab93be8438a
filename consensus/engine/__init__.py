"""Consensus engine: what a chunk says, how sure we are, and whether to ask again.

Framework-free (no Django): the ``consensus`` app stores transcripts and
reliabilities and calls these functions. The stable API is what is exported
here; everything else may change between method versions.
"""

from transcriptions.normalize import normalize, tokenize

from .policy import audit_draw, decide, rescored_status
from .reliability import (
    DecidedChunk,
    Evidence,
    Reliability,
    ReliabilityState,
    reading_accuracy,
    reading_evidence,
    reading_prior,
    reading_update,
    reestimate,
    reliability_evidence,
    reliability_prior,
    reliability_update,
    reliability_weight,
    vote_evidence,
)
from .schema import (
    METHOD_VERSION,
    REVIEW_FLAGS,
    STOP_THRESHOLD_RANGE,
    Decision,
    EngineConfig,
    Mode,
    Status,
    Transcript,
    budget_factor,
    budget_threshold,
    weight_from_accuracy,
)

__all__ = [
    "METHOD_VERSION",
    "REVIEW_FLAGS",
    "STOP_THRESHOLD_RANGE",
    "DecidedChunk",
    "Decision",
    "EngineConfig",
    "Evidence",
    "Mode",
    "Reliability",
    "ReliabilityState",
    "Status",
    "Transcript",
    "audit_draw",
    "budget_factor",
    "budget_threshold",
    "decide",
    "normalize",
    "reading_accuracy",
    "reading_evidence",
    "reading_prior",
    "reading_update",
    "reestimate",
    "reliability_evidence",
    "reliability_prior",
    "reliability_update",
    "reliability_weight",
    "rescored_status",
    "tokenize",
    "vote_evidence",
    "weight_from_accuracy",
]
