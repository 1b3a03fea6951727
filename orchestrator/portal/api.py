"""The REST API, ``/api/v1``: the JSON of ``--output json``, errors as RFC 9457 problem details.

Writes take ``If-Match`` with the application's ledger version (its ``ETag``, the sequence of its
last event): when someone acted meanwhile the step is refused with 412 and nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from orchestrator import files
from orchestrator.core import lifecycle as lc
from orchestrator.core.ids import ENVIRONMENTS
from orchestrator.errors import UsageError
from orchestrator.portal import common
from orchestrator.portal.common import Json
from orchestrator.portal.identity import api_actor
from orchestrator.services.lifecycle import beijing_now

router = APIRouter(prefix="/api/v1", tags=["lifecycle"], default_response_class=Json)
if TYPE_CHECKING:  # Literals built at run time from the one vocabulary (FastAPI checks and documents
    # them); a type checker cannot read a computed Literal, so to it they are the strings they hold
    States = str
    Environments = str
    Steps = str
else:
    States = Literal[lc.STATES]
    Environments = Literal[tuple(e.value for e in ENVIRONMENTS)]
    Steps = Literal[tuple(common.STEPS)]


class StepBody(BaseModel):
    """The fields of a step; which ones a step takes is the CLI's (``govcloud app VERB --help``)."""

    reason: str | None = Field(None, max_length=4000)
    opinion: str | None = Field(None, max_length=4000)
    evidence: str | None = Field(None, max_length=4000)
    environment: Environments | None = None
    days: int | None = Field(None, ge=1, le=365)
    backups: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = Field(None, max_length=20)


def expected(if_match: str | None) -> int | None:
    """The version an ``If-Match`` names (``"7"``, ``7`` or ``W/"7"``)."""
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise UsageError(f"If-Match must be the application's ETag (its ledger version), got {if_match!r}")
    return int(value)


def _tagged(payload: Any, sequence: int, status: int = 200) -> Json:
    return Json(payload, status_code=status, headers={"ETag": f'"{sequence}"'})


@router.get("/applications", summary="Applications, by id; a unit sees its own")
def list_applications(
    request: Request,
    actor: lc.Actor = Depends(api_actor),
    state: States | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000_000),  # beyond any ledger; a larger one overflows the database's integer
) -> Any:
    unit = common.scope(actor)  # in the key: a unit's page is its own

    def read() -> bytes:
        service = common.lifecycle(request)
        page = {
            "items": service.overview(state=state, unit=unit, limit=limit, offset=offset),
            "total": service.store.count(state=state, unit=unit),
            "limit": limit,
            "offset": offset,
        }
        # kept as the answer's bytes, encoded as FastAPI encodes a returned dict: encoding 50 items
        # again for every request was half of what a kept page still cost
        return bytes(Json(jsonable_encoder(page)).body)

    return Response(
        common.kept(request, ("applications", state, unit, limit, offset), read), media_type=Json.media_type
    )


@router.get("/applications/{application}", summary="State, approvals and deadlines (app status)")
def get_application(application: str, request: Request, actor: lc.Actor = Depends(api_actor)) -> Any:
    service = common.lifecycle(request)
    state = common.readable(service, application, actor)
    return _tagged(service.status(application, beijing_now()), state.sequence)


@router.get("/applications/{application}/history", summary="Every event in order (app history)")
def get_history(application: str, request: Request, actor: lc.Actor = Depends(api_actor)) -> Any:
    service = common.lifecycle(request)
    common.readable(service, application, actor)
    return [e.as_dict() for e in service.history(application)]


@router.get("/applications/{application}/steps", summary="The steps this actor may take now")
def get_steps(application: str, request: Request, actor: lc.Actor = Depends(api_actor)) -> Any:
    state = common.readable(common.lifecycle(request), application, actor)
    return [
        {"step": common.VERB_OF[t.event], "environment": t.environment, "article": t.article, "doc": t.doc}
        for t in lc.steps_open(state, actor)
    ]


@router.get(
    "/applications/{application}/decision",
    summary="What a decision decides: manifest and plan differences, quota verdict, gate (changes, plan)",
)
def get_decision(application: str, request: Request, actor: lc.Actor = Depends(api_actor)) -> Any:
    return common.decision(request, application, actor)


@router.get("/applications/{application}/notices", summary="Its notices and their delivery (notify status --app)")
def get_notices(
    application: str, request: Request, actor: lc.Actor = Depends(api_actor), limit: int = Query(200, ge=1, le=1000)
) -> Any:
    return common.notices(request, application, actor, limit)


@router.get("/expiring", summary="Test environments expiring within days (Art. 13)")
def get_expiring(request: Request, actor: lc.Actor = Depends(api_actor), days: int = Query(7, ge=0, le=366)) -> Any:
    return common.visible(common.lifecycle(request).expiring(beijing_now(), days), actor)


@router.get("/capacity", summary="The cloud's use against the 70% threshold (capacity, Art. 31)")
def get_capacity(actor: lc.Actor = Depends(api_actor)) -> Any:
    lc.check_reads_capacity(actor)
    return common.capacity()


@router.get("/reports/monthly", summary="The monthly report's figures (report monthly -f json, Art. 30); a unit's own")
def get_monthly(
    request: Request,
    month: str = Query(..., pattern=r"^\d{4}-\d{2}$"),
    unit: str | None = None,
    actor: lc.Actor = Depends(api_actor),
) -> Any:
    return common.monthly(request, actor, month, unit).as_dict()


@router.get("/reports/assessment", summary="The yearly assessment's figures (report assessment, Art. 45); a unit's own")
def get_assessment(
    request: Request,
    year: int = Query(..., ge=2000, le=2100),
    unit: str | None = None,
    actor: lc.Actor = Depends(api_actor),
) -> Any:
    return common.assessment(request, actor, year, unit).as_dict()


@router.get("/deadlines", summary="Running deadlines of every application (deadlines)")
def get_deadlines(request: Request, actor: lc.Actor = Depends(api_actor), overdue: bool = False) -> Any:
    service = common.lifecycle(request)
    found = [d.as_dict() for d in service.deadlines(beijing_now(), overdue=overdue).found]
    if actor.role == lc.UNIT:
        own = {a["application"] for a in service.overview(unit=actor.unit)}
        found = [d for d in found if d["application"] in own]
    return found


@router.get("/queues/{name}", summary="A work queue, earliest due first: office, provisioning or reclamation")
def get_queue(
    name: Literal["office", "provisioning", "reclamation"],
    request: Request,
    actor: lc.Actor = Depends(api_actor),
    limit: int = Query(200, ge=1, le=1000),
) -> Any:
    return common.visible(common.queue(request, name, beijing_now(), limit), actor)


@router.post("/applications", status_code=201, summary="Submit a manifest (app submit, Art. 11)")
async def post_application(
    request: Request, manifest: UploadFile = File(...), actor: lc.Actor = Depends(api_actor)
) -> Any:
    raw = await read_upload(manifest)
    event = await common.threaded(common.submit, request, actor, manifest.filename or "", raw)
    return _tagged(event.as_dict(), event.sequence, 201)


@router.post("/applications/{application}/change", summary="Request a change (app change, Art. 15)")
async def post_change(
    application: str,
    request: Request,
    manifest: UploadFile = File(...),
    if_match: str | None = Header(None),
    actor: lc.Actor = Depends(api_actor),
) -> Any:
    raw = await read_upload(manifest)
    event = await common.threaded(
        common.submit, request, actor, manifest.filename or "", raw, application, expected(if_match)
    )
    return _tagged(event.as_dict(), event.sequence)


@router.post("/applications/{application}/{step}", summary="A step (app accept, reject, review, approve, ...)")
def post_step(
    application: str,
    step: Steps,
    request: Request,
    body: StepBody | None = None,
    if_match: str | None = Header(None),
    actor: lc.Actor = Depends(api_actor),
) -> Any:
    fields = body.model_dump() if body else {}
    event = common.take_step(request, actor, application, step, fields, expected(if_match))
    return _tagged(event.as_dict(), event.sequence)


async def read_upload(upload: UploadFile) -> bytes:
    """The uploaded manifest, refused past the size a manifest file may have."""
    raw = await upload.read(files.MAX_BYTES + 1)
    if len(raw) > files.MAX_BYTES:
        raise files.FileRefused(
            f"upload:{upload.filename}",
            "file-size",
            f"is over {files.MAX_BYTES} bytes; a manifest is at most {files.MAX_BYTES}",
        )
    return raw
