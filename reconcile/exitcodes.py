"""Process exit codes (DESIGN §7). Usage errors must never exit 2."""

from __future__ import annotations

OK = 0  # success / in sync
ERROR = 1  # bad input, config, auth, network
CHANGES = 2  # changes present (plan --detailed-exitcode only)
GUARD = 3  # a guard tripped
STALE = 4  # the plan no longer matches Canvas
FAILED_OPERATIONS = 5  # apply finished with failed operations
LOCKED = 6  # another apply holds the lock
