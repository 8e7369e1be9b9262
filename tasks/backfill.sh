#!/usr/bin/env bash
# Run every night of the last DAYS days (default 14, up to yesterday) that is not done,
# oldest first: each night's dedup waits for the earlier nights it compares with. Nights
# without a raw folder are listed and skipped (gaps).
#
#   tasks/backfill.sh          # the last 14 days
#   tasks/backfill.sh 30       # the last 30 days
#
# Exit codes as tasks/run-night.sh; 0 every night of the range is done, 3 the nights
# that have raw data are done but some nights have none (listed), 4 a night failed.
# Logs to stdout and stderr and to LOG_DIR/backfill-YYYY-MM-DD.log.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

days="${1:-14}"
if ! [[ "$days" =~ ^[1-9][0-9]*$ ]] || (( $# > 1 )); then
    echo "usage: $0 [DAYS]" >&2
    exit 2
fi
newsclean_setup || exit $?
log="$log_dir/backfill-$(date +%F).log"

{
    echo "=== $(date --iso-8601=seconds) backfill of $days days on $(hostname) with $python"
    "$python" -m pipeline backfill --days "$days" "${flags[@]}"
    status=$?
    echo "=== $(date --iso-8601=seconds) exit $status"
    exit "$status"
} 2>&1 | tee -a "$log"
exit "${PIPESTATUS[0]}"
