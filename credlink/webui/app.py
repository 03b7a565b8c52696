"""The FastAPI app of the workbench and the platform pages, mounted at :data:`URL_PREFIX`.

Pages (server-rendered Jinja2, ``templates/``; links are relative to where the app is mounted):

``GET  review``                 the open items by consequence, filters ``source``,
                                ``subject_type``, ``band``; who has each open
``GET  review/item?key=KEY``    one item: both records side by side, agreeing and disagreeing
                                facts marked, the waterfall, what accepting would impose on whom;
                                Accept / Reject / Not sure with a note; keys a, r, n, j
``POST review/open``            the page's heartbeat: "open by" marker renewed
``POST review/decide``          a decision (reviewer role): ``key``, ``action``
                                (accept / reject / unsure), ``candidate``, ``note``; 303 to the
                                next item, 409 when the item was decided already or changed
                                (JSON with ``Accept: application/json``)
``POST review/apply``           trigger ``link_credit_codes`` now through Airflow's REST API, with
                                the caller's own token (reviewer role)
``GET  review/waterfall?key=``  Splink's own waterfall chart of the item (offline HTML)
``GET  platform``               linkage and restriction quality, who fails to link, the backlog
``GET  platform/search?q=``     a credit code (to its subject page) or a name
``GET  platform/subject/CODE``  what ``credlink explain CODE`` shows
``GET  api/items``              the queue as JSON

Every endpoint depends on :func:`credlink.webui.auth.caller` (401 without an Airflow identity);
deciding and triggering on :func:`credlink.webui.auth.reviewer` (403 without the role).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from credlink.webui.auth import Caller, caller, reviewer

CallerDep = Annotated[Caller, Depends(caller)]
ReviewerDep = Annotated[Caller, Depends(reviewer)]

__all__ = ["LINK_DAG", "URL_PREFIX", "app"]

URL_PREFIX = "/credlink"
#: The DAG that applies decisions ("apply now").
LINK_DAG = "link_credit_codes"
TEMPLATES = Path(__file__).parent / "templates"

app = FastAPI(title="credlink", docs_url=None, redoc_url=None, openapi_url=None)
_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), cache_size=50
)


def _lake() -> Any:
    from credlink import settings
    from credlink.etl.lake import Lake

    return Lake(settings.lake_dir())


def _warehouse() -> Path:
    from credlink import settings

    return settings.warehouse_path()


def _base(request: Request) -> str:
    """Where this app is mounted (``/credlink``, under Airflow's base path if any)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def render(
    request: Request, template: str, who: Caller | None, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    """`template` rendered with `ctx`, the caller and the app's base path."""
    html = _env.get_template(template).render(base=_base(request), who=who, **ctx)
    return HTMLResponse(html, status_code=status_code)


@app.exception_handler(HTTPException)
async def _refusal(request: Request, exc: HTTPException) -> Response:
    """A refusal as JSON for API clients, as a page for a browser."""
    if _wants_json(request) or "text/html" not in request.headers.get("accept", ""):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    return render(request, "message.html", None, exc.status_code,
                  title=f"{exc.status_code}: refused", message=str(exc.detail))  # fmt: skip


@app.get("/", include_in_schema=False)
def index(request: Request, who: CallerDep) -> RedirectResponse:
    return RedirectResponse(f"{_base(request)}/review", status.HTTP_303_SEE_OTHER)


# --- the review workbench --------------------------------------------------------------------


@app.get("/review", response_class=HTMLResponse)
def review_queue(
    request: Request,
    who: CallerDep,
    source: str | None = None,
    subject_type: str | None = None,
    band: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    from credlink.webui.workbench import filter_values, open_by, queue

    lake = _lake()
    everything = queue(lake, _warehouse(), reviewer=who.name)
    items = queue(
        lake,
        _warehouse(),
        source=source,
        subject_type=subject_type,
        band=band,
        reviewer=who.name,
    )
    chosen = {"source": source or "", "subject_type": subject_type or "", "band": band or ""}
    return render(
        request,
        "queue.html",
        who,
        items=items,
        total=len(everything),
        filters=filter_values(everything),
        chosen=chosen,
        query=urlencode({k: v for k, v in chosen.items() if v}),
        open_by=open_by(lake, [i.row["unique_id"] for i in items]),
        done=done,
    )


@app.get("/api/items")
def api_items(
    who: CallerDep,
    source: str | None = None,
    subject_type: str | None = None,
    band: str | None = None,
) -> JSONResponse:
    from credlink.webui.workbench import open_by, queue

    lake = _lake()
    items = queue(
        lake,
        _warehouse(),
        source=source,
        subject_type=subject_type,
        band=band,
        reviewer=who.name,
    )
    opened = open_by(lake, [i.row["unique_id"] for i in items])
    return JSONResponse(
        {
            "reviewer": who.may_review,
            "items": [
                {
                    "item_key": i.key,
                    "unique_id": i.row["unique_id"],
                    "subject_type": i.row["subject_type"],
                    "source": i.row["source"],
                    "band": i.band,
                    "candidate_code": i.row["candidate_code"],
                    "conflict_code": i.row.get("conflict_code"),
                    "link_probability": i.row.get("link_probability"),
                    "model_version": i.row.get("model_version"),
                    "would_impose": [m.name for m in i.held],
                    "open_by": opened.get(i.row["unique_id"], []),
                }
                for i in items
            ],
        }
    )


def _next_key(
    lake: Any, after: str | None, query: dict[str, str], reviewer: str | None = None
) -> str | None:
    """The key of the item after `after` in the (filtered) queue order; the first if `after`
    is not in it (decided), None when the queue is empty."""
    from credlink.webui.workbench import queue

    chosen = {k: v for k, v in query.items() if v}
    keys = [i.key for i in queue(lake, _warehouse(), **chosen, reviewer=reviewer)]
    if after in keys:
        rest = keys[keys.index(after) + 1 :]
        return rest[0] if rest else None
    return keys[0] if keys else None


@app.get("/review/item", response_class=HTMLResponse)
def review_item(
    request: Request,
    who: CallerDep,
    key: str,
    source: str | None = None,
    subject_type: str | None = None,
    band: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    from credlink.linkage.review import ReviewItemNotFound
    from credlink.webui.workbench import OPEN_FOR, item_view, mark_open, open_by

    lake = _lake()
    query = {"source": source or "", "subject_type": subject_type or "", "band": band or ""}
    try:
        view = item_view(lake, _warehouse(), key, who.name)
    except ReviewItemNotFound as exc:
        return render(request, "message.html", who, status.HTTP_404_NOT_FOUND,
                      title="Not an open item",
                      message=f"{exc.args[0]}: it was decided since, or a linkage run changed "
                      "it (its record then has a new key). Back to the queue.")  # fmt: skip
    uid = view["item"].row["unique_id"]
    others = [u for u in open_by(lake, [uid]).get(uid, []) if u != who.name]
    mark_open(lake, uid, who.name)
    return render(
        request,
        "item.html",
        who,
        **view,
        others=others,
        heartbeat_ms=int(OPEN_FOR / 4 * 1000),
        next_key=_next_key(lake, key, query, who.name),
        query=urlencode({k: v for k, v in query.items() if v}),
        filters=query,
        request_done=done,
    )


@app.post("/review/open", status_code=status.HTTP_204_NO_CONTENT)
def review_open(who: CallerDep, key: Annotated[str, Form()]) -> Response:
    from credlink.linkage.review import ItemKey
    from credlink.webui.workbench import mark_open

    try:
        uid = ItemKey.parse(key).unique_id
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    mark_open(_lake(), uid, who.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


ACTIONS = ("accept", "reject", "unsure")


@app.post("/review/decide")
def review_decide(
    request: Request,
    who: ReviewerDep,
    key: Annotated[str, Form()],
    action: Annotated[str, Form()],
    candidate: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
    source: Annotated[str | None, Form()] = None,
    subject_type: Annotated[str | None, Form()] = None,
    band: Annotated[str | None, Form()] = None,
) -> Response:
    """Record a decision exactly as ``credlink review accept|reject KEY`` does, by the
    logged-in user; "not sure" records nothing in ``linkage.decisions`` (the item stays open)
    and is audited."""
    from credlink.linkage.review import (
        DecisionConflict,
        ItemChanged,
        NotAKey,
        ReviewItemNotFound,
        decide,
        find_item,
    )
    from credlink.linkage.review_policy import load_review_policy
    from credlink.webui.workbench import append_audit, audit_entry, close_open

    if action not in ACTIONS:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"action must be one of {ACTIONS}, got {action[:40]!r}"
        )
    note = (note or "").strip() or None
    if note is not None and len(note) > 2000:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the note is longer than 2,000 characters")
    lake = _lake()
    now = datetime.now(UTC)
    try:
        shown: dict[str, Any] | None = find_item(lake, key, who.name)
    except ReviewItemNotFound:
        shown = None
    if shown is not None and shown["item_key"] != key:
        shown = None  # a record id or a number: decide() refuses it below
    query = {"source": source or "", "subject_type": subject_type or "", "band": band or ""}
    if action == "unsure":
        if shown is None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"{key[:200]!r} is not an open item")
        append_audit(lake, audit_entry(shown, who=who.name, role=who.role, action="unsure",
                                       candidate=None, note=note, at=now,
                                       outcome="not sure: left open"))  # fmt: skip
        return _after(
            request,
            lake,
            key,
            query,
            f"marked not sure: {shown['unique_id']} stays open",
            who.name,
        )
    try:
        row = decide(lake, key, action, reviewer=who.name, decided_at=now, note=note,
                     candidate_code=candidate or None)  # fmt: skip
    except NotAKey as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    except (DecisionConflict, ItemChanged) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    decided = row.row(0, named=True)
    # Under blind double review a decision is one reviewer's part of a round
    # (linkage.review_rounds): it takes effect when the round settles, and the message says
    # nothing of the other reviewer's decision.
    double = load_review_policy().mode == "double"
    outcome = (
        "recorded in linkage.review_rounds (blind double review)"
        if double
        else "recorded in linkage.decisions"
    )
    if shown is not None:
        append_audit(lake, audit_entry(shown, who=who.name, role=who.role, action=action,
                                       candidate=decided["candidate_code"], note=note, at=now,
                                       outcome=outcome))  # fmt: skip
        close_open(lake, shown["unique_id"], who.name)
    if double:
        message = (
            f"{action}ed {decided['unique_id']} -> {decided['candidate_code']} (by {who.name}); "
            "under blind double review it takes effect once the review round is settled"
        )
    else:
        message = (
            f"{action}ed {decided['unique_id']} -> {decided['candidate_code']} (by {who.name}); "
            f"it takes effect on the next linkage run ({LINK_DAG}), or now with 'apply now'"
        )
    if _wants_json(request):
        return JSONResponse(
            {
                "decision": {k: (v.isoformat() if isinstance(v, datetime) else v)
                             for k, v in decided.items()},
                "message": message,
            }
        )  # fmt: skip
    return _after(request, lake, key, query, message, who.name)


def _after(
    request: Request,
    lake: Any,
    key: str,
    query: dict[str, str],
    message: str,
    reviewer: str | None = None,
) -> Response:
    if _wants_json(request):
        return JSONResponse({"message": message})
    nxt = _next_key(lake, key, query, reviewer)
    params = {k: v for k, v in query.items() if v}
    if nxt is None:
        target = f"{_base(request)}/review?{urlencode({**params, 'done': message})}"
    else:
        target = (
            f"{_base(request)}/review/item?{urlencode({'key': nxt, **params, 'done': message})}"
        )
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


@app.post("/review/apply")
def review_apply(request: Request, who: ReviewerDep) -> Response:
    """Trigger ``link_credit_codes`` now through Airflow's REST API with the caller's token
    (Airflow applies its own permissions: a user who may not trigger DAGs is told so)."""
    server = request.scope.get("server") or ("127.0.0.1", 8080)
    api_root = _base(request).removesuffix(URL_PREFIX)
    url = f"{request.url.scheme}://{server[0]}:{server[1]}{api_root}/api/v2/dags/{LINK_DAG}/dagRuns"
    body = {"logical_date": None, "note": f"apply now: review workbench, {who.name}"}
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {who.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            run = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        code, title = exc.code, f"cannot trigger {LINK_DAG}"
        message = f"Airflow refused the run ({exc.code}): {detail}"
    except OSError as exc:
        code, title = status.HTTP_502_BAD_GATEWAY, f"cannot trigger {LINK_DAG}"
        message = f"Airflow's REST API did not answer at {url}: {exc}"
    else:
        code, title = status.HTTP_200_OK, f"{LINK_DAG} triggered"
        message = (
            f"run {run.get('dag_run_id')} is {run.get('state')}: the decisions take effect when "
            "it ends (the publish DAG follows on its Asset)"
        )
    if _wants_json(request):
        return JSONResponse({"title": title, "message": message}, status_code=code)
    return render(request, "message.html", who, code, title=title, message=message,
                  run_link=f"{api_root}/dags/{LINK_DAG}")  # fmt: skip


@app.get("/review/waterfall", response_class=HTMLResponse)
def review_waterfall(request: Request, who: CallerDep, key: str) -> Response:
    """Splink's waterfall chart of the item (:func:`linkage.review.waterfall`), offline HTML."""
    import tempfile

    from credlink.linkage.review import ReviewItemNotFound, find_item, waterfall

    lake = _lake()
    try:
        item = find_item(lake, key, who.name)
    except ReviewItemNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.args[0]) from exc
    with tempfile.TemporaryDirectory(prefix="credlink-waterfall-") as tmp:
        try:
            path = waterfall(lake, item, Path(tmp))
        except Exception as exc:  # the chart is an aid: say why there is none
            return render(request, "message.html", who, 200, title="No waterfall chart",
                          message=f"{type(exc).__name__}: {exc}")  # fmt: skip
        return HTMLResponse(path.read_text(encoding="utf-8"))


# --- the platform pages ----------------------------------------------------------------------


@app.get("/platform", response_class=HTMLResponse)
def platform(request: Request, who: CallerDep) -> HTMLResponse:
    from credlink.webui.pages import platform_tables
    from credlink.webui.workbench import backlog

    lake = _lake()
    runs, days = backlog(lake)
    return render(request, "platform.html", who, tables=platform_tables(lake), runs=runs,
                  days=days, open_now=_open_count(lake))  # fmt: skip


def _open_count(lake: Any) -> int:
    from credlink.linkage.review import open_items

    return int(open_items(lake).height)


@app.get("/platform/search", response_class=HTMLResponse)
def platform_search(request: Request, who: CallerDep, q: str = "") -> Response:
    from credlink.publish.explain import CodeShapeError, check_code_shape
    from credlink.webui.pages import search_subjects

    text = q.strip()
    if not text:
        return RedirectResponse(f"{_base(request)}/platform", status.HTTP_303_SEE_OTHER)
    try:
        code = check_code_shape(text)
    except CodeShapeError:
        code = None
    if code is not None:
        return RedirectResponse(
            f"{_base(request)}/platform/subject/{code}", status.HTTP_303_SEE_OTHER
        )
    if len(text) > 100:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "a name to search is at most 100 characters"
        )
    found = search_subjects(_warehouse(), text)
    return render(request, "search.html", who, q=text, found=found,
                  warehouse=_warehouse().is_file())  # fmt: skip


@app.get("/platform/subject/{code}", response_class=HTMLResponse)
def platform_subject(request: Request, who: CallerDep, code: str) -> HTMLResponse:
    from credlink.publish.explain import (
        CodeShapeError,
        check_code_shape,
        credit_record,
        format_credit_record,
    )
    from credlink.webui.workbench import frame_rows

    try:
        checked = check_code_shape(code)
    except CodeShapeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    warehouse = _warehouse()
    if not warehouse.is_file():
        return render(request, "message.html", who, 404, title="No warehouse yet",
                      message=f"no warehouse at {warehouse}: no publish run yet")  # fmt: skip
    record = credit_record(warehouse, checked)
    sections = [
        (title, *frame_rows(frame.select([c for c in cols if c in frame.columns])))
        for title, frame, cols in (
            ("Restrictions in force", record.restrictions,
             ["status", "memorandum_id", "measure_id", "measure", "enforcing_agency", "valid_from",
              "valid_to", "roles", "via_codes", "listing_records", "clause"]),
            ("Listing records and their links", record.listings,
             ["unique_id", "list_id", "reference", "listed_on", "outcome", "link_band",
              "link_method", "link_probability", "model_version", "credit_code",
              "candidate_code", "name_agreement", "evidence"]),
            ("History", record.history,
             ["as_of", "run_id", "memorandum_id", "measure_id", "change", "reason", "status",
              "valid_from", "valid_to"]),
        )
        if not frame.is_empty()
    ]  # fmt: skip
    subject = record.subject.row(0, named=True) if not record.subject.is_empty() else None
    return render(request, "subject.html", who, code=checked, subject=subject,
                  sections=sections, text=format_credit_record(record))  # fmt: skip
