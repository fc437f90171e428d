"""Transcript search and export for staff: the filtered set (the transcript page's filters, free text
over the redacted messages, a Telegram id) as CSV or JSON, one redacted turn per row.

The search and the redaction live in transcripts.search; here the query is parsed and the rows are
written. CSV cells that a spreadsheet would run as a formula (also after leading whitespace) are
defused with a leading quote.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from console.auth import require, services_of
from console.roles import Role
from console.staff import StaffView
from console.views import UnreadableIdError, telegram_id_filter, transcript_filters
from transcripts.search import ExportRow, export_rows

router = APIRouter()
EXPORT_LIMIT = 10_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = [field.name for field in dataclasses.fields(ExportRow)]


def search_params(params: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for transcripts.search from the transcript page's query parameters.

    A given but unreadable user_id/telegram_id is a 422, never an export of everyone.
    """
    try:
        return {
            "text": (params.get("q") or "").strip() or None,
            "telegram_user_id": telegram_id_filter(params),
            **transcript_filters(params),
        }
    except UnreadableIdError as error:
        raise HTTPException(422, str(error)) from None


def _rows(request: Request) -> list[ExportRow]:
    with services_of(request).session_factory() as session:
        return export_rows(session, limit=EXPORT_LIMIT, **search_params(dict(request.query_params)))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat() + "+00:00"
    text = str(value)
    # Spreadsheets trim leading spaces (no-break ones, newlines too) before they look for a formula.
    return "'" + text if text.startswith(FORMULA_START) or text.lstrip().startswith(FORMULA_START) else text


def _filename(extension: str) -> str:
    return f"transcripts-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.{extension}"


@router.get("/api/transcripts.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_csv(request: Request, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Response:
    """The filtered turns as CSV (redacted). Same query parameters as /transcripts, plus `q` (text
    in the redacted messages) and `telegram_id`; at most 10 000 rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in _rows(request):
        writer.writerow([_cell(getattr(row, name)) for name in COLUMNS])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename("csv")}"'},
    )


@router.get("/api/transcripts.json")
def export_json(request: Request, _staff: Annotated[StaffView, Depends(require(Role.VIEWER))]) -> Response:
    """The filtered turns as a JSON array (redacted); same parameters as the CSV export."""
    return JSONResponse(
        jsonable_encoder(_rows(request)),
        headers={"Content-Disposition": f'attachment; filename="{_filename("json")}"'},
    )
