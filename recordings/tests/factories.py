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
