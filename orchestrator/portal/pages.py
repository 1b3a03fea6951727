"""Server-rendered pages for the unit, the e-gov office and the provider (Jinja2, autoescaped).

What a page offers is decided by the core (:func:`orchestrator.core.lifecycle.steps_open`), what a
step does by the service; a page only shows and posts. Every form carries the session's CSRF token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from orchestrator.adapters import render as catalogue
from orchestrator.adapters.oidc import AuthenticationFailed
from orchestrator.core import lifecycle as lc
from orchestrator.errors import ExternalError, GovcloudError, ManifestInvalid, NotFound, RuleError, UsageError
from orchestrator.portal import common
from orchestrator.portal.config import PortalConfig
from orchestrator.portal.identity import csrf_ok, csrf_token, login_actor, session_actor, sign_in
from orchestrator.services.lifecycle import beijing_now
from orchestrator.services.notices import of_application

HTMX_VERSION = "2.0.4"


class _Pages(jinja2.Environment):
    """The pages' templates: compiled once per process (the files are part of the installed code, so
    no stat per page view to see whether they changed), and a row's key (``item.unit``, the pages'
    rows are dicts) looked up without Jinja's first try of an attribute, which raises and catches an
    AttributeError per access: a queue of 100 rows made 1,500 of them. Same lookup: a plain dict
    has no attributes but its methods, which still win."""

    _METHODS = frozenset(dir(dict))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in self._METHODS:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


templates = Jinja2Templates(
    env=_Pages(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, auto_reload=False)
)
router = APIRouter(include_in_schema=False)
HOME = {lc.UNIT: "/my", lc.EGOV: "/queue", lc.PROVIDER: "/provider"}
#: A queue page shows the most urgent applications first, this many (the API pages the rest).
QUEUE_PAGE = 100
#: The reader's language: Chinese unless the switch chose English (a cookie, the same in every worker).
LANG_COOKIE, LANGS, DEFAULT_LANG = "govcloud_lang", ("zh", "en"), "zh"


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in LANGS else DEFAULT_LANG


def render(
    request: Request,
    name: str,
    code: int = 200,
    *,
    title: str = "",
    title_args: dict | None = None,
    named: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``name`` in the reader's language, titled by the catalogue's ``title`` (``title_args``
    filled in) or, for a page of one thing, by its ``named`` (an application's id)."""
    config: PortalConfig = request.app.state.config
    words = _words(language(request))
    return templates.TemplateResponse(
        request,
        name,
        {
            "actor": session_actor(request),
            "csrf": csrf_token(request),
            "dev": config.dev_local,
            "htmx": HTMX_VERSION,
            "home": HOME,
            **words,
            "title": named if named is not None else words["t"](title, **(title_args or {})) if title else "",
            **context,
        },
        status_code=code,
    )


def _words(lang: str) -> dict[str, Any]:
    """What a template says in ``lang``: the catalogue's sentences and words, numbers and percentages."""
    known = catalogue.messages(lang)
    return {
        "lang": lang,
        "t": catalogue.translator(lang),
        "known": known,
        "word": lambda prefix, code: known.get(f"{prefix}.{code}", code) if code else "",
        "num": lambda v, d=1: catalogue.number(v, lang, d),
        "pct": lambda v: catalogue.percent(v, lang),
    }


def _fragment(request: Request, name: str, key: tuple, **context: Any) -> Markup:
    """The template ``name`` rendered alone in the reader's language, kept with the ledger's reads
    (:func:`common.kept`): ``key`` must name all that ``context`` depends on (the reads it shows and
    whose they are), as the same fragment goes to every reader with that key."""
    lang = language(request)

    def rendered() -> Markup:
        # the templates autoescape: what the fragment shows of stored text is escaped already
        return Markup(templates.get_template(name).render(_words(lang), **context))  # noqa: S704

    return common.kept(request, ("html", name, lang, *key), rendered)


def error_page(request: Request, error: GovcloudError) -> Response:
    if isinstance(error, SignInFirst):
        return RedirectResponse("/login", status_code=303)
    status = common.status_of(error)
    return render(
        request, "error.html", status, title=f"problem.title.{status}", error=error, problem=common.problem(error)
    )


class SignInFirst(AuthenticationFailed):
    """A page asked for without a session: the browser is sent to sign in."""


def _actor(request: Request) -> lc.Actor:
    actor = session_actor(request)
    if actor is None:
        raise SignInFirst("sign in first")
    return actor


async def _form(request: Request) -> Any:
    """The posted form, refused (nothing done) without the session's CSRF token."""
    form = await request.form()
    if not csrf_ok(request, form):
        raise _Forged()
    return form


class _Forged(RuleError):
    """A form post without the session's anti-forgery token (from another site, or a stale page)."""

    def __init__(self) -> None:
        super().__init__(
            "the form did not carry this session's anti-forgery token: reload the page and try again", rule="csrf"
        )


@router.get("/")
def home(request: Request) -> Response:
    actor = session_actor(request)
    return RedirectResponse(HOME[actor.role] if actor else "/login", status_code=303)


@router.get("/queue")
def office_queue(request: Request) -> Response:
    actor = _actor(request)
    now = beijing_now()
    items = common.visible(common.queue(request, "office", now, QUEUE_PAGE), actor)
    table = _fragment(
        request, "_queue_table.html", ("office", now.date(), QUEUE_PAGE, common.scope(actor)), items=items
    )
    return render(request, "queue.html", title="queue.title", table=table)


@router.get("/provider")
def provider_queues(request: Request) -> Response:
    actor = _actor(request)
    now = beijing_now()
    return render(
        request,
        "provider.html",
        title="provider.title",
        provisioning=common.visible(common.queue(request, "provisioning", now, QUEUE_PAGE), actor),
        reclamation=common.visible(common.queue(request, "reclamation", now, QUEUE_PAGE), actor),
    )


@router.get("/my")
def my_applications(request: Request) -> Response:
    actor = _actor(request)
    if actor.role != lc.UNIT:
        return RedirectResponse(HOME[actor.role], status_code=303)
    return render(
        request,
        "my.html",
        title="my.title",
        title_args={"unit": actor.unit},
        items=common.lifecycle(request).overview(unit=actor.unit),
    )


async def _uploaded(request: Request) -> tuple[lc.Actor, Any, str, bytes]:
    """The actor, the (CSRF-checked) form, and the manifest it uploads: its name and content."""
    from orchestrator.portal.api import read_upload

    actor = _actor(request)
    form = await _form(request)
    upload = form.get("manifest")
    if upload is None or isinstance(upload, str):
        raise UsageError("choose a manifest file to upload")
    return actor, form, upload.filename or "", await read_upload(upload)


def _version(form: Any) -> int | None:
    """The ledger version the page showed (its If-Match)."""
    version = str(form.get("version") or "")
    return int(version) if version.isdigit() else None


@router.post("/submit")
async def submit(request: Request) -> Response:
    actor, _, name, raw = await _uploaded(request)
    try:
        event = await common.threaded(common.submit, request, actor, name, raw)
    except ManifestInvalid as invalid:
        return render(
            request,
            "my.html",
            422,
            title="my.title",
            title_args={"unit": actor.unit},
            invalid=invalid,
            items=common.lifecycle(request).overview(unit=actor.unit),
        )
    return RedirectResponse(f"/applications/{event.application}", status_code=303)


@router.get("/applications/{application}")
def application_page(request: Request, application: str) -> Response:
    return _application(request, application)


def _application(request: Request, application: str, code: int = 200, **shown: Any) -> Response:
    actor = _actor(request)
    _, folded, history = common.history(request, application)  # read once: the state, the status and the history
    state = common.shown_to(folded, actor)
    steps = [(common.VERB_OF[t.event], t) for t in lc.steps_open(state, actor)]
    return render(
        request,
        "application.html",
        code,
        named=application,
        status=common.lifecycle(request).status_of(state, beijing_now()),
        history=_fragment(request, "_history.html", ("history", application), history=history),
        steps=steps,
        deciding=any(verb in DECISIONS for verb, _ in steps),
        notices=of_application(common.ledger(request), application, NOTICES_SHOWN),
        fields=common.STEPS,
        may_change=actor.role == lc.UNIT and state.state in (lc.TRIAL, lc.PRODUCTION),
        **shown,
    )


@router.get("/applications/{application}/decision")
def decision_page(request: Request, application: str) -> Response:
    """What the steps open here decide (plans take a moment: the application's page loads this after
    itself, htmx swapping it in; without htmx it is a page of its own)."""
    actor = _actor(request)
    try:
        shown, failed = common.decision(request, application, actor), None
    except NotFound:
        raise
    except GovcloudError as exc:  # the application's page goes on showing the rest
        shown, failed = None, str(exc)
    if request.headers.get("hx-request") == "true" and not request.headers.get("hx-boosted"):
        return render(request, "_decision.html", decision=shown, failed=failed)
    return render(
        request, "decision.html", title="decision.title", application=application, decision=shown, failed=failed
    )


#: The steps that decide on what a unit asked: their page shows what is decided (services/decision.py).
DECISIONS = frozenset({"accept", "reject", "review", "approve", "approve-change", "approve-termination"})
#: The newest notices an application's page lists (the API pages the rest).
NOTICES_SHOWN = 50


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str = "/") -> Response:
    """The language switch: a cookie, then back to the page (a path of this site only)."""
    if lang not in LANGS:
        raise NotFound(f"no language {lang!r}: one of {', '.join(LANGS)}")
    back = next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/"
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        httponly=True,
        samesite="lax",
        secure=request.app.state.config.secure_cookies,
    )
    return response


#: How far ahead the page of expiring test environments looks, in days.
EXPIRING_DAYS = 7


@router.get("/expiring")
def expiring(request: Request, days: int = Query(EXPIRING_DAYS, ge=0, le=366)) -> Response:
    actor = _actor(request)
    items = common.visible(common.lifecycle(request).expiring(beijing_now(), days), actor)
    return render(request, "expiring.html", title="expiring.title", items=items, days=days, warn=lc.WARN_DAYS)


@router.get("/capacity")
def capacity(request: Request) -> Response:
    actor = _actor(request)
    lc.check_reads_capacity(actor)
    try:
        figures, failed = common.capacity(), None
    except ExternalError as exc:  # the page says why; the other pages go on without the cloud
        figures, failed = None, str(exc)
    return render(request, "capacity.html", title="capacity.title", figures=figures, failed=failed)


@router.get("/reports")
def reports(request: Request, month: str | None = None, year: int | None = None) -> Response:
    """The monthly report (Art. 30) of ``month`` and the yearly assessment (Art. 45) of ``year``."""
    actor = _actor(request)
    now = beijing_now()
    month = month or f"{now.year:04d}-{now.month:02d}"
    year = year or now.year
    figures = common.assessment(request, actor, year)
    return render(request, "reports.html", title="reports.title", month=month, year=year, assessment=figures.as_dict())


@router.get("/reports/monthly")
def monthly_report(request: Request, month: str) -> Response:
    """The monthly report as ``govcloud report monthly --format html`` writes it, in the reader's language."""
    from orchestrator.services import report

    actor = _actor(request)
    figures = common.monthly(request, actor, month)
    return HTMLResponse(report.render(figures, "html", language(request)))


@router.post("/applications/{application}/change")
async def change(request: Request, application: str) -> Response:
    """A change by upload (Art. 15): first its classification and reasons, then, confirmed, the request."""
    actor, form, name, raw = await _uploaded(request)
    preview = form.get("do") != "request"
    try:
        done = await common.threaded(common.submit, request, actor, name, raw, application, _version(form), preview)
    except ManifestInvalid as invalid:
        return _application(request, application, 422, invalid=invalid)
    if preview:
        return _application(request, application, preview=done)
    return RedirectResponse(f"/applications/{application}", status_code=303)


@router.post("/applications/{application}/step/{verb}")
async def step(request: Request, application: str, verb: str) -> Response:
    actor = _actor(request)
    form = await _form(request)
    fields: dict[str, Any] = {
        k: (v or None)
        for k, v in form.items()
        if isinstance(v, str) and k in ("reason", "opinion", "evidence", "environment", "days", "backups")
    }
    if fields.get("days"):
        if not str(fields["days"]).isdigit():
            raise UsageError("days must be a whole number")
        fields["days"] = int(fields["days"])
    await common.threaded(common.take_step, request, actor, application, verb, fields, _version(form))
    return RedirectResponse(f"/applications/{application}", status_code=303)


@router.get("/login")
async def login(request: Request) -> Response:
    config: PortalConfig = request.app.state.config
    if config.dev_local:
        return render(request, "login.html", title="login.title", roles=lc.ROLES)
    redirect = str(request.url_for("callback"))
    return await request.app.state.oauth.platform.authorize_redirect(request, redirect)


@router.post("/login")
async def dev_login(request: Request) -> Response:
    config: PortalConfig = request.app.state.config
    if not config.dev_local:
        raise UsageError("sign in through the unified authentication platform")
    form = await _form(request)
    actor = lc.Actor(
        name=str(form.get("name") or ""),
        role=str(form.get("role") or ""),
        unit=str(form.get("unit") or "") or None,
        source="local",
    )
    sign_in(request, actor)
    return RedirectResponse(HOME[actor.role], status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request)
    id_token = request.session.get("id_token")
    request.session.clear()
    oauth = getattr(request.app.state, "oauth", None)
    if oauth is None:
        return RedirectResponse("/login", status_code=303)
    metadata = await oauth.platform.load_server_metadata()
    end = metadata.get("end_session_endpoint")
    if not end:
        return RedirectResponse("/login", status_code=303)
    from urllib.parse import urlencode

    query = {"post_logout_redirect_uri": str(request.url_for("home")), "client_id": request.app.state.config.client_id}
    if id_token:
        query["id_token_hint"] = id_token
    return RedirectResponse(f"{end}?{urlencode(query)}", status_code=303)


def register_login(app: FastAPI, config: PortalConfig) -> None:
    """The browser's sign-in: OpenID Connect authorization code with PKCE (Authlib), the ID token
    then verified by the CLI's verifier before anyone is signed in."""
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        "platform",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.oidc.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid", "code_challenge_method": "S256"},
    )
    app.state.oauth = oauth

    @app.get("/auth/callback", name="callback", include_in_schema=False)
    async def callback(request: Request) -> Response:
        from authlib.integrations.base_client import OAuthError

        try:
            token = await oauth.platform.authorize_access_token(request)
        except OAuthError as exc:
            raise AuthenticationFailed(
                f"the platform's sign-in did not complete: {exc.description or exc.error}"
            ) from exc
        actor = await common.threaded(login_actor, config, token["id_token"])
        sign_in(request, actor, token["id_token"])
        return RedirectResponse(HOME[actor.role], status_code=303)
