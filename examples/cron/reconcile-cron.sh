#!/usr/bin/env bash
# Nightly Canvas enrollment sync from cron: validate -> plan -> apply within guards, with a log and alerts.
#
#   15 6 * * *  . /etc/canvas-sync/env && /opt/canvas-sync/reconcile-cron.sh /srv/sis/enrollments.csv
#
# Install: copy this folder (this script, reconcile.yaml, env.example) to /opt/canvas-sync, edit
# reconcile.yaml for your Canvas, and put the environment in /etc/canvas-sync/env (mode 0600, see
# env.example). Cron starts it with almost no environment and from $HOME; the script needs no more than:
#   CANVAS_API_URL, CANVAS_API_TOKEN   Canvas base URL and admin token (the token only ever from here)
#   RECONCILE_BIN                      the reconcile command, when it is not on cron's PATH
#                                      (e.g. /opt/canvas-sync/venv/bin/reconcile)
#   RECONCILE_CONFIG                   reconcile.yaml (default: the one beside this script)
#   RECONCILE_LOG_DIR                  where logs and plans go (default: logs/ beside this script)
#   RECONCILE_LOG                      log level in the run log: info (default: each retry and throttle
#                                      wait with its reason) or debug (every request)
#   ALERT_COMMAND                      run with the subject as $1 and the run log on stdin when something
#                                      needs a human (e.g. 'mail -s' or a webhook script);
#                                      default: print to stderr, which cron mails to the crontab's owner
#
# The journal and lock live in the config's state_dir (.reconcile/ beside reconcile.yaml), whatever
# the working directory. Exit codes of reconcile (see README): 0 in sync or applied, 1 error,
# 2 changes (plan only), 3 guard tripped, 4 stale plan, 5 some operations failed, 6 another apply
# holds the lock. This script exits with the code of the step that stopped it.
set -uo pipefail

roster=${1:?usage: reconcile-cron.sh ROSTER...}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
config=${RECONCILE_CONFIG:-$here/reconcile.yaml}
log_dir=${RECONCILE_LOG_DIR:-$here/logs}
reconcile=${RECONCILE_BIN:-reconcile}
export RECONCILE_LOG=${RECONCILE_LOG:-info}
mkdir -p "$log_dir" || exit 1
stamp=$(date -u +%Y%m%dT%H%M%SZ)
log="$log_dir/sync-$stamp.log"
plan="$log_dir/plan-$stamp.json"
step_out="$log_dir/.step-$stamp.out"
trap 'rm -f "$step_out"' EXIT
: > "$log"

alert() {  # alert SUBJECT: a human is needed; the run log goes along
  local subject="canvas-reconcile: $1"
  echo "== $(date -u +%FT%TZ) ALERT: $subject" >> "$log"
  if [ -n "${ALERT_COMMAND:-}" ]; then
    $ALERT_COMMAND "$subject" < "$log"
  else
    echo "$subject (log: $log)" >&2
  fi
}

run_step() {  # run_step NAME COMMAND...: run it, append its output to the log, return its exit code
  local name=$1
  shift
  echo "== $(date -u +%FT%TZ) $name: ${*@Q}" >> "$log"
  "$@" > "$step_out" 2>&1
  local code=$?
  cat "$step_out" >> "$log"
  return "$code"
}

cause() {  # the reason a step gave, in one line: its "Error: ..." line, else its last line
  local reason
  reason=$(grep -m1 '^Error: ' "$step_out" | cut -c8- | cut -c1-300)
  [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$step_out" | grep -v ' INFO \| DEBUG ' | tail -n 1 | cut -c1-300)
  echo "${reason:-no output; see the log}"
}

failed() {  # what apply said about its failed operations, in one line
  grep -m1 -A1 -E '^(Failed|Verify): ' "$step_out" | sed 's/^ *//' | tr '\n' ' ' | cut -c1-300
}

# Problems that are not the roster's: say so, instead of blaming the export.
if [ ! -f "$config" ]; then
  echo "config $config not found" >> "$log"
  alert "config $config not found: put reconcile.yaml beside this script or set RECONCILE_CONFIG"
  exit 1
fi
if ! command -v "$reconcile" > /dev/null 2>&1; then
  alert "cannot run '$reconcile': set RECONCILE_BIN to the reconcile command (e.g. a venv's bin/reconcile)"
  exit 1
fi
if [ -z "${CANVAS_API_TOKEN:-}" ]; then
  alert "CANVAS_API_TOKEN is not set: source the env file in the crontab line (see env.example)"
  exit 1
fi

# A second cron run while one is still going would only wait on reconcile's own lock: skip it instead.
exec 9> "$log_dir/.cron.lock"
if ! flock -n 9; then
  echo "$(date -u +%FT%TZ) previous sync still running; skipped" >> "$log_dir/skipped.log"
  rm -f "$log"
  exit 0
fi

if [ ! -e "$roster" ]; then
  alert "roster $roster not found: did tonight's SIS export run?"
  exit 1
fi

run_step validate "$reconcile" validate "$roster" "$@" -c "$config"
code=$?
if [ "$code" -ne 0 ]; then
  if grep -q '^invalid: ' "$step_out"; then
    first=$(grep -m1 -E '^[^ ].*:[0-9]+: ' "$step_out" | cut -c1-200)
    alert "roster failed validation ($(grep -m1 '^invalid: ' "$step_out" | cut -c10-); first: $first); nothing sent to Canvas"
  else
    alert "validate failed (exit $code): $(cause)"
  fi
  exit "$code"
fi

run_step plan "$reconcile" plan "$roster" "$@" -c "$config" --out "$plan" --detailed-exitcode
code=$?
case "$code" in
  0) echo "in sync; nothing to apply" >> "$log"; exit 0 ;;
  2) ;;  # changes within guards: apply them below
  3) alert "drop guard tripped; nothing applied (review $plan, re-run with --allow-drops if intended)"; exit 3 ;;
  *) alert "plan failed (exit $code): $(cause)"; exit "$code" ;;
esac

run_step apply "$reconcile" apply "$plan" -c "$config" --auto-approve --verify
code=$?
case "$code" in
  0) echo "applied" >> "$log" ;;
  4) alert "Canvas changed between plan and apply (stale plan); the next run re-plans" ;;
  5) alert "some operations failed; the next run resumes where this one stopped: $(failed)" ;;
  6) alert "another apply holds the lock: $(cause)" ;;
  *) alert "apply failed (exit $code): $(cause)" ;;
esac
exit "$code"
