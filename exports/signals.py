"""What exports does when a contributor's account is erased, and the hooks it offers
the apps above for filters of their own."""

from __future__ import annotations

from django.dispatch import Signal

from exports.models import AccessRequest

# Filters owned by apps above exports ("campaign": a campaign's id). Asked when
# an export request names one: a receiver that knows ``name`` answers what the
# datasheet calls ``value`` (a campaign's name), or raises ValueError for a
# value it does not know. Arguments: name, value.
export_filter_label = Signal()

# Asked while selecting an export's chunks: a receiver answers a Q on Chunk for
# the filters it owns in ``filters``, or None. Arguments: filters (dict).
export_chunk_filter = Signal()


def on_user_erased(sender, *, user_id: int, **kwargs) -> None:
    """A request for researcher access names a person, their institution and
    e-mail: it goes with the account (the role went with the erasure)."""
    AccessRequest.objects.filter(user_id=user_id).delete()
