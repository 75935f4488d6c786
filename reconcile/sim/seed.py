"""Loading a seed document (YAML or JSON, ``schemas/sim-seed.schema.json``) into a Store.

Validation is two-step: the JSON Schema for shape, then the cross-references the schema
cannot express (an enrollment's user exists, its section belongs to its course, no two
rows share Canvas's unique key). Every problem is reported at once, with its path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from reconcile import schemas
from reconcile.sim.linked import load_linked
from reconcile.sim.model import (
    BUILT_IN_ROLE_FOR_TYPE,
    BUILT_IN_ROLE_IDS,
    Account,
    Course,
    Enrollment,
    ObserverLink,
    Role,
    Section,
    Term,
    Token,
    User,
    collation_key,
    now_utc,
    parse_time,
)
from reconcile.sim.permissions import ACCOUNT_ADMIN_ROLE_ID, may_be_set
from reconcile.sim.store import Store

SEED_EPOCH = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.timezone.utc)


class SeedError(ValueError):
    """The seed document is not valid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid simulator seed:\n  " + "\n  ".join(problems))


def read_seed(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The seed document from a path (``.json``, else YAML) or an already-parsed dict."""
    if isinstance(source, dict):
        return source
    path = Path(source)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else _dates_as_text(yaml.safe_load(text))
    except (ValueError, yaml.YAMLError) as exc:
        raise SeedError([f"{path}: cannot parse: {exc}"]) from exc
    if not isinstance(data, dict):
        raise SeedError([f"{path}: a seed is a mapping with accounts, courses, users, ..."])
    return data


def _dates_as_text(value: Any) -> Any:
    """YAML turns unquoted timestamps into datetimes; the schema (like JSON) wants text."""
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def validate_seed(doc: dict[str, Any]) -> None:
    """Raise SeedError with every schema violation in ``doc``.

    Large lists of flat rows (100k enrollments) are first checked by a fast path built
    from the schema's own item definitions; only rows it rejects go through jsonschema,
    so the messages are jsonschema's and the two checks cannot drift apart.
    """
    schema = schemas.load("sim-seed")
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[str] = []
    rest = dict(doc)
    for name, prop in schema["properties"].items():
        rows = doc.get(name)
        item = prop.get("items")
        if not isinstance(rows, list) or item is None or not _flat(item):
            continue
        rest[name] = rows[:1]  # the full validator still sees one row (and minItems)
        item_validator = jsonschema.Draft202012Validator(item)
        for i, row in enumerate(rows[1:], start=1):
            if not _fast_ok(row, item):
                for error in item_validator.iter_errors(row):
                    where = "/".join(str(p) for p in [name, i, *error.absolute_path])
                    problems.append(f"{where}: {error.message}")
            if len(problems) >= 50:
                break
    for error in sorted(validator.iter_errors(rest), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    if problems:
        if len(problems) > 50:
            problems = [*problems[:50], "... (stopped after 50 problems)"]
        raise SeedError(problems)


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "array": (list,),
}


def _flat(item: dict[str, Any]) -> bool:
    """Whether an item schema uses only what :func:`_fast_ok` understands: scalar
    properties, and arrays of such flat objects (a user's extra pseudonyms)."""
    known = {"type", "enum", "minimum", "minLength", "description"}
    if item.get("type") != "object":
        return False
    for prop in item.get("properties", {}).values():
        if "items" in prop:
            if not (set(prop) <= known | {"items"} and _flat(prop["items"])):
                return False
        elif not set(prop) <= known:
            return False
    return True


def _fast_ok(row: Any, item: dict[str, Any]) -> bool:
    """True when ``row`` certainly satisfies the flat item schema (False means: ask jsonschema)."""
    if not isinstance(row, dict):
        return False
    props = item["properties"]
    if any(key not in row for key in item.get("required", ())):
        return False
    for key, value in row.items():
        rule = props.get(key)
        if rule is None:
            if item.get("additionalProperties") is False:
                return False
            continue
        if "enum" in rule and value not in rule["enum"]:
            return False
        if "type" in rule:
            kinds = rule["type"] if isinstance(rule["type"], list) else [rule["type"]]
            if isinstance(value, bool) and "boolean" not in kinds:
                return False
            if not any(isinstance(value, _JSON_TYPES[k]) for k in kinds):
                return False
        if (
            "minimum" in rule
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and value < rule["minimum"]
        ):
            return False
        if "minLength" in rule and isinstance(value, str) and len(value) < rule["minLength"]:
            return False
        if type(value) is list and not all(_fast_ok(element, rule["items"]) for element in value):
            return False  # only array rules admit a list (the type check above)
    return True


def _uuid(kind: str, obj_id: int) -> str:
    return hashlib.sha1(f"{kind}:{obj_id}".encode()).hexdigest()[:40]


def build_store(
    source: str | Path | dict[str, Any],
    *,
    clock: Callable[[], dt.datetime] = now_utc,
    validate: bool = True,
) -> Store:
    """A Store holding the seed. Raises SeedError when the seed is invalid."""
    doc = read_seed(source)
    if validate:
        validate_seed(doc)
    with _collector_paused():
        return _build(doc, clock)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a world is built: the rows form no cycles,
    and a collection pass over the million objects of a 100k-enrollment world, repeated as
    they are allocated, costs more than building them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(doc: dict[str, Any], clock: Callable[[], dt.datetime]) -> Store:
    store = Store(clock=clock)
    problems: list[str] = []
    for a in doc["accounts"]:
        store.add_account(
            Account(
                id=a["id"],
                name=a.get("name", f"Account {a['id']}"),
                sis_account_id=a.get("sis_account_id"),
                integration_id=a.get("integration_id"),
                parent_account_id=a.get("parent_account_id"),
            )
        )
    for i, a in enumerate(doc["accounts"]):
        parent = a.get("parent_account_id")
        if parent is not None and parent not in store.accounts:
            problems.append(f"accounts/{i}: parent_account_id {parent} does not exist")
    for t in doc.get("terms", []):
        store.add_term(
            Term(
                id=t["id"],
                name=t.get("name", f"Term {t['id']}"),
                sis_term_id=t.get("sis_term_id"),
                integration_id=t.get("integration_id"),
                start_at=parse_time(t.get("start_at")),
                end_at=parse_time(t.get("end_at")),
                created_at=SEED_EPOCH,
            )
        )
    for i, c in enumerate(doc.get("courses", [])):
        account_id = c.get("account_id", store.root_account_id)
        if account_id not in store.accounts:
            problems.append(f"courses/{i}: account_id {account_id} does not exist")
        term_id = c.get("enrollment_term_id")
        if term_id is not None and term_id not in store.terms:
            problems.append(f"courses/{i}: enrollment_term_id {term_id} does not exist")
        store.add_course(
            Course(
                id=c["id"],
                name=c.get("name", f"Course {c['id']}"),
                account_id=account_id,
                course_code=c.get("course_code", c.get("name", f"C{c['id']}")),
                sis_course_id=c.get("sis_course_id"),
                integration_id=c.get("integration_id"),
                enrollment_term_id=term_id,
                workflow_state=c.get("workflow_state", "available"),
                start_at=parse_time(c.get("start_at")),
                end_at=parse_time(c.get("end_at")),
                restrict_enrollments_to_course_dates=c.get("restrict_enrollments_to_course_dates", False),
                self_enrollment_code=c.get("self_enrollment_code"),
                uuid=c.get("uuid") or _uuid("course", c["id"]),
            )
        )
    crosslisted_from: set[int] = set()
    for i, s in enumerate(doc.get("sections", [])):
        if s["course_id"] not in store.courses:
            problems.append(f"sections/{i}: course_id {s['course_id']} does not exist")
            continue
        course = store.courses[s["course_id"]]
        original = s.get("nonxlist_course_id")
        if original is not None and (original not in store.courses or original == course.id):
            problems.append(
                f"sections/{i}: nonxlist_course_id {original} must be another existing course "
                f"(the section's original course; course_id is where it is now)"
            )
            continue
        if original is not None:
            crosslisted_from.add(original)
        # A cross-listed section became its new course's default only if that course had no
        # section of its own (facts §14.2), which a seed says with default_section.
        first = not store.course_sections.get(course.id) and original is None
        store.add_section(
            Section(
                id=s["id"],
                course_id=course.id,
                name=s.get("name", course.name),
                sis_section_id=s.get("sis_section_id"),
                integration_id=s.get("integration_id"),
                start_at=parse_time(s.get("start_at")),
                end_at=parse_time(s.get("end_at")),
                restrict_enrollments_to_section_dates=s.get("restrict_enrollments_to_section_dates", False),
                default_section=s.get("default_section", first),
                workflow_state=s.get("workflow_state", "active"),
                nonxlist_course_id=original,
            )
        )
    for course in store.courses.values():
        if course.id not in store.default_sections and not (
            course.id in crosslisted_from and not store.course_sections.get(course.id)
        ):
            # Canvas creates a default section named after the course on first use. A course
            # whose every section is cross-listed away has none until it needs one.
            store.default_section_id(course.id)
    columns = {"sis": "sis_user_id", "integration": "integration_id", "login": "login_id"}
    for i, u in enumerate(doc.get("users", [])):
        name = u.get("name", f"User {u['id']}")
        sortable = u.get("sortable_name") or _sortable(name)
        extra = tuple(u.get("pseudonyms", ()))
        clashes = store.add_user(
            User(
                id=u["id"],
                name=name,
                sortable_name=sortable,
                short_name=u.get("short_name", name),
                sis_user_id=u.get("sis_user_id"),
                integration_id=u.get("integration_id"),
                login_id=u.get("login_id"),
                workflow_state=u.get("workflow_state", "registered"),
                uuid=u.get("uuid") or _uuid("user", u["id"]),
                created_at=parse_time(u.get("created_at")) or SEED_EPOCH,
                collation=collation_key(sortable),
            ),
            extra,
        )
        for position, column, value, owner in clashes:
            where = f"users/{i}" if position == 1 else f"users/{i}/pseudonyms/{position - 2}"
            problems.append(f"{where}: {columns[column]} {value!r} is already used by user {owner}")
    for role_type, role_id in BUILT_IN_ROLE_IDS.items():
        store.add_role(Role(id=role_id, label=role_type, base_role_type=role_type, built_in=True))
    for r in doc.get("roles", []):
        store.add_role(
            Role(
                id=r["id"],
                label=r["label"],
                base_role_type=r["base_role_type"],
                workflow_state=r.get("workflow_state", "active"),
            )
        )
    for i, o in enumerate(doc.get("role_overrides", [])):
        role = store.roles.get(o["role_id"])
        base = (
            "AccountAdmin" if o["role_id"] == ACCOUNT_ADMIN_ROLE_ID else role.base_role_type if role else None
        )
        if base is None:
            problems.append(f"role_overrides/{i}: role {o['role_id']} does not exist")
        elif not may_be_set(base, o["permission"]):
            problems.append(f"role_overrides/{i}: {o['permission']} cannot be set for a {base} role (locked)")
        else:
            store.role_overrides[(o["role_id"], o["permission"])] = o["enabled"]
    for i, t in enumerate(doc.get("tokens", [])):
        if t["user_id"] not in store.users:
            problems.append(f"tokens/{i}: user_id {t['user_id']} does not exist")
        store.add_token(Token(token=t["token"], user_id=t["user_id"], admin=t.get("admin", False)))
    problems.extend(_load_enrollments(store, doc.get("enrollments", [])))
    problems.extend(_load_links(store, doc.get("observer_links", [])))
    if problems:
        raise SeedError(problems[:50])
    load_linked(store)
    return store


def _sis_login(store: Store, row: dict[str, Any]) -> int | None:
    """The pseudonym an SIS import enrolled the row with: the one its ``sis_user_id`` names,
    else (``created_for_sis_id``, or an ``sis_import_id``) the user's first login with an
    SIS id; None for rows made by hand or by the API. -1 when ``sis_user_id`` is not the user's."""
    wanted = row.get("sis_user_id")
    if wanted is None and not row.get("created_for_sis_id", row.get("sis_import_id") is not None):
        return None
    logins = store.pseudonyms.get(row["user_id"], ())
    if wanted is None and logins and logins[0].sis_user_id:
        return logins[0].id  # the common case: the user's own ids
    for login in logins:
        if login.sis_user_id and (wanted is None or login.sis_user_id == wanted):
            return login.id
    return -1 if wanted is not None else None


def _load_links(store: Store, rows: list[dict[str, Any]]) -> list[str]:
    """Observer links (UserObservationLink): one row per observer and student."""
    problems: list[str] = []
    next_id = max([0, *(r["id"] for r in rows if "id" in r)]) + 1
    for i, row in enumerate(rows):
        where = f"observer_links/{i}"
        observer_id, student_id = row["observer_id"], row["student_id"]
        if observer_id not in store.users or student_id not in store.users:
            problems.append(f"{where}: observer {observer_id} or student {student_id} does not exist")
            continue
        if observer_id == student_id:
            problems.append(f"{where}: a user cannot observe themself")
            continue
        if store.link_between(observer_id, student_id) is not None:
            problems.append(f"{where}: observer {observer_id} is already linked to student {student_id}")
            continue
        link_id = row.get("id")
        if link_id is None:
            link_id, next_id = next_id, next_id + 1
        elif link_id in store.links:
            problems.append(f"{where}: duplicate id {link_id}")
            continue
        store.add_link(
            ObserverLink(
                id=link_id,
                observer_id=observer_id,
                student_id=student_id,
                root_account_id=store.root_account_id,
                workflow_state=row.get("workflow_state", "active"),
                created_at=parse_time(row.get("created_at")) or SEED_EPOCH,
            )
        )
    return problems


def _sortable(name: str) -> str:
    parts = name.rsplit(" ", 1)
    return f"{parts[1]}, {parts[0]}" if len(parts) == 2 else name


def _load_enrollments(store: Store, rows: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    seen_ids: set[int] = set()
    for i, e in enumerate(rows):
        where = f"enrollments/{i}"
        if e["id"] in seen_ids:
            problems.append(f"{where}: duplicate id {e['id']}")
            continue
        seen_ids.add(e["id"])
        course = store.courses.get(e["course_id"])
        if course is None or e["user_id"] not in store.users:
            problems.append(f"{where}: course {e['course_id']} or user {e['user_id']} does not exist")
            continue
        section_id = e.get("course_section_id") or store.default_section_id(course.id)
        section = store.sections.get(section_id)
        if section is None or section.course_id != course.id:
            moved = (
                f" (it is cross-listed into course {section.course_id}, where its enrollments are)"
                if section is not None and section.nonxlist_course_id == course.id
                else ""
            )
            problems.append(f"{where}: section {section_id} is not a section of course {course.id}{moved}")
            continue
        etype = e.get("type", "StudentEnrollment")
        role_id = e.get("role_id") or BUILT_IN_ROLE_FOR_TYPE[etype]
        role = store.roles.get(role_id)
        if role is None or (
            role.base_role_type != etype and not (etype == "StudentViewEnrollment" and role_id == 3)
        ):
            problems.append(f"{where}: role {role_id} is not a role for {etype}")
            continue
        associated = e.get("associated_user_id")
        if associated is not None and (etype != "ObserverEnrollment" or associated not in store.users):
            problems.append(f"{where}: associated_user_id needs an ObserverEnrollment and an existing user")
            continue
        sis_login = _sis_login(store, e)
        if sis_login == -1:
            problems.append(
                f"{where}: sis_user_id {e.get('sis_user_id')!r} is not one of user {e['user_id']}'s logins"
            )
            continue
        created = parse_time(e.get("created_at")) or SEED_EPOCH
        enrollment = Enrollment(
            id=e["id"],
            user_id=e["user_id"],
            course_id=course.id,
            course_section_id=section_id,
            type=etype,
            role_id=role_id,
            workflow_state=e.get("workflow_state", "active"),
            root_account_id=store.root_account_id,
            start_at=parse_time(e.get("start_at")),
            end_at=parse_time(e.get("end_at")),
            associated_user_id=associated,
            limit_privileges_to_course_section=e.get("limit_privileges_to_course_section", False),
            sis_import_id=e.get("sis_import_id"),
            sis_pseudonym_id=sis_login,
            last_activity_at=parse_time(e.get("last_activity_at")),
            last_attended_at=parse_time(e.get("last_attended_at")),
            total_activity_time=e.get("total_activity_time", 0),
            temporary_enrollment_source_user_id=e.get("temporary_enrollment_source_user_id"),
            self_enrolled=e.get("self_enrolled"),
            created_at=created,
            updated_at=parse_time(e.get("updated_at")) or created,
        )
        if enrollment.unique_key in store.by_key:
            problems.append(f"{where}: same user/type/role/section/associated user as another enrollment")
            continue
        store.insert_enrollment(enrollment, presorted=True)
    store.sort_indexes()
    return problems
