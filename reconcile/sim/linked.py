"""Observer enrollments that Canvas creates and mirrors from observer links (facts §14.1).

Modelled on canvas-lms ``app/models/enrollment.rb`` (``observers``,
``create_linked_enrollments``, ``update_linked_enrollments``, ``create_linked_enrollment_for``,
``linked_enrollment_for``, ``active_linked_enrollment_for``, ``update_from``) and
``app/models/user_observation_link.rb`` (``create_or_restore``, ``create_linked_enrollments``,
``destroy``/``remove_linked_enrollments``). What is modelled, exactly:

- The *observers* of a StudentEnrollment are the users with an active link to its student
  (``linked_observers.active``: deleted observer users left out). Other types have none.
- The *linked enrollment* of (student row, observer) is the observer's first
  ObserverEnrollment (lowest id, any state, any role) whose ``associated_user_id`` is the
  student and whose section is the student row's section *before* the save.
- ``update_from(student)`` copies ``course_id``, ``workflow_state`` (``invited`` becomes
  ``active``), ``start_at``, ``end_at``, ``course_section_id`` and ``root_account_id``, and
  ``sis_batch_id`` only onto a row that already has one. ``completed_at``, role, limit and
  last-attended are not copied. ``updated_at`` moves only when something changed.
- ``create_linked_enrollment_for(observer)``: a linked row that is neither deleted nor
  inactive is left alone; otherwise, if the observer can be enrolled in the course (a login
  in the root account), the linked row (revived) or a new ObserverEnrollment (built-in
  observer role, associated with the student) gets ``update_from``.
- After a student row is **created** (POST, bulk enrollment, self-enrollment):
  ``create_linked_enrollment_for`` every observer, then the after-save step below.
- After **every save** of a student row (a POST upsert that changed the row, DELETE
  conclude/delete/inactivate, reactivate, accept, reject): for every observer, the linked row
  gets ``update_from`` — unless it is deleted and the student was not deleted before this
  save (an observer row deleted by hand stays deleted). With no linked row to update, a
  student coming back from inactive, deleted or completed gets one through
  ``create_linked_enrollment_for``. A POST that changes nothing saves nothing, so it mirrors
  nothing.
- Creating a link (``PUT /users/:observer/observees/:student``, or restoring a deleted link)
  runs ``create_linked_enrollment_for`` for each of the student's StudentEnrollments that is
  not rejected, completed or deleted (``all_active_or_pending``) and is valid (course not
  deleted, section active), in course order.
- Deleting a link soft-deletes *every* ObserverEnrollment of the observer associated with
  that student, in every course, whoever created it.
- Cross-listing moves observer rows with their section (``update_all``), no callbacks.
- Seed loading: for every active link, each of the student's rows that link creation would
  cover and that has no observer row of that observer in its section gets one, as if the
  link had been created then. Observer rows listed in the seed are kept as written.

Not modelled: root-account trust (one root account here), the unique-index race that
``unique_constraint_retry`` handles, and observer rows that would fail validation
(``Cannot observe observer observing self``): those are skipped rather than raising.
"""

from __future__ import annotations

import datetime as dt

from reconcile.sim.dates import is_inactive_by_date
from reconcile.sim.model import BUILT_IN_ROLE_IDS, Enrollment, ObserverLink, User
from reconcile.sim.store import Store

RESTORABLE = frozenset({"inactive", "deleted", "completed"})
NOT_ACTIVE_OR_PENDING = frozenset({"rejected", "completed", "deleted"})
OBSERVER_ROLE_ID = BUILT_IN_ROLE_IDS["ObserverEnrollment"]


def student_saved(
    store: Store,
    student: Enrollment,
    *,
    created: bool,
    before_state: str | None = None,
    before_section: int | None = None,
) -> None:
    """Run Canvas's after-create and after-save observer callbacks for one saved row.

    ``before_state``/``before_section`` are the row's workflow_state and section before
    this save (ignored when ``created``). A no-op for anything but a StudentEnrollment, and
    cheap when the student has no links.
    """
    if student.type != "StudentEnrollment" or student.user_id not in store.links_of_student:
        return
    observers = store.linked_observers(student.user_id)
    if not observers:
        return
    if created:
        before_state, before_section = None, None
        for observer in observers:
            create_linked_enrollment_for(store, student, observer, before_section=None)
    section = before_section or student.course_section_id
    state_changed = created or before_state != student.workflow_state
    for observer in observers:
        linked = linked_enrollment_for(store, observer.id, student.user_id, section)
        if linked is not None and linked.workflow_state == "deleted" and before_state != "deleted":
            linked = None  # an observer row deleted on its own is not undeleted
        if linked is not None:
            update_from(store, linked, student)
        elif state_changed and before_state in RESTORABLE:
            create_linked_enrollment_for(store, student, observer, before_section=before_section)


def linked_enrollment_for(
    store: Store, observer_id: int, student_id: int, section_id: int
) -> Enrollment | None:
    """The observer's ObserverEnrollment for this student in this section, lowest id first."""
    found: Enrollment | None = None
    for key in store.user_index.get(observer_id, ()):
        if key[0] != "ObserverEnrollment":
            continue
        e = store.enrollments[key[2]]
        if (
            e.associated_user_id == student_id
            and e.course_section_id == section_id
            and (found is None or e.id < found.id)
        ):
            found = e
    return found


def create_linked_enrollment_for(
    store: Store, student: Enrollment, observer: User, *, before_section: int | None
) -> None:
    section = before_section or student.course_section_id
    linked = linked_enrollment_for(store, observer.id, student.user_id, section)
    now = store.now()
    if (
        linked is not None
        and linked.workflow_state != "deleted"
        and not is_inactive_by_date(store, linked, now)
    ):
        return
    course = store.courses[student.course_id]
    if not store.can_be_enrolled(observer, course):
        return
    if linked is None:
        if observer.id == student.user_id or _observes_back(store, observer.id, student):
            return  # the row would be invalid (cant_observe_self / cant_observe_observer)
        key = (
            observer.id,
            "ObserverEnrollment",
            OBSERVER_ROLE_ID,
            student.course_section_id,
            student.user_id,
        )
        if key in store.by_key:
            return  # would break the unique index; Canvas retries and finds this row instead
        linked = Enrollment(
            id=store.new_id("enrollment"),
            user_id=observer.id,
            course_id=student.course_id,
            course_section_id=student.course_section_id,
            type="ObserverEnrollment",
            role_id=OBSERVER_ROLE_ID,
            workflow_state=_mirrored_state(student),
            root_account_id=student.root_account_id,
            associated_user_id=student.user_id,
            created_at=now,
            updated_at=now,
        )
        _copy(linked, student)
        store.insert_enrollment(linked)
        return
    update_from(store, linked, student)


def update_from(
    store: Store, observer_row: Enrollment, student: Enrollment, *, now: dt.datetime | None = None
) -> None:
    """``Enrollment#update_from``: the mirrored fields of ``student`` onto ``observer_row``."""
    if (student.course_id, student.course_section_id) != (
        observer_row.course_id,
        observer_row.course_section_id,
    ):
        target = (
            observer_row.user_id,
            observer_row.type,
            observer_row.role_id,
            student.course_section_id,
            observer_row.associated_user_id,
        )
        if target in store.by_key and store.by_key[target] != observer_row.id:
            return  # Canvas's unique index would refuse the move
        store.relocate_enrollment(observer_row, student.course_id, student.course_section_id)
        changed = True
    else:
        changed = False
    changed |= _copy(observer_row, student)
    if changed:
        observer_row.updated_at = now or store.now()


def _mirrored_state(student: Enrollment) -> str:
    return "active" if student.workflow_state == "invited" else student.workflow_state


def _copy(observer_row: Enrollment, student: Enrollment) -> bool:
    before = (
        observer_row.workflow_state,
        observer_row.start_at,
        observer_row.end_at,
        observer_row.root_account_id,
        observer_row.sis_import_id,
    )
    observer_row.workflow_state = _mirrored_state(student)
    observer_row.start_at, observer_row.end_at = student.start_at, student.end_at
    observer_row.root_account_id = student.root_account_id
    if observer_row.sis_import_id is not None:
        observer_row.sis_import_id = student.sis_import_id
    after = (
        observer_row.workflow_state,
        observer_row.start_at,
        observer_row.end_at,
        observer_row.root_account_id,
        observer_row.sis_import_id,
    )
    return before != after


def _observes_back(store: Store, observer_id: int, student: Enrollment) -> bool:
    """Whether the student observes the observer in this course (``cant_observe_observer``)."""
    for key in store.user_index.get(student.user_id, ()):
        if key[0] != "ObserverEnrollment":
            continue
        e = store.enrollments[key[2]]
        if (
            e.associated_user_id == observer_id
            and e.course_id == student.course_id
            and e.workflow_state != "deleted"
        ):
            return True
    return False


def link_removed(store: Store, link: ObserverLink) -> None:
    """``remove_linked_enrollments``: every observer row of the pair is soft-deleted."""
    now = store.now()
    for key in list(store.user_index.get(link.observer_id, ())):
        if key[0] != "ObserverEnrollment":
            continue
        e = store.enrollments[key[2]]
        if e.associated_user_id == link.student_id and e.workflow_state != "deleted":
            e.workflow_state = "deleted"
            e.updated_at = now


def _linkable_rows(store: Store, student_id: int) -> list[Enrollment]:
    """The student's rows that linking covers: not rejected, completed or deleted, and valid
    (course not deleted, section active), in course order."""
    rows = []
    for key in store.user_index.get(student_id, ()):
        if key[0] != "StudentEnrollment":
            continue
        e = store.enrollments[key[2]]
        if e.workflow_state in NOT_ACTIVE_OR_PENDING:
            continue
        if (
            store.courses[e.course_id].workflow_state == "deleted"
            or store.sections[e.course_section_id].workflow_state != "active"
        ):
            continue  # enrollment.valid? fails
        rows.append(e)
    return sorted(rows, key=lambda e: (e.course_id, e.id))


def link_created(store: Store, link: ObserverLink) -> None:
    """``UserObservationLink#create_linked_enrollments``: observer rows for the student's
    enrollments that are not rejected, completed or deleted, in course order."""
    observer = store.users[link.observer_id]
    for student in _linkable_rows(store, link.student_id):
        create_linked_enrollment_for(store, student, observer, before_section=None)


def load_linked(store: Store) -> None:
    """At seed load: the observer rows linking would have made that the seed does not list.

    A row the seed lists for the pair and section is kept as written, whatever its state (an
    observer row deleted by hand after linking stays deleted). Rows made here carry the
    student row's timestamps, so a seed loads the same way on every run.
    """
    for link in sorted(store.links.values(), key=lambda lk: lk.id):
        observer = store.users[link.observer_id]
        if link.workflow_state == "deleted" or observer.workflow_state == "deleted":
            continue
        for student in _linkable_rows(store, link.student_id):
            if (
                linked_enrollment_for(store, observer.id, student.user_id, student.course_section_id)
                is not None
            ):
                continue
            before = store.next_ids["enrollment"]
            create_linked_enrollment_for(store, student, observer, before_section=None)
            made = store.enrollments.get(before)
            if made is not None:
                made.created_at, made.updated_at = student.created_at, student.updated_at
