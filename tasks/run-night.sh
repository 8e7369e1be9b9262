#!/usr/bin/env bash
# Run the nightly CleanCorpus job: for yesterday, or for the date given.
#
#   tasks/run-night.sh                      # yesterday (the scraper's last complete night)
#   tasks/run-night.sh 2026-11-27           # a given night
#   tasks/run-night.sh --rerun 2026-11-27   # redo a finished night (late files)
#
# Logs to stdout and stderr (the journal, cron's mail) and to LOG_DIR/YYYY-MM-DD.log
# (default logs/ in the working folder). Exits with the night's code (README, "Exit
# codes"): 0 done or already done, 2 usage, 3 raw folder missing, 4 a task failed,
# 5 unhandled error, 6 scheduling error, 7 already running, 8 not run, 9 bad settings or
# not configured, 10 scheduler or Redis unreachable, 11 history incomplete or damaged,
# 12 newsclean not installed where this script looks, 13 night started with other settings.
# Install, configuration and Luigi flags: see tasks/common.sh.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

rerun=0
if [[ "${1:-}" == "--rerun" ]]; then
    rerun=1
    shift
fi
night="${1:-$(date -d yesterday +%F)}"
if ! [[ "$night" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || (( $# > 1 )); then
    echo "usage: $0 [--rerun] [YYYY-MM-DD]" >&2
    exit 2
fi
newsclean_setup || exit $?
log="$log_dir/$night.log"

{
    echo "=== $(date --iso-8601=seconds) CleanCorpus --date $night (rerun=$rerun) on $(hostname) with $python"
    "$python" -m pipeline late "$night" "${flags[@]}" || true
    if (( rerun )); then
        "$python" -m pipeline rerun "$night" "${flags[@]}"
    else
        "$python" -m pipeline night "$night" "${flags[@]}"
    fi
    status=$?
    echo "=== $(date --iso-8601=seconds) exit $status"
    exit "$status"
} 2>&1 | tee -a "$log"
exit "${PIPESTATUS[0]}"
