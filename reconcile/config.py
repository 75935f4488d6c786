"""Effective configuration (DESIGN §8): typed, frozen, every key defaulted.

:func:`load_config` reads ``reconcile.yaml``, validates it against
``schemas/config.schema.json`` (every problem at once, each naming the file and key, with
a "did you mean" for unknown keys), normalises role spellings to Canvas role names and
applies the ``CANVAS_API_URL`` override. The API token is never part of a Config: it is
read from the environment by the Canvas client and nowhere else; a config file holding a
token is refused so that it cannot end up in version control.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jsonschema
import yaml

from reconcile import boundedyaml, schemas
from reconcile.frames import ROLE_WORDS
from reconcile.ids import course_ref

DropPolicy = Literal["deleted_last_completed", "conclude", "inactivate", "delete", "ignore"]
Ownership = Literal["all", "sis", "claimed"]
DriftPolicy = Literal["revert", "keep", "warn"]
SECRET_KEYS = frozenset(
    {"token", "api_token", "access_token", "canvas_api_token", "api_key", "password", "secret"}
)


@dataclass(frozen=True)
class CanvasSettings:
    url: str | None = None  # CANVAS_API_URL overrides
    account_id: str = "self"  # root account id or ref, for account-level calls
    per_page: int = 100
    concurrency: int = 8
    timeout: float = 30.0  # seconds, per request
    retries: int = 5  # attempts after the first, for transient failures
    inventory: str = "auto"  # courses | report | auto: where a live plan takes its inventory from
    report_above: int = 200  # auto: the report when the roster spans more courses than this
    report_timeout: float = 1800.0  # seconds to wait for the provisioning report


@dataclass(frozen=True)
class ManageSettings:
    # Canvas role names (StudentEnrollment, ... or custom labels); None = roles in the roster.
    roles: tuple[str, ...] | None = None
    courses: tuple[str, ...] = ()  # extra course refs in scope
    ownership: Ownership = "all"


@dataclass(frozen=True)
class PolicySettings:
    drop: DropPolicy = "deleted_last_completed"
    notify: bool = False
    enrollment_state: Literal["active", "invited", "inactive"] = "active"  # for rows without status
    drift: DriftPolicy = "revert"  # hand changes to claimed enrollments: revert | keep | warn


@dataclass(frozen=True)
class GuardSettings:
    max_drop_percent: float = 25.0
    min_course_size: int = 10
    max_drops: int = 500
    protected_roles: tuple[str, ...] = ("TeacherEnrollment",)


@dataclass(frozen=True)
class RosterSettings:
    # Declared custom role name (case-sensitive) -> base Canvas role name, or None if unknown.
    custom_roles: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class OneRosterSettings:
    class_maps_to: Literal["course", "section"] = "course"
    # Which OneRoster field holds the Canvas course / section SIS id: classSourcedId,
    # courseSourcedId, classes.<column> or courses.<column>. None = classSourcedId for
    # class -> course, courseSourcedId for class -> section.
    course_id_from: str | None = None
    section_id_from: str = "classSourcedId"
    user_id_from: str = "sourcedId"  # users.csv field holding the Canvas user id
    user_id_kind: Literal["sis", "integration", "login"] = "sis"
    role_map: dict[str, str] = field(
        default_factory=lambda: {
            "student": "StudentEnrollment",
            "teacher": "TeacherEnrollment",
            "administrator": "TeacherEnrollment",
            "proctor": "TaEnrollment",
            "guardian": "ObserverEnrollment",
            "parent": "ObserverEnrollment",
            "relative": "ObserverEnrollment",
            "aide": "TaEnrollment",
        }
    )
    non_primary_teacher_as_ta: bool = False
    manage_dates: bool = True


@dataclass(frozen=True)
class LockSettings:
    # Folder of the apply lock; None = the state dir. Absolute once loaded, like state_dir.
    path: str | None = None


@dataclass(frozen=True)
class Config:
    canvas: CanvasSettings = field(default_factory=CanvasSettings)
    manage: ManageSettings = field(default_factory=ManageSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    guards: GuardSettings = field(default_factory=GuardSettings)
    oneroster: OneRosterSettings = field(default_factory=OneRosterSettings)
    roster: RosterSettings = field(default_factory=RosterSettings)
    lock: LockSettings = field(default_factory=LockSettings)
    # Absolute once loaded: resolved against the config file's folder (the working
    # directory when there is no file), so every command and every start directory
    # (cron starts in $HOME) finds the same journal and the same lock.
    state_dir: str = ".reconcile"
    source: str | None = None  # the config file read, None for defaults only


class ConfigError(Exception):
    """The config file (or environment) is unusable; ``problems`` lists each ``file: key: why``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


def canvas_role(word: str) -> str:
    """student/teacher/ta/observer/designer (any case) -> Canvas role name; other names unchanged."""
    return ROLE_WORDS.get(word.strip().lower(), word.strip())


CONFIG_ENV = "RECONCILE_CONFIG"
DEFAULT_CONFIG_FILE = "reconcile.yaml"


def find_config(given: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file every command reads, found one way: ``-c`` (``given``), else the
    ``RECONCILE_CONFIG`` environment variable, else ``./reconcile.yaml`` when it exists,
    else None (defaults only).

    A file named by ``-c`` or the variable must exist (:class:`ConfigError` otherwise):
    a typo there must not silently fall back to defaults.
    """
    environ = os.environ if env is None else env
    if given is not None:
        return Path(given)
    named = environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError([f"{named}: config file not found (named by {CONFIG_ENV})"])
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Config:
    """Read and validate ``path`` (None: no file, all defaults) and apply environment overrides.

    Raises :class:`ConfigError` listing every problem, each naming the file and key.
    ``env`` defaults to ``os.environ``; only ``CANVAS_API_URL`` is read from it. The
    returned ``state_dir`` is absolute: a relative one is taken from the config file's
    folder, or from ``cwd`` (default: the working directory) when there is no file.
    Commands find ``path`` with :func:`find_config`.
    """
    environ = os.environ if env is None else env
    name = "<defaults>"
    document: Any = {}
    if path is not None:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError([f"{name}: config file not found"]) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{name}: cannot read config file: {exc}"]) from exc
        try:
            document = boundedyaml.load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            what = "refused" if isinstance(exc, boundedyaml.YamlTooLarge) else "not valid YAML"
            raise ConfigError([f"{name}{where}: {what}: {getattr(exc, 'problem', exc)}"]) from exc
        if document is None:
            document = {}
    problems = _validate(document, name)
    url = environ.get("CANVAS_API_URL")
    if url:
        problems += _check_url(url, "CANVAS_API_URL (environment)")
    elif isinstance(document, dict) and isinstance(document.get("canvas"), dict):
        configured = document["canvas"].get("url")
        if isinstance(configured, str):
            problems += _check_url(configured, f"{name}: canvas.url")
    if problems:
        raise ConfigError(problems)
    config = _build(document)
    if url:
        config = dataclasses.replace(config, canvas=dataclasses.replace(config.canvas, url=url.rstrip("/")))
    base = Path(path).resolve().parent if path is not None else Path(cwd or os.getcwd()).resolve()

    def absolute(folder: str) -> str:
        given = Path(os.path.expanduser(folder))
        return str(given if given.is_absolute() else base / given)

    lock = config.lock
    if lock.path is not None:
        lock = dataclasses.replace(lock, path=absolute(lock.path))
    return dataclasses.replace(
        config,
        state_dir=absolute(config.state_dir),
        lock=lock,
        source=str(path) if path is not None else None,
    )


def _validate(document: Any, name: str) -> list[str]:
    if not isinstance(document, dict):
        return [f"{name}: the config must be a mapping of keys, not {type(document).__name__}"]
    problems = [f"{name}: {key}: {why}" for key, why in _secrets(document, "")]
    if problems:
        return problems
    schema = schemas.load("config")
    validator = jsonschema.Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        key = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = list(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed)):
                full = f"{key}.{extra}" if key else str(extra)
                match = difflib.get_close_matches(str(extra), allowed, n=1, cutoff=0.6)
                hint = f' (did you mean "{match[0]}"?)' if match else f" (known keys: {', '.join(allowed)})"
                problems.append(f"{name}: {full}: unknown key{hint}")
            continue
        problems.append(f"{name}: {key or '(top level)'}: {err.message}")
    if not problems:
        problems += _role_problems(document, name)
    return problems


def _role_problems(document: dict[str, Any], name: str) -> list[str]:
    """``manage.roles`` and ``guards.protected_roles`` are checked as roster roles are: a
    built-in word or Canvas name, or a custom role declared in ``roster.custom_roles``. An
    unknown name would otherwise make a run a silent no-op, or a protection void (a
    Cyrillic "е" in "tеacher" looks right and matches nothing)."""
    declared = list(((document.get("roster") or {}).get("custom_roles") or {}).keys())
    known = {*ROLE_WORDS.values(), *map(str, declared)}
    choices = [*ROLE_WORDS, *ROLE_WORDS.values(), *map(str, declared)]
    problems = []
    for section, key in (("manage", "roles"), ("guards", "protected_roles")):
        for position, role in enumerate((document.get(section) or {}).get(key) or ()):
            text = str(role)
            if canvas_role(text) in known:
                continue
            match = difflib.get_close_matches(text.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
            hint = f' (did you mean "{next(c for c in choices if c.lower() == match[0])}"?)' if match else ""
            odd = [f"{ch!r} {unicodedata.name(ch, f'U+{ord(ch):04X}')}" for ch in text if not ch.isascii()]
            if odd:
                hint += f" (it holds {', '.join(odd)})"
            problems.append(
                f'{name}: {section}.{key}[{position}]: unknown role "{text}"{hint}; '
                "declare custom roles in roster.custom_roles"
            )
    return problems


def _secrets(node: Any, prefix: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            full = f"{prefix}.{key}" if prefix else str(key)
            if str(key).lower() in SECRET_KEYS:
                found.append(
                    (
                        full,
                        "the API token must not be in the config file; set the CANVAS_API_TOKEN environment variable",
                    )
                )
            else:
                found += _secrets(value, full)
    return found


def _check_url(url: str, where: str) -> list[str]:
    parts = urlsplit(url)
    # The URL is never echoed: a mistyped one may well carry a token.
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [f"{where}: not an http(s) URL"]
    if parts.query or parts.fragment:
        return [
            f"{where}: give the base URL only, without a query or fragment (the token goes in CANVAS_API_TOKEN)"
        ]
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return [f"{where}: plain http:// is refused except for loopback addresses; use https://"]
    if parts.username or parts.password:
        return [f"{where}: credentials in the URL are refused; set CANVAS_API_TOKEN instead"]
    return []


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _course_ref(value: str) -> str:
    return value if value.startswith(("sis_course_id:", "sis_integration_id:")) else course_ref(value)


def _build(document: dict[str, Any]) -> Config:
    def section(key: str) -> dict[str, Any]:
        value = document.get(key) or {}
        return dict(value)

    canvas = section("canvas")
    if "account_id" in canvas:
        canvas["account_id"] = str(canvas["account_id"])
    if canvas.get("url"):
        canvas["url"] = str(canvas["url"]).rstrip("/")
    if "timeout" in canvas:
        canvas["timeout"] = float(canvas["timeout"])
    if "report_timeout" in canvas:
        canvas["report_timeout"] = float(canvas["report_timeout"])
    manage = section("manage")
    if manage.get("roles") is not None:
        manage["roles"] = tuple(dict.fromkeys(canvas_role(r) for r in manage["roles"]))
    if "courses" in manage:
        manage["courses"] = tuple(_course_ref(c) for c in manage["courses"])
    guards = section("guards")
    if "protected_roles" in guards:
        guards["protected_roles"] = tuple(canvas_role(r) for r in guards["protected_roles"])
    if "max_drop_percent" in guards:
        guards["max_drop_percent"] = float(guards["max_drop_percent"])
    roster = section("roster")
    if "custom_roles" in roster:
        roster["custom_roles"] = {
            str(k): (canvas_role(v) if v else None) for k, v in roster["custom_roles"].items()
        }
    oneroster = section("oneroster")
    if "role_map" in oneroster:
        oneroster["role_map"] = {str(k).lower(): canvas_role(v) for k, v in oneroster["role_map"].items()}
    return Config(
        canvas=CanvasSettings(**canvas),
        manage=ManageSettings(**manage),
        policy=PolicySettings(**section("policy")),
        guards=GuardSettings(**guards),
        oneroster=OneRosterSettings(**oneroster),
        roster=RosterSettings(**roster),
        lock=LockSettings(**section("lock")),
        state_dir=str(document.get("state_dir", ".reconcile")),
    )


def config_to_dict(config: Config) -> dict[str, Any]:
    """The effective config as plain JSON-ready data (for a plan's ``policy``); never a token."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    data: dict[str, Any] = plain(dataclasses.asdict(config))
    return data
