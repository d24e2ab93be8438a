from django.core.management.base import BaseCommand
from django.db import transaction

from recordings.models import Language, Script
from recordings.scripts import script_build

LANGUAGES = [
    {"code": "bn", "name": "Bangla", "native_name": "বাংলা"},
    {"code": "en", "name": "English", "native_name": "English"},
]

# Original sentences written for the demo, released under CC0.
DEMO_SCRIPTS = {
    "bn": [
        "আজ সকালে বৃষ্টি হয়েছে।",
        "আমাদের গ্রামের পাশে একটি নদী আছে।",
        "বইটি টেবিলের উপরে রাখা আছে।",
        "মা রান্নাঘরে ভাত রাঁধছেন।",
        "ছেলেটি মাঠে ফুটবল খেলছে।",
        "শীতের দিনে খেজুরের রস খুব মিষ্টি লাগে।",
        "তুমি কি আগামীকাল স্কুলে যাবে?",
        "বাজারে আজ অনেক তাজা সবজি এসেছে।",
        "পাখিরা ভোরবেলা গান গায়। সূর্য ওঠার আগেই কৃষকেরা মাঠে যায়। "
        "দুপুরে তারা গাছের ছায়ায় বিশ্রাম নেয়। সন্ধ্যায় সবাই বাড়ি ফিরে আসে।",
        "নদীর ধারে একটি ছোট্ট বাড়ি ছিল। সেখানে এক বৃদ্ধ মাঝি থাকতেন। "
        "প্রতিদিন তিনি নৌকা নিয়ে মানুষ পার করতেন। গ্রামের সবাই তাঁকে ভালোবাসত।",
    ],
    "en": [
        "The morning train was late again today.",
        "She planted tomatoes along the garden wall.",
        "Please close the window before it rains.",
        "Our library opens early on Saturdays.",
        "The children built a tall tower of blocks.",
        "A cold wind blew across the empty field.",
        "Do you know the way to the old bridge?",
        "He wrote a long letter to his grandmother.",
        "The market was busy this morning. Farmers sold fresh fruit and bread. "
        "A small band played near the fountain. Everyone stayed until noon.",
        "The lighthouse stood on a rocky hill. Its light turned all night long. "
        "Ships passed safely through the narrow channel. The keeper slept in the day.",
    ],
}


class Command(BaseCommand):
    help = "Create the demo languages (Bangla, English) and a few scripts; safe to re-run."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        for spec in LANGUAGES:
            language, _ = Language.objects.get_or_create(code=spec["code"], defaults=spec)
            for text in DEMO_SCRIPTS[spec["code"]]:
                if Script.objects.filter(language=language, text=text).exists():
                    continue
                script_build(
                    language=language, text=text, source="Shrutik demo", licence="CC0-1.0"
                ).save()
                created += 1
        self.stdout.write(f"Demo data ready ({created} new scripts).")
