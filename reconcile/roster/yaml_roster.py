"""YAML rosters (``schemas/roster.schema.json``) -> raw rows for :mod:`reconcile.roster.normalise`.

The document is checked against the schema first; every schema violation is reported
with its YAML path (``courses[0].sections[1].students[3]``). Only a document that passes
is expanded: short role lists and long-form enrollments become one row each, with the
nearest default (section, then course, then file) filled in. Pure: takes bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema
import pandas as pd
import yaml

from reconcile import boundedyaml, schemas
from reconcile.config import Config
from reconcile.roster.csvread import ROW, decode_check
from reconcile.roster.problems import Problem, did_you_mean, error

DEFAULT_KEYS = ("status", "start_date", "end_date", "limit_section_privileges", "notify")
LISTS = {"students": "student", "teachers": "teacher", "tas": "ta", "designers": "designer"}
# Long-form key -> SIS column name used by the normaliser.
LONG = {
    "user": "user_id",
    "role": "role",
    "role_id": "role_id",
    "associated_user": "associated_user_id",
    "last_attended_at": "last_attended_at",
    "status": "status",
    "start_date": "start_date",
    "end_date": "end_date",
    "limit_section_privileges": "limit_section_privileges",
    "notify": "notify",
}


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _cell(value: Any) -> str:
    """A YAML scalar as the string a CSV cell would hold (None -> "" = should be empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _plain(node: Any) -> Any:
    """Dates -> ISO strings: YAML types them eagerly, the schema and the normaliser want text."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, dt.date):
        return _cell(node)
    return node


def read_yaml_roster(data: bytes, file: str, config: Config) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Parse and schema-check a YAML roster; expand it into raw rows (SIS column names)."""
    data, problems = decode_check(data, file)
    if problems:
        return None, problems
    try:
        document = boundedyaml.load(data.decode("utf-8"))
    except boundedyaml.YamlTooLarge as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        return None, [error(file, line, None, "yaml_too_large", f"refused: {exc.problem}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return None, [
            error(file, line, None, "yaml_syntax", f"not valid YAML: {getattr(exc, 'problem', exc)}")
        ]
    if document is None:
        return None, [error(file, None, None, "empty_file", "file is empty")]
    document = _plain(document)
    validator = jsonschema.Draft202012Validator(schemas.load("roster"))
    for err in sorted(validator.iter_errors(document), key=lambda e: _path(e.absolute_path)):
        parts = list(err.absolute_path)
        column = str(parts[-1]) if parts and isinstance(parts[-1], str) else None
        message = err.message
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = list(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed), key=str):
                hint = did_you_mean(str(extra), allowed)
                problems.append(
                    error(
                        file,
                        _path([*parts, str(extra)]),
                        str(extra),
                        "schema",
                        f'unknown key "{extra}"{hint}',
                    )
                )
            continue
        if err.validator == "enum" and isinstance(err.instance, str):
            choices = [str(c) for c in err.validator_value]
            hint = did_you_mean(err.instance, choices)
            message = f'unknown value "{err.instance}"{hint}; expected one of {", ".join(choices)}'
        if err.validator == "anyOf" and column in {"start_date", "end_date", "last_attended_at"}:
            message = f"not an ISO 8601 date: {err.instance!r}"
        problems.append(error(file, _path(parts), column, "schema", message))
    if problems:
        return None, problems
    rows = list(_expand(document, config.policy.enrollment_state))
    if not rows:
        return None, [error(file, None, None, "empty_file", "the roster lists no enrollments")]
    frame = pd.DataFrame(rows, dtype=object)
    return frame.reset_index(drop=True), []


def _expand(document: dict[str, Any], fallback_status: str) -> Any:
    file_defaults = {k: document[k] for k in DEFAULT_KEYS if k in document}
    for ci, course in enumerate(document.get("courses", [])):
        course_defaults = {**file_defaults, **{k: course[k] for k in DEFAULT_KEYS if k in course}}
        where = f"courses[{ci}]"
        yield from _lists(course, course["course"], None, course_defaults, where, fallback_status)
        for si, section in enumerate(course.get("sections", [])):
            defaults = {**course_defaults, **{k: section[k] for k in DEFAULT_KEYS if k in section}}
            yield from _lists(
                section,
                course["course"],
                section["section"],
                defaults,
                f"{where}.sections[{si}]",
                fallback_status,
            )
    for ei, item in enumerate(document.get("enrollments", [])):
        yield _long(
            item, item["course"], item.get("section"), file_defaults, f"enrollments[{ei}]", fallback_status
        )


def _row(
    course: str, section: str | None, user: Any, defaults: dict[str, Any], where: str, fallback: str
) -> dict[str, Any]:
    # YAML reads 12345 as a number; ids are always text here.
    row: dict[str, Any] = {
        "course_id": _cell(course),
        "section_id": _cell(section),
        "user_id": _cell(user),
        ROW: where,
    }
    for key in DEFAULT_KEYS:
        if key in defaults:
            row[key] = _cell(defaults[key])
    row.setdefault("status", fallback)
    if row["status"] == "":
        row["status"] = fallback
    return row


def _lists(
    node: dict[str, Any],
    course: str,
    section: str | None,
    defaults: dict[str, Any],
    where: str,
    fallback: str,
) -> Any:
    for key, role in LISTS.items():
        for i, user in enumerate(node.get(key, [])):
            yield {**_row(course, section, user, defaults, f"{where}.{key}[{i}]", fallback), "role": role}
    for i, item in enumerate(node.get("observers", [])):
        path = f"{where}.observers[{i}]"
        if not isinstance(item, dict):
            yield {**_row(course, section, item, defaults, path, fallback), "role": "observer"}
            continue
        observes = item.get("observes")
        targets = observes if isinstance(observes, list) else [observes]
        for j, target in enumerate(targets):
            sub = f"{path}.observes[{j}]" if isinstance(observes, list) else path
            row = _row(course, section, item["user"], defaults, sub, fallback)
            yield {**row, "role": "observer", "associated_user_id": _cell(target)}
    for name, users in node.get("other_roles", {}).items():
        for i, user in enumerate(users):
            yield {
                **_row(course, section, user, defaults, f"{where}.other_roles.{name}[{i}]", fallback),
                "role": name,
            }
    for i, item in enumerate(node.get("enrollments", [])):
        yield _long(
            item, course, item.get("section", section), defaults, f"{where}.enrollments[{i}]", fallback
        )


def _long(
    item: dict[str, Any],
    course: str,
    section: str | None,
    defaults: dict[str, Any],
    where: str,
    fallback: str,
) -> dict[str, Any]:
    row = _row(course, section, item["user"], defaults, where, fallback)
    for key, column in LONG.items():
        if key in item and key != "user":
            row[column] = _cell(item[key])
    if row.get("status") == "":
        row["status"] = fallback
    if "role" not in item and "role_id" not in item:
        row["role"] = "student"
    return row
