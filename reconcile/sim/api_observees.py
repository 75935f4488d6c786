"""The User Observees API (canvas-lms ``app/controllers/user_observees_controller.rb``; facts
§14.1). Links are ``UserObservationLink`` rows; their effect on enrollments is in
:mod:`reconcile.sim.linked`.

- ``GET /users/:user_id/observees`` and ``GET /users/:user_id/observers``: the users an
  active link joins to ``:user_id`` (``linked_students`` / ``linked_observers``), by sortable
  name then id, numeric pages. Each row is ``user_json`` in the root account's context plus
  ``observation_link_root_account_ids``. ``GET .../observees/:observee_id`` and
  ``.../observers/:observer_id`` show one, 404 without an active link.
- ``PUT /users/:user_id/observees/:observee_id``: creates the link, or restores a deleted one
  (``create_or_restore``), and with it the observer enrollments of facts §14.1. An already
  active link is left as it is (no enrollments are touched). Needs ``manage_user_observers``
  on the root account even to link oneself (``update`` skips the self check): account admins.
  Linking a user to themself fails validation: 400
  ``{"errors": {"observer_id": [{..."message": "Cannot observe yourself"}]}}``.
- ``DELETE /users/:user_id/observees/:observee_id``: soft-deletes the link and *every*
  ObserverEnrollment of the observer associated with that student; 404 without an active
  link. The observer themself may do it; anyone else needs ``manage_user_observers``.
- The other reads need the same: the user themself (``self_or_admin_permission_check``) or an
  account admin; anyone else gets 401/403. Path users are looked up among active
  (non-deleted) users with every id form of facts §9.
- One root account here, with every user associated to it, so "common root accounts" is
  that account or (``root_account_id`` naming another account) none, answered 404.
"""

from __future__ import annotations

from typing import Any

from reconcile.sim import errors, linked
from reconcile.sim.auth import account_rights
from reconcile.sim.context import Request, Response
from reconcile.sim.model import ObserverLink, User, collation_key
from reconcile.sim.pagination import LinkBase, numeric_links, numeric_page, per_page
from reconcile.sim.params import as_list, is_blank
from reconcile.sim.render import View, user_json


def _user(req: Request, name: str) -> User:
    """``api_find(User.active, params[name])``."""
    return req.user(name)


def _self_or_admin(req: Request, user: User) -> None:
    if user.id != req.caller.user_id and not req.caller.admin:
        raise req.deny()


def _user_row(req: Request, user: User) -> dict[str, Any]:
    includes = frozenset(str(v) for v in as_list(req.params.get("include"))) & {"uuid"}
    view = View(req.base_url, req.caller, account_rights(req.store, req.caller), includes)
    body = user_json(req.store, user, view)
    body["observation_link_root_account_ids"] = [req.store.root_account_id]
    return body


def _page(req: Request, users: list[User], path: str) -> Response:
    users = sorted(users, key=lambda u: (u.collation or collation_key(u.sortable_name), u.id))
    size = per_page(req.params)
    page = numeric_page(req.params)
    chunk = users[(page - 1) * size : page * size]
    base = LinkBase(f"{req.base_url}/api/v1/users/{req.raw_path_params['user_id']}/{path}", req.query)
    body = [_user_row(req, u) for u in chunk]
    return Response(body, headers={"Link": numeric_links(base, size, page, len(users))}, items=len(body))


def list_observees(req: Request) -> Response:
    observer = _user(req, "user_id")
    _self_or_admin(req, observer)
    return _page(req, req.store.linked_students(observer.id), "observees")


def list_observers(req: Request) -> Response:
    student = _user(req, "user_id")
    _self_or_admin(req, student)
    return _page(req, req.store.linked_observers(student.id, deleted_users=True), "observers")


def _active_link(req: Request, observer: User, student: User) -> ObserverLink:
    link = req.store.link_between(observer.id, student.id)
    if link is None or link.workflow_state == "deleted":
        raise errors.not_found()
    return link


def show_observee(req: Request) -> Response:
    observer = _user(req, "user_id")
    _self_or_admin(req, observer)
    student = _user(req, "observee_id")
    _active_link(req, observer, student)
    return Response(_user_row(req, student))


def show_observer(req: Request) -> Response:
    student = _user(req, "user_id")
    _self_or_admin(req, student)
    observer = _user(req, "observer_id")
    _active_link(req, observer, student)
    return Response(_user_row(req, observer))


def _check_root_account(req: Request) -> None:
    raw = req.params.get("root_account_id")
    if is_blank(raw) or raw == "all":
        return
    account = req.store.find_account(str(raw))
    if account is None or account.id != req.store.root_account_id:
        raise errors.not_found()  # no common root account to link on


def add_observee(req: Request) -> Response:
    store = req.store
    observer = _user(req, "user_id")
    student = _user(req, "observee_id")
    _check_root_account(req)
    if not req.caller.admin:
        raise req.deny()  # manage_user_observers, even for one's own link
    if observer.id == student.id:
        raise errors.model_errors({"observer_id": [("Cannot observe yourself", "Cannot observe yourself")]})
    link = store.link_between(observer.id, student.id)
    if link is None:
        link = ObserverLink(
            id=store.new_id("link"),
            observer_id=observer.id,
            student_id=student.id,
            root_account_id=store.root_account_id,
            created_at=store.now(),
        )
        store.add_link(link)
        linked.link_created(store, link)
    elif link.workflow_state == "deleted":
        link.workflow_state = "active"
        linked.link_created(store, link)
    return Response(_user_row(req, student))


def remove_observee(req: Request) -> Response:
    store = req.store
    observer = _user(req, "user_id")
    _self_or_admin(req, observer)
    student = _user(req, "observee_id")
    link = _active_link(req, observer, student)
    link.workflow_state = "deleted"
    linked.link_removed(store, link)
    return Response(_user_row(req, student))
