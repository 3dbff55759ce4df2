"""The UI's Starlette app: server-rendered pages (runs, a run, services), a server-sent event
stream, three actions.

Every value that comes from a run is rendered by Jinja with autoescaping on, and pages are
served with a Content-Security-Policy that allows only the UI's own script and style files,
so a workflow id or a payload holding ``<script>`` stays text. Actions are POST forms that
carry a per-server token (another site cannot make the browser post them) and ask for a
confirmation first (a browser dialog, or a confirmation page without JavaScript).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..core.validate import check_topic
from ..durations import humanize_ns
from .actions import ActionResult, Actions, NoActions
from .data import STATUSES, ReadModel, RunFilter, now_ns, parse_search, parse_time
from .timeline import nondeterminism_diff, show

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")  # fmt: skip
MAX_PAYLOAD = 1 << 20


def _ts(ns: int | None) -> str:
    if ns is None:
        return "—"
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _pretty(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template is HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ts"] = _ts
    env.filters["dur"] = lambda ns: humanize_ns(int(ns)) if ns is not None else "—"
    env.filters["seg"] = lambda s: urllib.parse.quote(str(s), safe="")
    env.filters["pretty"] = _pretty
    env.filters["show"] = show
    return env


@dataclass
class UIState:
    model: ReadModel
    actions: Actions
    feed: Any  # BusFeed | PollFeed
    title: str = "duralua"
    telemetry: Any = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    closing: asyncio.Event | None = None
    attempts: Any = None  # AttemptLog when an engine runs in-process
    runtime: Any = None  # a services.RuntimeSource: where the Services page reads processes


def create_app(state: UIState) -> Starlette:
    env = _env()

    def page(template: str, ctx: dict[str, Any], status_code: int = 200) -> HTMLResponse:
        body = env.get_template(template).render(title=state.title, token=state.token, mode=state.actions.mode,
                                                 **ctx)  # fmt: skip
        return HTMLResponse(body, status_code=status_code, headers=_headers())

    def error(message: str, status_code: int) -> HTMLResponse:
        return page("error.html", {"message": message}, status_code)

    def runs_view(request: Request) -> Response:
        q = request.query_params
        try:
            flt = RunFilter(
                status=q.get("status", "") if q.get("status", "") in STATUSES else "",
                workflow_type=q.get("type", "").strip(), text=q.get("q", "").strip(),
                search=parse_search(q.getlist("search")), since_ns=parse_time(q.get("from", "")),
                until_ns=parse_time(q.get("to", "")), page=_int(q.get("page", "1"), 1),
            )  # fmt: skip
            problem = ""
        except ValueError as exc:
            flt, problem = RunFilter(), str(exc)
        result = state.model.runs(flt)
        base = {k: v for k, v in q.multi_items() if k not in ("page", "fragment") and v}
        ctx: dict[str, Any] = {"page_": result, "flt": flt, "statuses": STATUSES, "now": now_ns(), "problem": problem,
               "query": q, "search_text": "; ".join(q.getlist("search")),
               "page_url": lambda n: "/runs?" + urllib.parse.urlencode([*base.items(), ("page", str(n))]),
               "available": state.model.available(), "db": str(state.model.db_path)}  # fmt: skip
        if q.get("fragment"):
            return page("_runs_table.html", ctx)
        return page("runs.html", ctx)

    def run_view(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        detail = state.model.run(run_id)
        if detail is None:
            return error(f"no run {run_id} in {state.model.db_path}", 404)
        reason = str(detail.row.get("reason") or "")
        observed = state.attempts.of(run_id) if state.attempts is not None else {}
        ctx: dict[str, Any] = {"d": detail, "now": now_ns(), "diff": nondeterminism_diff(reason) if reason else None,
               "observed": observed, "flash": request.query_params.get("flash", ""),
               "flash_ok": request.query_params.get("ok", "1") == "1"}  # fmt: skip
        if request.query_params.get("fragment"):
            return page("_run_body.html", ctx)
        return page("run.html", ctx)

    def workflow_view(request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        run_id = state.model.latest_run_id(workflow_id) if state.model.available() else None
        if run_id is None:
            return error(f"no workflow with id {workflow_id}", 404)
        return RedirectResponse("/runs/" + urllib.parse.quote(run_id, safe=""), status_code=303)

    async def action(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        verb = request.path_params["verb"]
        if verb not in ("signal", "cancel", "terminate"):
            return error("unknown action", 404)
        if not _same_origin(request):
            return error("cross-site request refused", 403)
        body = await request.body()
        if len(body) > 2 * MAX_PAYLOAD:
            return error("the form is too large", 413)
        # Plain url-encoded forms (what these pages post): no multipart parser needed.
        fields = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items() if v}
        if not secrets.compare_digest(fields.get("token", ""), state.token):
            return error("this form is stale (the UI was restarted): reload the page and try again", 403)
        detail = await asyncio.to_thread(state.model.run, run_id)
        if detail is None:
            return error(f"no run {run_id}", 404)
        workflow_id = str(detail.row["workflow_id"])
        topic, raw = fields.get("topic", "").strip(), fields.get("payload", "").strip()
        payloads: list[Any] = []
        if verb == "signal":
            problem = check_topic(topic)
            if problem is not None:
                return _back(run_id, ActionResult(False, f"topic: {problem.message}"))
            try:
                payloads = _payloads(raw)
            except ValueError as exc:
                return _back(run_id, ActionResult(False, str(exc)))
        if fields.get("confirmed") != "1":
            return page("confirm.html", {"verb": verb, "d": detail, "topic": topic, "payload": raw,
                                         "reason": fields.get("reason", "")})  # fmt: skip
        if verb == "signal":
            result = await state.actions.signal(workflow_id, topic, payloads)
        elif verb == "cancel":
            result = await state.actions.cancel(workflow_id)
        else:
            reason = fields.get("reason", "").strip() or "terminated from the UI"
            result = await state.actions.terminate(workflow_id, reason)
        return _back(run_id, result)

    async def services_view(request: Request) -> Response:
        if state.runtime is None:
            return error("this UI has no process runtime to show", 404)
        ctx: dict[str, Any] = {"rt": await state.runtime.read()}
        if request.query_params.get("fragment"):
            return page("_services_body.html", ctx)
        return page("services.html", ctx)

    async def events(request: Request) -> Response:
        closing = state.closing or asyncio.Event()
        return StreamingResponse(state.feed.stream(closing), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})  # fmt: skip

    def metrics(request: Request) -> Response:
        tel = state.telemetry
        if tel is None or tel.registry is None:
            return PlainTextResponse("metrics are off: start with --metrics or set prometheus.enabled\n", 404)
        from ..telemetry.metrics import CONTENT_TYPE

        return Response(tel.metrics_text(), media_type=CONTENT_TYPE)

    def health(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    def home(request: Request) -> Response:
        return RedirectResponse("/runs", status_code=307)

    routes = [
        Route("/", home),
        Route("/runs", runs_view),
        Route("/runs/{run_id}", run_view),
        Route("/runs/{run_id}/{verb}", action, methods=["POST"]),
        Route("/workflows/{workflow_id:path}", workflow_view),
        Route("/services", services_view),
        Route("/events", events),
        Route("/metrics", metrics),
        Route("/healthz", health),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _payloads(raw: str) -> list[Any]:
    """The signal's payload: one JSON value (empty: no payload)."""
    if not raw:
        return []
    if len(raw) > MAX_PAYLOAD:
        raise ValueError("the payload is larger than 1 MiB")
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"the payload is not valid JSON ({exc})") from None
    return [value]  # the engine checks the rest (size, depth) and says what is wrong


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser, or one that sends no Origin on same-origin posts
    if origin == "null":
        return False
    host = request.headers.get("host", "")
    return urllib.parse.urlsplit(origin).netloc == host


def _back(run_id: str, result: ActionResult) -> Response:
    query = urllib.parse.urlencode({"flash": result.message, "ok": "1" if result.ok else "0"})
    return RedirectResponse(f"/runs/{urllib.parse.quote(run_id, safe='')}?{query}", status_code=303)


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store"}  # fmt: skip


__all__ = ["NoActions", "UIState", "create_app"]
