"""Page numbers as the schema declares them: an integer from 1, nothing else.

Kept apart from shrutik.api: DRF reads the pagination setting while defining
its generic views, so this module must not import anything that imports them.
"""

from __future__ import annotations

from rest_framework import pagination
from rest_framework.exceptions import NotFound


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's page numbers, less the forms the schema does not declare.

    DRF also takes an empty ``?page=`` (page 1), ``last``, and whatever
    ``int()`` reads (`` 2``, ``+2``, ``1_0``); those are now the 404 of a page
    that does not exist, like ``?page=abc`` already was.
    """

    last_page_strings = ()

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param)
        if value is None:
            return 1
        if not (value.isascii() and value.isdigit()):
            raise NotFound(self.invalid_page_message)
        return value

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
