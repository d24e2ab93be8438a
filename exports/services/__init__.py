"""Writes: requesting an export and building it, one module per concern.

- ``lifecycle``: create, enqueue, retry, sweep; an attempt's claim, progress,
  failure and completion;
- ``planning``: the snapshot, speakers' splits, sentence owners, split sizes;
- ``clips``: one chunk row → its items (or why it is left out), one audio path;
- ``build``: the task's entry point and the plain build;
- ``batches``: processed exports, batch by batch, then the final step;
- ``report``: totals, the datasheet, stats.json and checksums;
- ``access``: researchers' requests for access, and admins' decisions.
"""

from exports.services.access import (
    AccessRequestError,
    access_request_create,
    access_request_decide,
)
from exports.services.batches import export_finish, export_process_batch
from exports.services.build import export_build
from exports.services.lifecycle import (
    WORK_ROOT,
    ExportEmptyError,
    ExportSupersededError,
    NoiseSetError,
    export_create,
    export_enqueue,
    export_fail,
    export_retry,
    export_sweep,
    work_prefix,
)

__all__ = [
    "WORK_ROOT",
    "AccessRequestError",
    "ExportEmptyError",
    "ExportSupersededError",
    "NoiseSetError",
    "access_request_create",
    "access_request_decide",
    "export_build",
    "export_create",
    "export_enqueue",
    "export_fail",
    "export_finish",
    "export_process_batch",
    "export_retry",
    "export_sweep",
    "work_prefix",
]
