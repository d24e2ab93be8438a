import factory

from contributors.tests.factories import UserFactory
from recordings.models import Language, Script
from recordings.scripts import script_build


class LanguageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Language
        django_get_or_create = ("code",)

    code = "bn"
    name = "Bangla"
    native_name = "বাংলা"


def make_script(language: Language | None = None, text: str | None = None, **fields) -> Script:
    language = language or LanguageFactory()
    text = text or "আমি দুধ দিয়ে চা খাই।"
    script = script_build(language=language, text=text, **fields)
    script.save()
    return script


__all__ = ["LanguageFactory", "UserFactory", "make_script"]


def make_chunks(n: int, *, contributor=None, language=None, expected_text: str = "", **fields):
    """Chunks of one recording, without audio processing (assignment and consensus tests)."""
    from recordings.models import Chunk, Recording

    language = language or LanguageFactory()
    contributor = contributor or UserFactory()
    script = make_script(language, expected_text or None)
    recording = Recording.objects.create(
        contributor=contributor, script=script, sha256="0" * 64, status="chunked", duration=n * 3.0
    )
    return [
        Chunk.objects.create(
            recording=recording,
            language=language,
            contributor=contributor,
            index=i,
            start=i * 3.0,
            end=i * 3.0 + 2.5,
            duration=2.5,
            audio=f"chunks/{recording.id}/{i}.flac",
            expected_text=expected_text,
            **{"task_mode": "verify" if expected_text else "transcribe", **fields},
        )
        for i in range(n)
    ]


TOO_SHORT = (
    "The recording is too short ({duration} s). Please read the whole script aloud.",
    {"duration": "0.8"},
)


def reject_reading(recording_id, message: str = TOO_SHORT[0], params: dict | None = None) -> None:
    """Reject a recording as the worker does: its reason as a message with values."""
    from recordings.audio.quality import Rejection
    from recordings.services import recording_reject

    params = TOO_SHORT[1] if params is None else params
    recording_reject(recording_id=recording_id, reason=Rejection(message, params))
