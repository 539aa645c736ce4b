"""GET /api/v1/tasks/{id}/search/?q=&author=&name=&from=&to=&box_user_id=&page=&page_size="""

from __future__ import annotations

from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from boxvault.accounts.access import for_user
from boxvault.core.operations import Operation
from boxvault.search import services
from boxvault.search.query import BadInput


def _int(request: Request, name: str, default: int) -> int:
    text = request.GET.get(name, "")
    if not text:
        return default
    if not text.isdigit() or len(text) > 6:
        raise ValidationError({"detail": f"{name} is a positive whole number"})
    return int(text)


_PARAMETERS = [
    OpenApiParameter("q", description='words of the path; "quoted words" form a phrase'),
    OpenApiParameter("author", description="prefixes of a creator's or modifier's name or login"),
    OpenApiParameter("name", description="prefixes of the words of the item's name"),
    OpenApiParameter("from", OpenApiTypes.DATE, description="content modified on or after (YYYY-MM-DD)"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="content modified on or before (YYYY-MM-DD)"),
    OpenApiParameter("box_user_id", description="only this Box user's items"),
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1-200, default 50"),
]


class SearchView(APIView):
    @extend_schema(parameters=_PARAMETERS, responses=OpenApiTypes.OBJECT, summary="Search backed-up items")
    def get(self, request: Request, task_id: int) -> Response:
        access = for_user(request.user, Operation.PREVIEW_DATA)
        task = services.task_for(access, task_id)
        size = _int(request, "page_size", 50)
        page = _int(request, "page", 1)
        if size < 1 or page < 1:
            raise ValidationError({"detail": "page and page_size start at 1"})
        args = request.GET
        try:
            found = services.search_items(
                access,
                task,
                q=args.get("q"),
                author=args.get("author"),
                name=args.get("name"),
                date_from=args.get("from"),
                date_to=args.get("to"),
                box_user_id=args.get("box_user_id"),
                limit=size,
                offset=(page - 1) * size,
            )
        except BadInput as exc:
            raise ValidationError({"detail": str(exc)}) from exc

        def link(number: int) -> str:
            query = {k: v for k, v in args.items() if k != "page"}
            query["page"] = str(number)
            return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")

        return Response(
            {
                "page": found.page,
                "page_size": found.page_size,
                "next": link(page + 1) if found.has_next else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": found.results,
            }
        )
