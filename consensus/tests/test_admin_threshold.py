"""The stopping threshold in the admin: admins see it and may reset it."""

import pytest

from consensus.models import StoppingThreshold

pytestmark = pytest.mark.django_db


def test_admins_see_and_can_reset_the_stopping_threshold(admin_client):
    row = StoppingThreshold.objects.create(language="bn", value=1.37, chunks=12)
    listing = admin_client.get("/admin/consensus/stoppingthreshold/")
    assert listing.status_code == 200
    assert b"1.37" in listing.content
    url = f"/admin/consensus/stoppingthreshold/{row.pk}/change/"
    response = admin_client.post(url, {"value": "0.8"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.value == 0.8 and row.language == "bn" and row.chunks == 12
    assert admin_client.get("/admin/consensus/stoppingthreshold/add/").status_code == 403
