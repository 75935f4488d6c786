"""Rails-style request parameters for the Enrollments API, and Link page arithmetic.

Pure helpers for :mod:`reconcile.canvas.client`: the list endpoints' filters (facts
§1.1), the ``enrollment[...]`` form of a create (facts §3.1), and the URLs of numbered
pages when Canvas names the last one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from reconcile.canvas.refs import normalize


def enrollment_filters(
    *,
    type: Sequence[str] | str | None = None,  # noqa: A002 - Canvas's own parameter name
    role: Sequence[str] | str | None = None,
    role_id: Sequence[int] | int | None = None,
    state: Sequence[str] | str | None = None,
    include: Sequence[str] | str | None = None,
    user_id: str | int | None = None,
    grading_period_id: int | None = None,
    enrollment_term_id: str | int | None = None,
    sis_account_id: Sequence[str] | str | None = None,
    sis_course_id: Sequence[str] | str | None = None,
    sis_section_id: Sequence[str] | str | None = None,
    sis_user_id: Sequence[str] | str | None = None,
    created_for_sis_id: bool | None = None,
    temporary_enrollments_for_recipient: bool | None = None,
    temporary_enrollment_recipients_for_provider: bool | None = None,
) -> dict[str, Any]:
    """The list endpoints' query parameters (facts §1.1), Rails-style, None left out.

    SIS filters take raw SIS values (no ``sis_..:`` prefix); ``user_id`` and
    ``enrollment_term_id`` take refs.
    """
    params: dict[str, Any] = {}
    for key, value in (
        ("type[]", type),
        ("role[]", role),
        ("role_id[]", role_id),
        ("state[]", state),
        ("include[]", include),
        ("sis_account_id[]", sis_account_id),
        ("sis_course_id[]", sis_course_id),
        ("sis_section_id[]", sis_section_id),
        ("sis_user_id[]", sis_user_id),
    ):
        if value is not None:
            params[key] = [value] if isinstance(value, (str, int)) else list(value)
    for key, scalar in (
        ("user_id", user_id),
        ("grading_period_id", grading_period_id),
        ("enrollment_term_id", enrollment_term_id),
        ("created_for_sis_id", created_for_sis_id),
        ("temporary_enrollments_for_recipient", temporary_enrollments_for_recipient),
        ("temporary_enrollment_recipients_for_provider", temporary_enrollment_recipients_for_provider),
    ):
        if scalar is not None:
            params[key] = id_param(scalar) if key in {"user_id", "enrollment_term_id"} else scalar
    return params


_ENROLLMENT_KEYS = (
    "type",
    "role_id",
    "role",
    "enrollment_state",
    "course_section_id",
    "limit_privileges_to_course_section",
    "notify",
    "start_at",
    "end_at",
    "self_enrolled",
    "associated_user_id",
    "self_enrollment_code",
    "sis_user_id",
    "integration_id",
)


def enrollment_params(
    user: str | int | None, *, root_account: str | None = None, **attributes: Any
) -> dict[str, Any]:
    """The ``enrollment[...]`` form parameters for a create (facts §3.1).

    ``attributes`` keys are the names after ``enrollment[``: type, role_id, role,
    enrollment_state, course_section_id, limit_privileges_to_course_section, notify,
    start_at, end_at, self_enrolled, associated_user_id, self_enrollment_code,
    sis_user_id, integration_id. A key given as None is sent blank (Canvas clears the
    attribute); a key not given is not sent. Unknown keys raise TypeError.
    """
    unknown = set(attributes) - set(_ENROLLMENT_KEYS)
    if unknown:
        raise TypeError(f"unknown enrollment attributes: {sorted(unknown)}")
    data: dict[str, Any] = {}
    if user is not None:
        data["enrollment[user_id]"] = id_param(user)
    for key in _ENROLLMENT_KEYS:
        if key in attributes:
            value = attributes[key]
            if key in {"course_section_id", "associated_user_id"} and value is not None:
                value = id_param(value)
            data[f"enrollment[{key}]"] = value
    if root_account is not None:
        data["root_account"] = root_account
    return data


def id_param(value: str | int) -> str:
    """A ref for an id-valued parameter: ``canvas:N`` -> ``N``, other forms unchanged (not escaped)."""
    return normalize(value)


def rails(filters: Mapping[str, Any]) -> dict[str, Any]:
    """``state=[...]`` -> ``state[]=[...]``: list-valued keyword filters get Rails' brackets."""
    params: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)) and not key.endswith("[]"):
            params[f"{key}[]"] = list(value)
        else:
            params[key] = value
    return params


def numbered_pages(links: Mapping[str, str]) -> list[str] | None:
    """URLs of pages 2..last when the Link header numbers pages (``page=2``, ``rel=last``), else None."""
    following, last = links.get("next"), links.get("last")
    if not following or not last:
        return None
    next_query = dict(parse_qsl(urlsplit(following).query))
    last_query = dict(parse_qsl(urlsplit(last).query))
    if not (next_query.get("page", "").isdigit() and last_query.get("page", "").isdigit()):
        return None
    start, stop = int(next_query["page"]), int(last_query["page"])
    parts = urlsplit(following)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    urls = []
    for number in range(start, stop + 1):
        query = [(k, str(number) if k == "page" else v) for k, v in pairs]
        urls.append(urlunsplit(parts._replace(query=urlencode(query, safe="[]:"))))
    return urls
