"""Web page for reading a script aloud; recording and upload happen in static/js/record.js."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from recordings import selectors
from recordings.models import LengthBucket, ScriptReportReason
from recordings.wording import LEVEL_LABEL, LEVEL_WORDS, NOISE_LABEL, NOISE_WORDS
from shrutik.numbers import localize_digits


@login_required
@require_GET
def record(request):
    languages = list(selectors.language_list_active())
    # "Record this script again" (after a rejection) names the script.
    again = None
    if request.user.has_consented and (request.GET.get("script") or "").isdigit():
        again = selectors.script_for_reader(user=request.user, script_id=request.GET["script"])
    language = selectors.language_pick(
        languages,
        again.language.code if again else request.GET.get("language"),
        request.user.native_language,
        request.LANGUAGE_CODE,
    )
    length = request.GET.get("length") or ""
    if length not in LengthBucket.values:
        length = ""  # any length
    script = again
    if script is None and language is not None and request.user.has_consented:
        script = selectors.script_next(user=request.user, language=language, length=length or None)
    # Nothing to read: is the bucket empty, or has the reader read all of it?
    bucket_empty = bool(
        script is None
        and language is not None
        and length
        and not selectors.script_bucket_has_scripts(language=language, length=length)
    )
    return render(
        request,
        "recordings/record.html",
        {
            "languages": languages,
            "language": language,
            "lengths": LengthBucket.choices,
            "length": length,
            "script": script,
            "reading_time": reading_time(script.estimated_seconds) if script else "",
            "bucket_empty": bucket_empty,
            "report_reasons": ScriptReportReason.choices,
            "strings": ui_strings(),
        },
    )


def reading_time(seconds: float) -> str:
    """About how long reading a script takes, in the reader's words and digits."""
    if seconds < 60:
        n = max(5, round(seconds / 5) * 5)
        text = ngettext("About %(n)d second to read", "About %(n)d seconds to read", n)
    else:
        n = max(1, round(seconds / 60))
        text = ngettext("About %(n)d minute to read", "About %(n)d minutes to read", n)
    return localize_digits(text % {"n": n})


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
        "uploaded": _("Uploaded."),
        "status_uploaded": _("Uploaded. Waiting for processing…"),
        "status_processing": _("Processing your recording…"),
        # Plural forms by count: JS picks "one" for 1 and "other" otherwise,
        # the rule of both English and Bangla (the catalogue's Plural-Forms).
        "status_chunked_one": ngettext(
            "Done! Your reading was cut into {count} sentence clip.",
            "Done! Your reading was cut into {count} sentence clips.",
            1,
        ),
        "status_chunked_other": ngettext(
            "Done! Your reading was cut into {count} sentence clip.",
            "Done! Your reading was cut into {count} sentence clips.",
            2,
        ),
        "status_rejected": _("Your recording could not be used: {reason}"),
        "status_failed": _(
            "Processing failed. We will try again; you can record another script meanwhile."
        ),
        "poll_error": _("Could not reach the server; checking again shortly…"),
        "duration": _("Length"),
        "seconds": _("{value} s"),
        "level_label": str(LEVEL_LABEL),
        "noise_label": str(NOISE_LABEL),
        **{f"level_{key}": str(words) for key, words in LEVEL_WORDS.items()},
        **{f"noise_{key}": str(words) for key, words in NOISE_WORDS.items()},
        "speech": _("Speech"),
        "chunks": _("Sentence clips"),
        "report_sent": _("Thank you. You will not be given this script again."),
        "report_withdrawn": _(
            "Thank you. Enough readers reported this script: it is taken out of use "
            "until an admin checks it."
        ),
        "report_failed": _("The report could not be sent: {detail}"),
    }
