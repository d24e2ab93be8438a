"""What exports does when a contributor's account is erased."""

from __future__ import annotations

from exports.models import AccessRequest


def on_user_erased(sender, *, user_id: int, **kwargs) -> None:
    """A request for researcher access names a person, their institution and
    e-mail: it goes with the account (the role went with the erasure)."""
    AccessRequest.objects.filter(user_id=user_id).delete()
