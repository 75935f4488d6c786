#!/usr/bin/env bash
# The last step of an SIS export job: push tonight's enrollments.csv into Canvas, safely.
#
#   CANVAS_API_URL=... CANVAS_API_TOKEN=... ./pipeline.sh enrollments.csv [reconcile.yaml]
#
# validate (offline) -> plan with --detailed-exitcode -> apply the saved plan only when there are changes
# and no guard tripped. The plan and its Markdown summary are kept next to the export for review.
set -uo pipefail

roster=${1:?usage: pipeline.sh ROSTER [CONFIG]}
config=${2:-$(dirname "$0")/reconcile.yaml}
reconcile=${RECONCILE_BIN:-reconcile}
out=${RECONCILE_OUT_DIR:-.}
plan="$out/plan.json"

"$reconcile" validate "$roster" -c "$config" || exit $?

"$reconcile" plan "$roster" -c "$config" --out "$plan" --detailed-exitcode
code=$?
case "$code" in
  0) echo "Canvas is in sync; nothing to apply."; exit 0 ;;
  2) "$reconcile" show "$plan" --output markdown > "$out/plan.md" ;;
  3) echo "A drop guard tripped: review $plan; nothing applied." >&2; exit 3 ;;
  *) exit "$code" ;;
esac

"$reconcile" apply "$plan" -c "$config" --auto-approve --verify
