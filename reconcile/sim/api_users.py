"""The Users API: ``GET /api/v1/users/:user_id`` (canvas-lms ``users_controller.rb#api_show``).

- The user is found with ``api_find(User, id)``: numeric ids and every id form of facts §9
  (``sis_user_id:``, ``sis_login_id:`` case-insensitive, ``sis_integration_id:``, ``hex:``,
  ``uuid:``, ``self``). Deleted users are found too.
- Permission is ``:api_show_user`` (``app/models/user.rb`` policy): the user themself, or an
  account admin (account-level ``read_roster`` or ``manage_user_logins``). Course-level
  rights do not grant it, so a teacher asking for a student of their own course gets the
  same 404 as for an unknown id: the action raises RecordNotFound, not an authorization
  error.
- The body is ``user_json`` in the context of the domain root account (``lib/api/v1/user.rb``):
  ``id, name, created_at, sortable_name, short_name``; ``sis_user_id`` and
  ``integration_id`` with account-level ``read_sis``; ``sis_import_id`` with ``manage_sis``;
  ``login_id`` with ``view_user_logins``; plus what ``api_show`` always includes
  (``locale``, ``permissions``, and ``effective_locale`` for oneself).
- A deleted user is rendered all the same, with status 404.
"""

from __future__ import annotations

from reconcile.sim import errors
from reconcile.sim.auth import account_rights
from reconcile.sim.context import Request, Response
from reconcile.sim.params import as_list
from reconcile.sim.render import View, user_json


def show(req: Request) -> Response:
    store = req.store
    user = store.find_user(req.path_params["user_id"], caller_id=req.caller.user_id)
    if user is None:
        raise errors.not_found()
    if user.id != req.caller.user_id and not req.caller.admin:
        raise errors.not_found()
    includes = frozenset(str(v) for v in as_list(req.params.get("include")))
    view = View(req.base_url, req.caller, account_rights(store, req.caller), includes & {"uuid"})
    body = user_json(store, user, view)
    body["locale"] = None
    body["permissions"] = {
        "can_update_name": True,
        # the simulated account has no avatar service, so avatars cannot be changed
        "can_update_avatar": False,
        "limit_parent_app_web_access": False,
    }
    if user.id == req.caller.user_id:
        body["effective_locale"] = "en"
    return Response(body, status=404 if user.workflow_state == "deleted" else 200)
