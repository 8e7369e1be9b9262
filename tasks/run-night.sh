#!/usr/bin/env bash
# Run the nightly CleanCorpus job: for yesterday, or for the date given.
#
#   tasks/run-night.sh                 # yesterday (the scraper's last complete night)
#   tasks/run-night.sh 2026-11-27      # a given night
#   tasks/run-night.sh --rerun 2026-11-27   # redo a finished night (late files)
#
# Logs to logs/YYYY-MM-DD.log (LOG_DIR to change) and exits with Luigi's exit code:
# 0 done or already done, 3 raw folder missing, 4 a task failed, 5 unhandled error,
# 6 scheduling error, 7 already running, 8 not run. Extra Luigi flags can be passed in
# NEWSCLEAN_LUIGI_FLAGS (for example "--workers 2" or "--scheduler-host 10.0.0.5");
# without --scheduler-host, the local scheduler is used.
set -uo pipefail

project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$project" || exit 5

rerun=0
if [[ "${1:-}" == "--rerun" ]]; then
    rerun=1
    shift
fi
night="${1:-$(date -d yesterday +%F)}"
if ! [[ "$night" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
    echo "usage: $0 [--rerun] [YYYY-MM-DD]" >&2
    exit 5
fi

log_dir="${LOG_DIR:-$project/logs}"
mkdir -p "$log_dir" || exit 5
log="$log_dir/$night.log"
python="${NEWSCLEAN_PYTHON:-python3}"
flags=(${NEWSCLEAN_LUIGI_FLAGS:-})
if [[ " ${flags[*]} " != *" --scheduler-host "* ]]; then
    flags+=(--local-scheduler)
fi

{
    echo "=== $(date --iso-8601=seconds) CleanCorpus --date $night (rerun=$rerun) on $(hostname)"
    "$python" -m pipeline late "$night" || true
    if (( rerun )); then
        "$python" -m pipeline rerun "$night" "${flags[@]}"
    else
        "$python" -m luigi --module pipeline.tasks CleanCorpus --date "$night" "${flags[@]}"
    fi
} >>"$log" 2>&1
status=$?
echo "=== $(date --iso-8601=seconds) exit $status" >>"$log"
exit "$status"
