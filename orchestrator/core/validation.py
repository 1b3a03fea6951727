"""Manifest validation: schema, environment overrides, and the registered semantic rules.

Every problem of a file is collected at once. A problem names the line, the field path as
written in the file, the rule, and the article of the regulation where that is the reason.

Overrides: ``spec.environments.<env>.resources`` patches ``spec.resources``. Mappings merge
key by key; lists of named items (servers, volumes...) merge by ``name``, new names are added.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestrator import files
from orchestrator.core.backups import schedule_problem
from orchestrator.core.manifest import (
    Application,
    Environment,
    EnvironmentSpec,
    ManifestDocument,
)
from orchestrator.core.sizing import UnknownFlavor, is_known_flavor
from orchestrator.core.yamlsource import (
    ParseFailed,
    Path,
    Problem,
    bounded,
    digest_of,
    dotted,
    is_validator_tag,
    line_of,
    load,
    parse,
)
from orchestrator.errors import ManifestInvalid

#: What a semantic rule yields: the path in the effective model and a message.
Finding = tuple[Path, str]
#: A semantic rule's check: the application (or the plain document) in, findings out.
Check = Callable[[Any], Iterable[Finding]]
#: Where problems are reported: ``add(path, rule_name, message, article="")``.
Add = Callable[..., None]
#: Where each value of the effective model came from in the document.
Origins = dict[Path, Path]


@dataclass
class Report:
    """The outcome of validating one file."""

    path: str
    digest: str | None = None
    problems: list[Problem] = field(default_factory=list)
    application: Application | None = None

    @property
    def valid(self) -> bool:
        return not self.problems and self.application is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "valid": self.valid,
            "digest": self.digest,
            "errors": [p.as_dict() for p in self.problems],
        }


# --- rule registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestRule:
    name: str
    article: str
    check: Callable[[Application], Iterable[Finding]]
    #: Judges the whole set of items (references, emptiness): not run while the schema has
    #: left items out, since a missing item would look like a broken reference.
    whole: bool = False
    #: Judges the document as written (plain data, paths as in the file), schema or not.
    document: bool = False

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


RULES: dict[str, ManifestRule] = {}


def rule(name: str, article: str = "", whole: bool = False, document: bool = False) -> Callable[[Check], Check]:
    """Register a semantic rule. Its docstring says what it checks and gives an example. A
    ``document`` rule is given the plain document instead of the application."""

    def register(check: Check) -> Check:
        if name in RULES:
            raise ValueError(f"rule {name} registered twice")
        RULES[name] = ManifestRule(name, article, check, whole, document)
        return check

    return register


# --- public API ----------------------------------------------------------------------------


def validate_file(path: str | FsPath) -> Report:
    """Validate one manifest file; never raises for anything wrong inside the file or with the
    file itself (missing, not a regular file, too large: a problem of the report)."""
    try:
        raw = files.read_bytes(path, what="manifest")
    except files.FileRefused as refused:
        return Report(str(path), problems=[Problem(None, "", refused.rule, refused.reason)])
    return validate_bytes(raw, str(path))


def load_manifest(path: str | FsPath, raw: bytes | None = None) -> Application:
    """The valid application of ``path`` (whose content is ``raw`` when given, as read before);
    raises :class:`ManifestInvalid` with every problem."""
    report = validate_file(path) if raw is None else validate_bytes(raw, str(FsPath(path)))
    if not report.valid:
        raise ManifestInvalid(report.path, report.problems)
    assert report.application is not None  # narrowing: a valid report has one
    return report.application


def validate_bytes(raw: bytes, source: str) -> Report:
    try:
        data = load(raw)
    except ParseFailed as failed:
        report = Report(source)
        report.problems.append(failed.problem)
        return report
    report = validate_data(data, source)
    # Lines come from ruamel's round-trip document, read only when there is something to locate.
    return validate_data(data, source, parse(raw)) if report.problems else report


def validate_data(data: Any, source: str, root: Any = None) -> Report:
    """Validate plain data (e.g. a manifest snapshot from the ledger); ``root``, the round-trip
    document it came from, gives the problems their lines."""
    report = Report(source)
    root = data if root is None else root
    report.digest = digest_of(data)
    problems: dict[tuple[str, str, str], Problem] = {}
    schema_paths: list[Path] = []

    def add(path: Path, rule_name: str, message: str, article: str = "") -> None:
        if rule_name.startswith("schema."):
            schema_paths.append(path)
        problem = Problem(line_of(root, path), dotted(path), rule_name, bounded(message), article)
        problems.setdefault((problem.field, rule_name, message), problem)

    application, origins = _application(data, source, report.digest, add)
    unprune: Callable[[Path], Path]
    unprune, complete = (lambda path: path), True
    if application is None and schema_paths:
        # Leave out the list items the schema refused, so the semantic rules can still report
        # on the rest: one run shows every problem of the file.
        pruned = _prune(data, schema_paths)
        if pruned is not None:
            application, origins = _application(pruned[0], source, report.digest, lambda *a, **k: None)
            unprune, complete = pruned[1], False
    for registered in RULES.values():
        if registered.document:
            for path, message in registered.check(data):
                add(path, registered.name, message, registered.article)
    if application is not None:
        for registered in RULES.values():
            if registered.document or (registered.whole and not complete):
                continue
            for effective_path, message in registered.check(application):
                where = unprune(_source_path(effective_path, origins))
                add(where, registered.name, message, registered.article)
    report.problems = _sorted(problems.values())
    if not report.problems:
        report.application = application
    return report


def _application(data: dict[str, Any], source: str, digest: str, add: Add) -> tuple[Application | None, Origins]:
    """The application of ``data`` (None when the schema refused it) and its value origins."""
    document = _validate_model(ManifestDocument, data, (), {}, add)
    environments, origins = _effective_environments(data, add)
    if document is None or environments is None:
        return None, origins
    spec = document.spec
    application = Application(
        metadata=document.metadata,
        mlps_level=spec.mlps_level,
        materials=spec.materials,
        auth=spec.auth,
        data_sharing=spec.data_sharing,
        backup=spec.backup,
        environments=environments,
        digest=digest,
        source=source,
    )
    return application, origins


def _prune(data: dict[str, Any], paths: list[Path]) -> tuple[dict[str, Any], Callable[[Path], Path]] | None:
    """``data`` without the innermost list items that hold ``paths``, and a path translator.

    The translator maps a path in the pruned data back to the original data. ``None`` when a
    path lies outside any list (a required top-level field): nothing sensible remains.
    """
    removed: dict[Path, set[int]] = {}
    for path in paths:
        indexes = [(i, part) for i, part in enumerate(path) if isinstance(part, int)]
        if not indexes:
            return None
        cut, index = indexes[-1]
        removed.setdefault(path[:cut], set()).add(index)
    pruned = copy.deepcopy(data)
    survivors: dict[Path, list[int]] = {}
    for list_path in sorted(removed, key=len, reverse=True):
        holder: Any = pruned  # dicts and lists down the path
        for part in list_path:
            holder = holder[part]
        survivors[list_path] = [i for i in range(len(holder)) if i not in removed[list_path]]
        holder[:] = [holder[i] for i in survivors[list_path]]

    def unprune(path: Path) -> Path:
        original: Path = ()
        for part in path:
            if isinstance(part, int) and original in survivors and part < len(survivors[original]):
                part = survivors[original][part]
            original += (part,)
        return original

    return pruned, unprune


def _sorted(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.field, p.rule))


# --- schema and overrides ------------------------------------------------------------------


def _validate_model(model: type[BaseModel], data: Any, prefix: Path, origins: Origins, add: Add) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = prefix + tuple(p for p in error["loc"] if not is_validator_tag(p))
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            add(_source_path(loc, origins), f"schema.{error['type']}", message)
        return None


def _effective_environments(
    data: dict[str, Any], add: Add
) -> tuple[dict[Environment, EnvironmentSpec] | None, Origins]:
    """Merge each declared environment's overrides into the base resources and validate."""
    spec = data.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("environments"), dict):
        return None, {}
    base = spec.get("resources") or {}
    origins: dict[Path, Path] = {}
    result: dict[Environment, EnvironmentSpec] = {}
    ok = True
    for name, override in spec["environments"].items():
        try:
            env = Environment(name)
        except ValueError:
            ok = False  # reported by the document schema
            continue
        override = override if isinstance(override, dict) else {}
        src = ("spec", "environments", name)
        raw: dict[str, Any] = {k: v for k, v in override.items() if k != "resources"}
        raw.setdefault("productionData", env is Environment.PRODUCTION)
        for key in raw:
            origins[("environments", name, key)] = src + (key,)
        raw["resources"] = _merge(
            base,
            override.get("resources"),
            ("spec", "resources"),
            src + ("resources",),
            ("environments", name, "resources"),
            origins,
            add,
        )
        origins[("environments", name)] = src
        model = _validate_model(EnvironmentSpec, raw, ("environments", name), origins, add)
        if model is None:
            ok = False
        else:
            result[env] = model
    return (result if ok else None), origins


_MISSING = object()


def _merge(base: Any, over: Any, bsrc: Path, osrc: Path, eff: Path, origins: Origins, add: Add) -> Any:
    if over is None or over is _MISSING:
        return _take(base, bsrc, eff, origins, add)
    if base is None or base is _MISSING:
        return _take(over, osrc, eff, origins, add)
    origins[eff] = osrc
    if isinstance(base, dict) and isinstance(over, dict):
        return {
            key: _merge(
                base.get(key, _MISSING),
                over.get(key, _MISSING),
                bsrc + (key,),
                osrc + (key,),
                eff + (key,),
                origins,
                add,
            )
            for key in {**base, **over}
        }
    if _named_list(base) and _named_list(over):
        base_at = _index_by_name(base, bsrc, add)
        over_at = _index_by_name(over, osrc, add)
        merged: list[Any] = []
        for name in {**base_at, **over_at}:
            i, j = base_at.get(name), over_at.get(name)
            merged.append(
                _merge(
                    base[i] if i is not None else _MISSING,
                    over[j] if j is not None else _MISSING,
                    bsrc + (i,) if i is not None else bsrc,
                    osrc + (j,) if j is not None else osrc,
                    eff + (len(merged),),
                    origins,
                    add,
                )
            )
        return merged
    return _take(over, osrc, eff, origins, add)


def _take(value: Any, src: Path, eff: Path, origins: Origins, add: Add) -> Any:
    if value is _MISSING:
        return None
    origins[eff] = src
    if isinstance(value, dict):
        return {k: _take(v, src + (k,), eff + (k,), origins, add) for k, v in value.items()}
    if isinstance(value, list):
        if _named_list(value):
            _index_by_name(value, src, add)
        return [_take(v, src + (i,), eff + (i,), origins, add) for i, v in enumerate(value)]
    return copy.copy(value)


def _named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in value)
    )


def _index_by_name(items: list[dict[str, Any]], src: Path, add: Add) -> dict[str, int]:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item["name"] in seen:
            add(src + (i, "name"), "unique-names", f"name {item['name']!r} is used twice in this list")
        else:
            seen[item["name"]] = i
    return seen


def _source_path(path: Path, origins: dict[Path, Path]) -> Path:
    """Map a path in the effective model to where its value was written in the file."""
    if not path or path[0] != "environments":
        return path
    for cut in range(len(path), 0, -1):
        if path[:cut] in origins:
            return origins[path[:cut]] + path[cut:]
    return ("spec",) + path


# --- the semantic rules --------------------------------------------------------------------


def _each_env(app: Application) -> Iterator[tuple[Path, Environment, Any]]:
    for env, spec in app.environments.items():
        yield ("environments", env.value, "resources"), env, spec.resources


@rule("mlps-level-allowed", article="Art. 4")
def _mlps_level(app: Application) -> Iterator[Finding]:
    """Systems at MLPS level 4 or 5 stay off the government cloud.

    Example: ``spec.mlpsLevel: 4`` is refused.
    """
    if app.mlps_level >= 4:
        yield (
            ("spec", "mlpsLevel"),
            (f"MLPS level {app.mlps_level}: systems at level 4 or above may not run on the government cloud"),
        )


@rule("materials-submitted", article="Art. 11")
def _materials_submitted(app: Application) -> Iterator[Finding]:
    """Every application carries its construction plan and self-test report.

    Example: a manifest without ``spec.materials.selfTestReport`` is refused.
    """
    for key, attr in (("constructionPlan", "construction_plan"), ("selfTestReport", "self_test_report")):
        if getattr(app.materials, attr) is None:
            yield ("spec", "materials", key), f"{key} is required with every application"


@rule("production-materials", article="Art. 40")
def _production_materials(app: Application) -> Iterator[Finding]:
    """A production environment needs the third-party test report and the MLPS filing certificate.

    Example: ``environments: {production: {}}`` without ``materials.mlpsFilingCertificate``.
    """
    if Environment.PRODUCTION not in app.environments:
        return
    for key, attr in (
        ("thirdPartyTestReport", "third_party_test_report"),
        ("mlpsFilingCertificate", "mlps_filing_certificate"),
    ):
        if getattr(app.materials, attr) is None:
            yield ("spec", "materials", key), f"{key} is required when a production environment is declared"


@rule("security-group-exists", whole=True)
def _security_group_exists(app: Application) -> Iterator[Finding]:
    """A security group named by a server or a rule's ``remoteGroup`` is declared.

    Example: ``servers: [{name: web, securityGroups: [wbe]}]`` with only group ``web``.
    """
    for base, _, res in _each_env(app):
        names = {g.name for g in res.security_groups}
        for i, server in enumerate(res.servers):
            for j, group in enumerate(server.security_groups):
                if group not in names:
                    yield base + ("servers", i, "securityGroups", j), f"security group {group!r} is not declared"
        for i, group in enumerate(res.security_groups):
            for j, r in enumerate(group.rules):
                if r.remote_group and r.remote_group not in names:
                    yield (
                        base + ("securityGroups", i, "rules", j, "remoteGroup"),
                        (f"security group {r.remote_group!r} is not declared"),
                    )


@rule("rule-remote")
def _rule_remote(app: Application) -> Iterator[Finding]:
    """A security-group rule names exactly one of ``remoteCidr`` and ``remoteGroup``.

    Example: ``{protocol: tcp, ports: 22}`` with neither is refused: say who may connect.
    """
    for base, _, res in _each_env(app):
        for i, group in enumerate(res.security_groups):
            for j, r in enumerate(group.rules):
                if (r.remote_cidr is None) == (r.remote_group is None):
                    yield (
                        base + ("securityGroups", i, "rules", j),
                        ("a rule needs exactly one of remoteCidr and remoteGroup"),
                    )


@rule("port-range")
def _port_range(app: Application) -> Iterator[Finding]:
    """Port ranges run low to high; tcp and udp rules name ports, icmp and any do not.

    Example: ``ports: 8080-80`` is refused.
    """
    for base, _, res in _each_env(app):
        for i, group in enumerate(res.security_groups):
            for j, r in enumerate(group.rules):
                where = base + ("securityGroups", i, "rules", j, "ports")
                if r.ports and r.ports.min > r.ports.max:
                    yield where, f"port range {r.ports.min}-{r.ports.max} runs backwards"
                if r.protocol in ("icmp", "any") and r.ports:
                    yield where, f"protocol {r.protocol} takes no ports"
                if r.protocol in ("tcp", "udp") and not r.ports:
                    yield where, f"protocol {r.protocol} needs ports (a number or LOW-HIGH)"


@rule("security-group-rule-duplicate")
def _rule_duplicate(app: Application) -> Iterator[Finding]:
    """A group holds each rule once: Neutron refuses a rule equal to one the group has (same
    direction, address family, protocol, ports and remote; descriptions do not count), and only
    at ``up``; the program also names a rule by what it is.

    Example: ``{protocol: tcp, ports: 443, remoteCidr: 0.0.0.0/0}`` twice in group ``web``.
    """
    for base, _, res in _each_env(app):
        for i, group in enumerate(res.security_groups):
            first: dict[tuple[Any, ...], int] = {}
            for j, r in enumerate(group.rules):
                k = first.setdefault(r.identity, j)
                if k != j:
                    yield (
                        base + ("securityGroups", i, "rules", j),
                        (
                            f"the same rule as rules[{k}] of group {group.name!r} (same direction, protocol, "
                            "ports and remote): Neutron refuses a duplicate rule; remove one"
                        ),
                    )


#: Largest database volume the OpenStack provider creates: gophercloud's Trove client (under
#: pulumi-openstack) refuses a ``volume.size`` outside 1-300 GB before asking the cloud.
MAX_DATABASE_GB = 300


@rule("database-volume-size")
def _database_volume_size(app: Application) -> Iterator[Finding]:
    """A database's volume is at most 300 GB: the provider refuses more, and only at ``up``.

    Example: ``sizeGb: 500`` on a database is refused; split the data or keep bulk files in
    object storage.
    """
    for base, _, res in _each_env(app):
        for i, db in enumerate(res.databases):
            if db.size_gb > MAX_DATABASE_GB:
                yield (
                    base + ("databases", i, "sizeGb"),
                    (
                        f"database volume {db.size_gb} GB is over {MAX_DATABASE_GB} GB, the most the OpenStack "
                        "provider creates (gophercloud's Trove client refuses it at up)"
                    ),
                )


@rule("unique-names")
def _unique_names(app: Application) -> Iterator[Finding]:
    """Names are unique within their kind; a server's data volumes have distinct names.

    Example: two databases both named ``main``.
    """
    for base, _, res in _each_env(app):
        for i, server in enumerate(res.servers):
            yield from _duplicates(base + ("servers", i, "volumes"), [v.name for v in server.volumes])
        for i, db in enumerate(res.databases):
            yield from _duplicates(base + ("databases", i, "databases"), list(db.databases), key=False)
            yield from _duplicates(base + ("databases", i, "users"), [u.name for u in db.users])
    yield from _duplicates(("spec", "auth", "roles"), [r.name for r in app.auth.roles])
    yield from _duplicates(("spec", "dataSharing", "catalogue"), [c.id for c in app.data_sharing.catalogue])


def _duplicates(path: Path, names: list[str], key: bool = True) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            yield (path + ((i, "name") if key else (i,))), f"{name!r} appears twice"
        seen.add(name)


@rule("reference-resolves", whole=True)
def _references(app: Application) -> Iterator[Finding]:
    """Volumes attach to a declared server; database users are granted declared databases.

    Example: ``volumes: [{name: archive, attachTo: fileserver}]`` with no server ``fileserver``.
    """
    for base, _, res in _each_env(app):
        servers = {s.name for s in res.servers}
        for i, volume in enumerate(res.volumes):
            if volume.attach_to and volume.attach_to not in servers:
                yield base + ("volumes", i, "attachTo"), f"server {volume.attach_to!r} is not declared"
        for i, db in enumerate(res.databases):
            for j, user in enumerate(db.users):
                for k, name in enumerate(user.databases):
                    if name not in db.databases:
                        yield (
                            base + ("databases", i, "users", j, "databases", k),
                            (f"database {name!r} is not declared in {db.name}"),
                        )


@rule("catalogue-sharing-reason", article="Art. 26")
def _catalogue_reason(app: Application) -> Iterator[Finding]:
    """Sharing is the rule: an entry shared conditionally or not at all states its reason.

    Example: ``{id: c1, name: 户籍, sharing: none}`` without ``reason``.
    """
    for i, entry in enumerate(app.data_sharing.catalogue):
        if entry.sharing != "unconditional" and not entry.reason:
            yield (
                ("spec", "dataSharing", "catalogue", i, "reason"),
                (f"catalogue entry shared '{entry.sharing}' must give its reason"),
            )


@rule("environment-has-resources", article="Art. 11", whole=True)
def _environment_has_resources(app: Application) -> Iterator[Finding]:
    """Each declared environment asks for at least one server, database, volume or container.

    Example: ``environments: {test: {}}`` with empty ``spec.resources``.
    """
    for base, env, res in _each_env(app):
        if not (res.servers or res.databases or res.volumes or res.containers):
            yield base[:2], f"environment {env} declares no resources (servers, databases, volumes, containers)"


@rule("backup-schedule", article="Art. 30")
def _backup_schedule(app: Application) -> Iterator[Finding]:
    """The backup schedule is a five-field cron expression, read in Beijing time (docs/backups.md).

    Example: ``schedule: "0 2 * *"`` (four fields) is refused; ``"0 2 * * *"`` is 02:00 every day.
    """
    problem = schedule_problem(app.backup.schedule)
    if problem:
        yield ("spec", "backup", "schedule"), problem


@rule("flavor-known")
def _flavor_known(app: Application) -> Iterator[Finding]:
    """Servers and databases use a known flavor: the flavor table or ``g.<vCPU>c<RAM GB>g``.

    Example: ``flavor: m1.small`` is refused; ``g.2c4g`` is 2 vCPU and 4 GB RAM.
    """
    for base, _, res in _each_env(app):
        for kind, items in (("servers", res.servers), ("databases", res.databases)):
            for i, item in enumerate(items):
                if not is_known_flavor(item.flavor):
                    yield base + (kind, i, "flavor"), str(UnknownFlavor(item.flavor))


#: Directory of the files govcloud itself writes on every server (labels, the platform client).
RESERVED_DIR = "/etc/govcloud/"


@rule("user-data-reserved-path", article="Art. 20")
def _user_data_reserved_path(app: Application) -> Iterator[Finding]:
    """Servers' ``userData.files`` stay out of ``/etc/govcloud/``, where govcloud writes the labels
    and the authentication platform's client (``oidc.env``, mode 0600, owner root).

    Example: ``files: [{path: /etc/govcloud/oidc.env, permissions: "0644"}]`` is refused.
    """
    for where, path in _user_data_paths(app):
        # cloud-init writes a relative path from /: judge it as it would land
        normal = posixpath.normpath("/" + path.lstrip("/")) + ("/" if path.endswith("/") else "")
        if normal == RESERVED_DIR.rstrip("/") or normal.startswith(RESERVED_DIR):
            yield (
                where,
                (
                    f"{path!r}: {RESERVED_DIR} holds govcloud's own files (labels, the platform client); "
                    "write the application's files elsewhere"
                ),
            )


@rule("user-data-path-absolute", article="Art. 20")
def _user_data_path_absolute(app: Application) -> Iterator[Finding]:
    """A ``userData.files`` path is absolute and normalised: it starts with ``/`` and has no
    ``..``, ``.``, empty part or trailing ``/``, so it names one file and the reserved-path rule
    sees where it lands.

    Example: ``files: [{path: etc/govcloud/oidc.env}]`` is refused (and is reserved too);
    ``path: /srv/app/../../etc/x`` is refused.
    """
    for where, path in _user_data_paths(app):
        if not path.startswith("/") or posixpath.normpath(path) != path or path.startswith("//"):
            yield (
                where,
                (
                    f"{path!r} is not an absolute, normalised path: write it as "
                    f"{posixpath.normpath('/' + path.lstrip('/'))!r} (no '..', '.', '//' or trailing '/')"
                ),
            )


def _user_data_paths(app: Application) -> Iterator[tuple[Path, str]]:
    for base, _, res in _each_env(app):
        for i, server in enumerate(res.servers):
            for j, file in enumerate(server.user_data.files):
                yield base + ("servers", i, "userData", "files", j, "path"), file.path


#: Hosts an ``http://`` redirect URI may name: the user's own machine (RFC 8252, native apps).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@rule("redirect-uri-exact", article="Art. 20")
def _redirect_uri_exact(app: Application) -> Iterator[Finding]:
    """Each ``auth.redirectUris`` entry is one exact URI the platform may send tokens to:
    ``https`` (``http`` only to the loopback host), a host name or address without wildcards,
    no user name or password, no fragment and no wildcard anywhere (Keycloak reads ``*`` as
    "any"): a wildcard lets any site collect the users' codes.

    Example: ``redirectUris: ["https://*"]``, ``"https://*.changsha.gov.cn/cb"``,
    ``"https://app.gov.cn/*"``, ``"http://app.gov.cn/cb"`` and ``"javascript:alert(1)"`` are refused.
    """
    for i, uri in enumerate(app.auth.redirect_uris):
        problem = redirect_uri_problem(uri)
        if problem:
            yield ("spec", "auth", "redirectUris", i), f"redirect URI {uri[:100]!r}: {problem}"


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` may not be a redirect URI, or None. Example: ``redirect_uri_problem("https://*")``."""
    from urllib.parse import urlsplit

    if "*" in uri or uri.strip() == "+":
        return "wildcards are refused: name each exact URI"
    if any(ch.isspace() or not ch.isprintable() for ch in uri):
        return "holds whitespace or control characters"
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        return f"not a URI ({exc})"
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return "must be an https:// URI (http:// only to localhost)"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS and not host.startswith("127."):
        return "http:// is allowed only to the loopback host (localhost, 127.0.0.1, [::1]); use https://"
    if parts.username is not None or parts.password is not None:
        return "a user name or password in the URI is refused"
    if "#" in uri:
        return "a redirect URI has no fragment (RFC 6749, 3.1.2)"
    if port == 0 or (not _HOST.fullmatch(host) and not _is_address(host)):
        return "the host is not a host name or an IP address"
    return None


_HOST = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


#: Fields whose text may run over several lines (descriptions, reasons, file contents, commands).
MULTILINE_FIELDS = frozenset({"description", "reason", "content", "runcmd"})


@rule("text-printable", document=True)
def _text_printable(data: Any) -> Iterator[Finding]:
    """Text goes to the ledger (PostgreSQL refuses a NUL), OpenStack and cloud-init as printable
    characters: no control characters (NUL, escape, DEL...), no line or paragraph separators and
    no bidirectional overrides; descriptions, reasons, file contents and commands may hold line
    breaks and tabs. Judged on the document as written, keys and values.

    Example: ``metadata.name: "工程建设\\0项目"`` (a NUL) or a display name holding ``\\x1b[2J``.
    """
    stack: list[tuple[Path, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((path + (key,), item))
                if isinstance(key, str):
                    stack.append((path + (key,), key))
        elif isinstance(value, list):
            stack.extend((path + (i,), item) for i, item in enumerate(value))
        elif isinstance(value, str) and not (value.isascii() and value.isprintable()):
            field = next((p for p in reversed(path) if isinstance(p, str)), "")
            bad = (_UNPRINTABLE_MULTILINE if field in MULTILINE_FIELDS else _UNPRINTABLE).search(value)
            if bad is not None:
                yield (
                    path,
                    (
                        f"holds the control character U+{ord(bad.group()):04X} at position {bad.start() + 1}; "
                        "text here is printable characters only"
                    ),
                )


#: Control characters (Unicode Cc), surrogates (Cs), line and paragraph separators (Zl, Zp) and
#: the bidirectional marks, overrides and isolates; the second keeps line breaks and tabs.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_UNPRINTABLE_MULTILINE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)
