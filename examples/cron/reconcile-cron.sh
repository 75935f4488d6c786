#!/usr/bin/env bash
# Nightly Canvas enrollment sync from cron: validate -> plan -> apply within guards, with a log and alerts.
#
#   15 6 * * *  /opt/canvas-sync/reconcile-cron.sh /srv/sis/enrollments.csv
#
# Environment (put it in a file readable only by the cron user and source it here, never in the crontab):
#   CANVAS_API_URL, CANVAS_API_TOKEN   Canvas base URL and admin token
#   RECONCILE_CONFIG                   reconcile.yaml (default: alongside this script)
#   RECONCILE_LOG_DIR                  where logs and plans go (default: ./logs)
#   ALERT_COMMAND                      run with the subject as $1 and the log on stdin when something needs a human
#                                      (e.g. 'mail -s' or a webhook script); default: print to stderr, cron mails it
#
# Exit codes of reconcile (see README): 0 in sync or applied, 1 error, 2 changes (plan only),
# 3 guard tripped, 4 stale plan, 5 some operations failed, 6 another apply holds the lock.
set -uo pipefail

roster=${1:?usage: reconcile-cron.sh ROSTER...}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
config=${RECONCILE_CONFIG:-$here/reconcile.yaml}
log_dir=${RECONCILE_LOG_DIR:-$here/logs}
reconcile=${RECONCILE_BIN:-reconcile}
mkdir -p "$log_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
log="$log_dir/sync-$stamp.log"
plan="$log_dir/plan-$stamp.json"

alert() {
  local subject="canvas-reconcile: $1"
  if [ -n "${ALERT_COMMAND:-}" ]; then
    $ALERT_COMMAND "$subject" < "$log"
  else
    echo "$subject (log: $log)" >&2
  fi
}

# A second cron run while one is still going would only wait on reconcile's own lock: skip it instead.
exec 9>"$log_dir/.cron.lock"
if ! flock -n 9; then
  echo "$(date -u +%FT%TZ) previous sync still running; skipped" >> "$log_dir/skipped.log"
  exit 0
fi

{
  echo "== $(date -u +%FT%TZ) validate"
  "$reconcile" validate "$roster" "$@" -c "$config"
} >> "$log" 2>&1 || { alert "roster failed validation"; exit 1; }

echo "== $(date -u +%FT%TZ) plan" >> "$log"
"$reconcile" plan "$roster" "$@" -c "$config" --out "$plan" --detailed-exitcode >> "$log" 2>&1
code=$?
case "$code" in
  0) echo "in sync; nothing to apply" >> "$log"; exit 0 ;;
  2) ;;  # changes within guards: apply them below
  3) alert "drop guard tripped; nothing applied (review $plan, re-run with --allow-drops if intended)"; exit 3 ;;
  *) alert "plan failed (exit $code)"; exit "$code" ;;
esac

echo "== $(date -u +%FT%TZ) apply" >> "$log"
"$reconcile" apply "$plan" -c "$config" --auto-approve --verify >> "$log" 2>&1
code=$?
case "$code" in
  0) echo "applied" >> "$log" ;;
  4) alert "Canvas changed between plan and apply (stale plan); the next run re-plans" ;;
  5) alert "some operations failed; re-running resumes where it stopped" ;;
  6) alert "another apply holds the lock" ;;
  *) alert "apply failed (exit $code)" ;;
esac
exit "$code"
