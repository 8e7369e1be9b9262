#!/usr/bin/env bash
# A normal install, as a user makes it: the wheel built from the project, installed in a
# fresh virtual environment, a night run from another folder (no source tree beside it),
# and the exit codes cron and systemd see: 0 done, 3 a missing night, 4 a failing task,
# 9 a bad setting.
set -euo pipefail
project="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python -m pip wheel --quiet --disable-pip-version-check --no-deps "$project" -w "$work/dist"
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$work"/dist/*.whl

mkdir -p "$work/elsewhere/raw"
cp -r "$project/samples/2026-11-27" "$project/samples/2026-11-28" "$work/elsewhere/raw/"
cd "$work/elsewhere"
night() {
    "$work/venv/bin/luigi" --module pipeline.tasks CleanCorpus --local-scheduler \
        --pipeline-raw-dir raw --pipeline-out-dir out --pipeline-state-dir state "$@" >"$work/log" 2>&1
}
expect() {
    local want="$1" got=0
    shift
    night "$@" || got=$?
    if [[ "$got" != "$want" ]]; then
        echo "wheel check: $* exited $got, expected $want" >&2
        tail -30 "$work/log" >&2
        exit 1
    fi
}
expect 0 --date 2026-11-27
grep -q "night 2026-11-27: 11 articles in, 9 out" "$work/log"
test -s out/2026-11-27/articles.jsonl -a -s out/2026-11-27/report.html -a -s state/history/MANIFEST.json
# The night of pages (HTML, a WARC crawl, JSONL html records): trafilatura and the
# language model from the wheel's dependencies, the model's cache in a fresh home.
HOME="$work/home" XDG_CACHE_HOME= NEWSCLEAN_CACHE_DIR= expect 0 --date 2026-11-28
grep -q "night 2026-11-28: 6 articles in, 5 out" "$work/log"
test -d "$work/home/.cache/newsclean"
expect 3 --date 2026-11-01
# The card's command without --date: last night's, whose raw folder is not there.
expect 3
grep -q "night $(date -d yesterday +%F): no raw folder" "$work/log"
# The installed command, and its help.
"$work/venv/bin/newsclean" night --help | grep -q "the night, YYYY-MM-DD (default: yesterday"
"$work/venv/bin/newsclean" late 2026-11-27 --pipeline-raw-dir raw --pipeline-out-dir out --pipeline-state-dir state >"$work/log" 2>&1
echo "a file where the output folder should be" > blocked
expect 4 --date 2026-11-27 --pipeline-out-dir blocked
expect 9 --date 2026-11-27 --pipeline-threshold 80
echo "wheel check: installed from the wheel, run from $work/elsewhere: a night of text and one of pages, the card's command without a date, newsclean; exit codes 0, 3, 4, 9 as documented"
