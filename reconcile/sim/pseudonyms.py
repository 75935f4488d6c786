"""Which of a user's pseudonyms Canvas shows: ``SisPseudonym.for`` (canvas-lms
``app/models/sis_pseudonym.rb``), as ``lib/api/v1/user.rb`` calls it (facts §14.3).

- Candidates are the user's pseudonyms in the root account that are not deleted, sorted
  by ``SisPseudonym.collation_key``: workflow_state (so ``active`` before ``suspended``),
  pseudonyms with an SIS id first, then the login id in collation order, then position.
  With ``require_sis`` only pseudonyms with an SIS id count.
- An enrollment's ``sis_user_id`` (``enrollment_json``, type ``:trusted``): the enrollment's
  own ``sis_pseudonym`` (the login an SIS import enrolled it with) unless that pseudonym is
  deleted; otherwise the first candidate with an SIS id.
- A user object (``user_json``, type ``:implicit``, ``require_sis: false``) shows one
  pseudonym's ``sis_user_id``, ``integration_id`` and ``login_id``. In a course or section
  list, the first enrollment of the user there (not deleted) that has an ``sis_pseudonym``
  whose SIS id is set and that is not deleted decides (``find_on_enrollment_for_context``);
  otherwise, and for a user list or ``/users/:id``, the first candidate.
- Lookups by ``sis_user_id:``, ``sis_integration_id:`` and ``sis_login_id:`` go through any
  pseudonym that is not deleted (:meth:`reconcile.sim.store.Store.add_user`).
- The provisioning report's login of a row (``AccountReports::ReportHelper#loaded_pseudonym``,
  :func:`for_report`): the enrollment's own ``sis_pseudonym`` if it is among the user's
  logins the report loaded, else ``SisPseudonym.for(user, root_account, type: :trusted,
  require_sis: false)``, i.e. the first login in the order above, SIS id or not. Deleted
  logins count only with ``include_deleted``.
"""

from __future__ import annotations

from reconcile.sim.model import Enrollment, Pseudonym, collation_key
from reconcile.sim.store import Store

# (kind, id) of the list a user object is rendered in: ("course", id), ("section", id), or
# None for the root account (user lists, /users/:id).
Context = tuple[str, int] | None


def _sort_key(p: Pseudonym) -> tuple[str, int, str, int]:
    return (p.workflow_state, 0 if p.sis_user_id else 1, collation_key(p.unique_id or ""), p.position)


def pick(store: Store, user_id: int, *, require_sis: bool) -> Pseudonym | None:
    """``find_in_home_account``: the first live pseudonym in Canvas's order."""
    candidates = [
        p
        for p in store.pseudonyms.get(user_id, ())
        if p.workflow_state != "deleted" and (p.sis_user_id or not require_sis)
    ]
    return min(candidates, key=_sort_key) if candidates else None


def for_enrollment(store: Store, e: Enrollment) -> Pseudonym | None:
    """``SisPseudonym.for(user, enrollment, type: :trusted)``: the SIS login of the row."""
    logins = store.pseudonyms.get(e.user_id, ())
    if len(logins) == 1 and e.sis_pseudonym_id in (None, logins[0].id):
        return logins[0] if logins[0].sis_user_id else None  # the common case, made cheap
    own = store.pseudonym_by_id.get(e.sis_pseudonym_id) if e.sis_pseudonym_id is not None else None
    if own is not None and own.workflow_state != "deleted":
        return own
    return pick(store, e.user_id, require_sis=True)


def for_user(store: Store, user_id: int, context: Context) -> Pseudonym | None:
    """``SisPseudonym.for(user, course_or_section || root_account, type: :implicit,
    require_sis: false)``: the login a user object shows."""
    logins = store.pseudonyms.get(user_id, ())
    if len(logins) <= 1:
        # one login (never deleted: it is the user's own ids) or none: nothing to choose
        return logins[0] if logins else None
    if context is not None:
        kind, owner = context
        rows = store.user_index.get(user_id, ())
        for e in sorted((store.enrollments[k[2]] for k in rows), key=lambda row: row.id):
            in_context = e.course_id == owner if kind == "course" else e.course_section_id == owner
            if not in_context or e.workflow_state == "deleted" or e.sis_pseudonym_id is None:
                continue
            found = store.pseudonym_by_id.get(e.sis_pseudonym_id)
            if found is not None and found.sis_user_id and found.workflow_state != "deleted":
                return found
            break
    return pick(store, user_id, require_sis=False)


def for_report(
    store: Store, user_id: int, *, include_deleted: bool, sis_pseudonym_id: int | None = None
) -> Pseudonym | None:
    """``ReportHelper#loaded_pseudonym``: the login a provisioning-report row shows for a user
    (None: the user has no login the report may use, and the row is left out)."""
    every = store.pseudonyms.get(user_id, ())
    if len(every) == 1 and (include_deleted or every[0].workflow_state != "deleted"):
        return every[0]  # the common case, made cheap: one login, whatever the row says
    logins = [p for p in every if include_deleted or p.workflow_state != "deleted"]
    if sis_pseudonym_id is not None:
        for login in logins:
            if login.id == sis_pseudonym_id:
                return login
    return min(logins, key=_sort_key) if logins else None
