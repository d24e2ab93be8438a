"""Web page for reading a script aloud; recording and upload happen in static/js/record.js."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from recordings import selectors
from recordings.models import LengthBucket


@login_required
@require_GET
def record(request):
    languages = list(selectors.language_list_active())
    language = selectors.language_pick(
        languages, request.GET.get("language"), request.user.native_language, request.LANGUAGE_CODE
    )
    length = request.GET.get("length") or ""
    if length not in LengthBucket.values:
        length = ""  # any length
    script = None
    if language is not None and request.user.has_consented:
        script = selectors.script_next(user=request.user, language=language, length=length or None)
    return render(
        request,
        "recordings/record.html",
        {
            "languages": languages,
            "language": language,
            "lengths": LengthBucket.choices,
            "length": length,
            "script": script,
            "strings": ui_strings(),
        },
    )


def ui_strings() -> dict[str, str]:
    """Messages record.js shows, translated here so JS needs no catalogue of its own."""
    return {
        "unsupported": _(
            "This browser cannot record audio. Please use a recent Chrome, Firefox or Safari."
        ),
        "insecure": _("Recording needs a secure (https) connection to this site."),
        "asking": _("Asking for permission to use your microphone…"),
        "denied": _(
            "Microphone access was blocked. Allow the microphone for this site in your "
            "browser settings (the lock icon next to the address), then try again."
        ),
        "no_mic": _("No microphone was found. Connect one, or try another device."),
        "busy": _("Your microphone is in use by another app. Close it and try again."),
        "mic_error": _("The microphone could not be started: {error}"),
        "ready": _("Press Start and read the highlighted sentence."),
        "recording": _("Recording… read the highlighted sentence."),
        "paused": _("Paused. Press Resume to carry on."),
        "stopped": _("Listen back, then upload your reading or record it again."),
        "pause": _("Pause"),
        "resume": _("Resume"),
        "too_quiet": _("Too quiet: move closer to the microphone or speak a little louder."),
        "clipping": _("Too loud: the sound is distorting. Hold the phone a little further away."),
        "too_short": _("That was very short. Please read the whole script before stopping."),
        "uploading": _("Uploading… {percent}%"),
        "retrying": _("Connection lost. Trying again in {seconds} s (attempt {attempt} of {max})…"),
        "offline": _("You are offline. The upload continues when the connection is back."),
        "upload_failed": _("The upload failed: {detail}"),
        "upload_gave_up": _(
            "The upload did not get through. Check your connection and press Upload again."
        ),
        "uploaded": _("Uploaded. Waiting for processing…"),
        "status_uploaded": _("Uploaded. Waiting for processing…"),
        "status_processing": _("Processing your recording…"),
        "status_chunked": _("Done! Your reading was cut into {count} sentence clips."),
        "status_rejected": _("Your recording could not be used: {reason}"),
        "status_failed": _(
            "Processing failed. We will try again; you can record another script meanwhile."
        ),
        "poll_error": _("Could not reach the server; checking again shortly…"),
        "duration": _("Length"),
        "seconds": _("{value} s"),
        "loudness": _("Average level"),
        "snr": _("Signal to noise"),
        "speech": _("Speech"),
        "chunks": _("Sentence clips"),
    }
