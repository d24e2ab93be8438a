"""Receivers for other apps' signals (connected in RecordingsConfig.ready)."""

from __future__ import annotations

from recordings.erasure import recording_audio_delete_for_user, recording_withdraw_open_chunks

__all__ = ["on_user_erased", "recording_audio_delete_for_user"]


def on_user_erased(sender, *, user_id: int, delete_recordings: bool = False, **kwargs) -> None:
    """Delete the audio now if asked; otherwise the erasure sweep does after the grace period."""
    if delete_recordings:
        recording_audio_delete_for_user(user_id=user_id)
    else:
        recording_withdraw_open_chunks(user_id=user_id)
