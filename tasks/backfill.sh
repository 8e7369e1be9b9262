#!/usr/bin/env bash
# Run every missed night of the last DAYS days (default 14), oldest first, with
# Luigi's RangeDaily: nights already done are skipped, a night whose raw folder is
# missing is reported as missing data (exit code 3).
#
#   tasks/backfill.sh          # the last 14 days
#   tasks/backfill.sh 30       # the last 30 days
set -uo pipefail
project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$project" || exit 5
days="${1:-14}"
log_dir="${LOG_DIR:-$project/logs}"
mkdir -p "$log_dir" || exit 5
flags=(${NEWSCLEAN_LUIGI_FLAGS:-})
if [[ " ${flags[*]} " != *" --scheduler-host "* ]]; then
    flags+=(--local-scheduler)
fi
"${NEWSCLEAN_PYTHON:-python3}" -m luigi --module pipeline.tasks RangeDaily --of CleanCorpus \
    --days-back "$days" --stop "$(date +%F)" "${flags[@]}" >>"$log_dir/backfill-$(date +%F).log" 2>&1
