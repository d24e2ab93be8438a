"""Researcher access: a request (who, for what, the data terms accepted), then an
admin's decision, which grants the role and tells the requester by e-mail."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from contributors.services import user_set_roles
from exports.models import AccessRequest, AccessStatus
from shrutik.permissions import RESEARCHER, user_has_role

logger = logging.getLogger(__name__)


class AccessRequestError(Exception):
    """A request that cannot be made or decided; the message says why (translated)."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict  # another request or decision came first


def access_request_create(
    *,
    user,
    name: str,
    institution: str,
    email: str,
    purpose: str,
    terms_version: str,
    language: str = "",
    site_url: str = "",
) -> AccessRequest:
    """Store a pending request and tell the admins (after commit); ``site_url``
    (``https://host``) makes the e-mail's link to the admin absolute.

    Raises AccessRequestError when the user already is a researcher, the terms
    are not the current ones, or a request of theirs is still waiting.
    """
    if user_has_role(user, RESEARCHER):
        raise AccessRequestError(gettext("You already have researcher access."))
    if terms_version != settings.DATA_TERMS_VERSION:
        raise AccessRequestError(
            gettext("Accept the current data terms (version %(version)s).")
            % {"version": settings.DATA_TERMS_VERSION}
        )
    try:
        with transaction.atomic():
            request = AccessRequest.objects.create(
                user=user,
                name=name.strip(),
                institution=institution.strip(),
                email=email.strip(),
                purpose=purpose.strip(),
                terms_version=terms_version,
                language=language,
            )
            transaction.on_commit(lambda: _tell_admins(request, site_url))
    except IntegrityError:
        # access_request_one_pending: a request of theirs is already waiting.
        raise AccessRequestError(
            gettext("Your earlier request is still waiting for an admin."), conflict=True
        ) from None
    return request


def access_request_decide(
    *, request_id, admin, approve: bool, note: str | None = None, site_url: str = ""
) -> AccessRequest:
    """Approve (grant the researcher role) or decline a pending request, then
    e-mail the requester once the decision is committed.

    ``site_url`` (``https://host``) makes the e-mail's links absolute.
    Raises AccessRequestError when the request was decided already.
    """
    with transaction.atomic():
        request = (
            AccessRequest.objects.select_for_update().select_related("user").get(pk=request_id)
        )
        if request.status != AccessStatus.PENDING:
            raise AccessRequestError(
                gettext("This request was already decided (%(status)s).")
                % {"status": request.get_status_display()},
                conflict=True,
            )
        request.status = AccessStatus.APPROVED if approve else AccessStatus.DECLINED
        if note is not None:
            request.note = note.strip()
        request.decided_by = admin
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "note", "decided_by", "decided_at"])
        if approve:
            user = request.user
            roles = set(user.groups.values_list("name", flat=True)) & set(settings.ROLE_GROUPS)
            user_set_roles(user=user, roles=roles | {RESEARCHER})
        transaction.on_commit(lambda: _tell_requester(request, site_url))
    return request


def _send(subject: str, body: str, recipients: list[str]) -> None:
    # The decision stands whether or not the mail server answers: a failed
    # e-mail is logged, never rolled back into the request.
    try:
        send_mail(subject, body, None, recipients)
    except Exception:
        logger.warning("Could not send %r to %s", subject, recipients, exc_info=True)


def _tell_requester(request: AccessRequest, site_url: str) -> None:
    approved = request.status == AccessStatus.APPROVED
    with translation.override(request.language or settings.LANGUAGE_CODE):
        subject = (
            gettext("Your researcher access to Shrutik is approved")
            if approved
            else gettext("Your request for researcher access to Shrutik")
        )
        body = render_to_string(
            "exports/access_decision_email.txt",
            {"request": request, "approved": approved, "site_url": site_url.rstrip("/")},
        )
    _send(subject, body, [request.email])


def _tell_admins(request: AccessRequest, site_url: str) -> None:
    admins = list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not admins:
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = gettext("Researcher access requested by %(name)s") % {"name": request.name}
        body = render_to_string(
            "exports/access_request_email.txt",
            {"request": request, "site_url": site_url.rstrip("/")},
        )
    _send(subject, body, admins)
