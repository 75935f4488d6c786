"""Account-level endpoints: show an enrollment, list courses, bulk enrollment with its
Progress, and the temporary-enrollment status of a user (facts §2, §4, §5.6)."""

from __future__ import annotations

import threading
import time
from typing import Any

from reconcile.sim import errors
from reconcile.sim.api_create import enroll_user, resolve_role
from reconcile.sim.auth import account_rights
from reconcile.sim.context import Request, Response
from reconcile.sim.dates import is_active_by_date
from reconcile.sim.model import BUILT_IN_ROLE_IDS, ENROLLMENT_TYPES, Course, Progress, collation_key
from reconcile.sim.pagination import LinkBase, numeric_links, numeric_page, per_page
from reconcile.sim.params import as_list, is_blank
from reconcile.sim.render import View, course_json, enrollment_json, progress_json
from reconcile.sim.store import Store

BULK_LIMIT = 500
COURSE_STATES = ("created", "claimed", "available", "completed", "deleted")


def _account(req: Request) -> int:
    account = req.store.find_account(req.path_params["account_id"])
    if account is None:
        raise errors.not_found()
    return account.id


def show_enrollment(req: Request) -> Response:
    """GET /accounts/:id/enrollments/:id: root account only, deleted rows included (facts §2)."""
    store = req.store
    if _account(req) != store.root_account_id:
        raise errors.not_found()
    raw = req.path_params["id"]
    e = store.enrollments.get(int(raw)) if raw.isdigit() and len(raw) <= 19 else None
    if e is None:
        raise errors.not_found()
    if not req.caller.admin and e.user_id != req.caller.user_id:
        raise req.deny()
    rights = req.rights(store.courses[e.course_id])
    return Response(enrollment_json(store, e, View(req.base_url, req.caller, rights)))


def list_courses(req: Request) -> Response:
    """GET /accounts/:id/courses: the account's and its sub-accounts' courses, numeric pages,
    with the course JSON of :mod:`reconcile.sim.api_courses` (``include[]=term``)."""
    store = req.store
    account_id = _account(req)
    if not req.caller.admin:
        raise req.deny()
    states = {str(s) for s in as_list(req.params.get("state")) if not is_blank(s)}
    if "all" in states:
        states = set(COURSE_STATES)
    elif not states:
        states = set(COURSE_STATES) - {"deleted"}
    term_id = None
    if not is_blank(req.params.get("enrollment_term_id")):
        term = store.find_term(str(req.params["enrollment_term_id"]))
        if term is None:
            raise errors.not_found()
        term_id = term.id
    courses = [
        c
        for c in store.courses.values()
        if c.workflow_state in states
        and account_id in store.account_chain(c.account_id)
        and (term_id is None or c.enrollment_term_id == term_id)
    ]
    courses.sort(key=lambda c: (collation_key(c.name), c.id))
    size = per_page(req.params)
    page = numeric_page(req.params)
    chunk = courses[(page - 1) * size : page * size]
    base = LinkBase(f"{req.base_url}/api/v1/accounts/{req.raw_path_params['account_id']}/courses", req.query)
    includes = frozenset(str(v) for v in as_list(req.params.get("include")))
    return Response(
        [course_json(store, c, account_rights(store, req.caller), includes) for c in chunk],
        headers={"Link": numeric_links(base, size, page, len(courses))},
        items=len(chunk),
    )


def temporary_enrollment_status(req: Request) -> Response:
    store = req.store
    user = req.user()
    if user.id != req.caller.user_id and not req.caller.admin:
        raise req.deny()
    now = store.now()
    provider = recipient = can_provide = False
    for e in store.enrollments.values():
        if e.temporary_enrollment_source_user_id == user.id and e.workflow_state in (
            "active",
            "invited",
            "creation_pending",
        ):
            provider = True
    for key in store.user_index.get(user.id, []):
        e = store.enrollments[key[2]]
        if e.temporary_enrollment_source_user_id is not None and e.workflow_state != "deleted":
            recipient = True
        if is_active_by_date(store, e, now):
            can_provide = True
    return Response({"is_provider": provider, "is_recipient": recipient, "can_provide": can_provide})


def show_progress(req: Request) -> Response:
    raw = req.path_params["id"]
    progress = req.store.progresses.get(int(raw)) if raw.isdigit() and len(raw) <= 19 else None
    if progress is None:
        raise errors.not_found()
    if progress.user_id != req.caller.user_id and not req.caller.admin:
        raise req.deny()
    return Response(progress_json(progress, req.base_url))


def bulk_enrollment(req: Request) -> Response:
    """POST /accounts/:id/bulk_enrollment: validate, queue, answer with a Progress (facts §4)."""
    store = req.store
    account_id = _account(req)
    params = req.params
    raw_type = params.get("enrollment_type")
    raw_role = params.get("enrollment_role_id")
    role = None
    if not is_blank(raw_role):
        role, etype, problems = resolve_role(store, raw_type, raw_role, None)
        if problems:
            raise errors.errors_string(problems[0])
    else:
        etype = "StudentEnrollment" if is_blank(raw_type) else str(raw_type)
    if etype not in ENROLLMENT_TYPES:
        raise errors.errors_string("Invalid enrollment type.")
    user_ids = [str(u) for u in as_list(params.get("user_ids"))]
    course_ids = [str(c) for c in as_list(params.get("course_ids"))]
    if not user_ids or not course_ids:
        raise errors.generic(500, "internal_server_error")
    if len(user_ids) * len(course_ids) > BULK_LIMIT:
        raise errors.errors_string("Too many users to enroll at once.")
    courses: list[Course] = []
    for ref in course_ids:
        course = store.find_course(ref)
        if course is None:
            raise errors.not_found()
        rights = req.rights(course)
        if not rights.may_create(etype or "StudentEnrollment"):
            raise req.deny()
        courses.append(course)
    if role is None:
        role = store.roles[BUILT_IN_ROLE_IDS[etype]]
    now = store.now()
    progress = Progress(
        id=store.new_id("progress"),
        context_id=account_id,
        user_id=req.caller.user_id,
        tag="bulk_enrollment",
        created_at=now,
        updated_at=now,
    )
    store.progresses[progress.id] = progress
    body = progress_json(progress, req.base_url)
    worker = threading.Thread(
        target=_run_bulk,
        args=(store, progress, user_ids, courses, role.id, etype),
        name=f"sim-bulk-{progress.id}",
        daemon=True,
    )
    worker.start()
    return Response(body)


def _run_bulk(
    store: Store, progress: Progress, user_refs: list[str], courses: list[Course], role_id: int, etype: str
) -> None:
    """The background job: enroll every user x course with the defaults of facts §3.3."""
    time.sleep(0.05)  # queued long enough for a client to see it
    with store.lock:
        progress.workflow_state = "running"
        progress.updated_at = store.now()
    failures: dict[str, Any] = {}
    total = max(1, len(user_refs) * len(courses))
    done = 0
    for ref in user_refs:
        for course in courses:
            with store.lock:
                user = store.find_user(ref)
                if user is not None:
                    section = store.sections[store.default_section_id(course.id)]
                    try:
                        enroll_user(store, course, section, user, store.roles[role_id], etype, {})
                    except errors.ApiError as exc:
                        failures[str(user.id)] = f"Error processing user {user.id}: {exc.body}"
                done += 1
                progress.completion = round(100.0 * done / total, 1)
                progress.updated_at = store.now()
    with store.lock:
        progress.workflow_state = "completed"
        progress.completion = 100.0
        progress.results = {"errors": failures}
        progress.updated_at = store.now()
