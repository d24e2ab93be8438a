import factory
from django.conf import settings
from django.utils import timezone

from contributors import services
from contributors.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    display_name = factory.LazyAttribute(lambda u: u.username.title())
    consent_version = factory.LazyFunction(lambda: settings.CONSENT_VERSION)
    consent_at = factory.LazyFunction(timezone.now)
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        # Through the service the admin uses, so a factory reviewer is what the
        # product makes (a staff user in the reviewer group), nothing more.
        if not create:
            return
        services.user_set_roles(user=self, roles=set(extracted or ["contributor"]))
