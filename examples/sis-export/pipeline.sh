#!/usr/bin/env bash
# The last step of an SIS export job: push tonight's enrollments.csv into Canvas, safely.
#
#   CANVAS_API_URL=... CANVAS_API_TOKEN=... ./pipeline.sh enrollments.csv [reconcile.yaml]
#
# validate (offline) -> plan with --detailed-exitcode -> apply the saved plan only when there are changes
# and no guard tripped. The plan and its Markdown summary are kept in RECONCILE_OUT_DIR (default: the
# working directory) for review, also when a guard tripped. Exits with reconcile's code (see README).
# RECONCILE_LOG=info puts each retry and throttle wait, with its reason, on stderr.
set -uo pipefail

roster=${1:?usage: pipeline.sh ROSTER [CONFIG]}
config=${2:-$(dirname "$0")/reconcile.yaml}
reconcile=${RECONCILE_BIN:-reconcile}
out=${RECONCILE_OUT_DIR:-.}
plan="$out/plan.json"

"$reconcile" validate "$roster" -c "$config" || exit $?

"$reconcile" plan "$roster" -c "$config" --out "$plan" --detailed-exitcode
code=$?
if [ "$code" -eq 2 ] || [ "$code" -eq 3 ]; then
  "$reconcile" show "$plan" --output markdown > "$out/plan.md"
fi
case "$code" in
  0) echo "Canvas is in sync; nothing to apply."; exit 0 ;;
  2) ;;
  3) echo "A drop guard tripped: review $plan (or $out/plan.md); nothing applied." >&2; exit 3 ;;
  *) exit "$code" ;;
esac

"$reconcile" apply "$plan" -c "$config" --auto-approve --verify
