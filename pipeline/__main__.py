"""Command-line tools around the nightly job: ``python -m pipeline <command>``.

    python -m pipeline night [DATE] [FLAGS]               run a night (yesterday by default)
    python -m pipeline late DATE [FLAGS]                  files that arrived after the night ran
    python -m pipeline rerun DATE [--and-later] [FLAGS]   redo a finished night (and the nights after it)
    python -m pipeline backfill [--days N | --from DATE --to DATE] [FLAGS]
                                                          every night of a range that is not done
    python -m pipeline history verify [--quick] [FLAGS]   check the whole history
    python -m pipeline history rebuild [FLAGS]            repair it from the night folders and out_dir
    python -m pipeline inspect NIGHT_DIR ...              look at a night's outputs (see inspect --help)

FLAGS are Luigi's, as for ``luigi --module pipeline.tasks CleanCorpus``: the settings
(``--pipeline-out-dir ...``), ``--workers N``, ``--local-scheduler`` or
``--scheduler-host HOST``. Every command reads its settings as the night does and
exits with a code of the README's table (``pipeline.operate.exits``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from pipeline.operate.exits import Exit, Refused
from pipeline.text import printable


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a night YYYY-MM-DD: {text!r}") from error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.split("\n\n")[0],
                                     epilog="Other flags go to Luigi.")
    commands = parser.add_subparsers(dest="command", required=True)
    night = commands.add_parser("night", help="run a night, as `luigi ... CleanCorpus --date DATE` does; done is "
                                              "exit 0 also when other clients on the scheduler ran its last tasks")
    night.add_argument("date", type=_date, nargs="?", default=dt.date.today() - dt.timedelta(days=1))
    late = commands.add_parser("late", help="list raw files that arrived after the night ran (exit 1 if any)")
    late.add_argument("date", type=_date)
    rerun = commands.add_parser("rerun", help="redo a finished night; its previous outputs are kept aside")
    rerun.add_argument("date", type=_date)
    rerun.add_argument("--and-later", action="store_true",
                       help="then rerun, in order, the later nights whose dedup compared with it")
    backfill = commands.add_parser("backfill", help="run every night of a range that is not done, oldest first")
    backfill.add_argument("--days", type=int, default=14, help="the last DAYS nights up to --to (default 14)")
    backfill.add_argument("--from", dest="first", type=_date, help="first night (instead of --days)")
    backfill.add_argument("--to", dest="last", type=_date, help="last night (default: yesterday)")
    history = commands.add_parser("history", help="check or repair the history of kept articles")
    history.add_argument("action", choices=("verify", "rebuild"))
    history.add_argument("--quick", action="store_true",
                         help="verify: trust files unchanged since their last check (as a night does)")
    commands.add_parser("inspect", help="look at a night's outputs (see: inspect --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["inspect"]:
        from pipeline.report.inspector import main as inspect_main

        return inspect_main(argv[1:])
    args, flags = _parser().parse_known_args(argv)
    from pipeline.operate import commands  # imports Luigi and the tasks (their settings)

    if args.command in ("night", "rerun", "backfill"):  # the commands that run nights
        flags, scheduler = commands.with_scheduler(flags)
        print(f"newsclean: {args.command} with {scheduler}", file=sys.stderr, flush=True)
    try:
        with commands.night_settings(flags):
            return int(_run(args, commands))
    except Refused as refused:  # already said on stderr
        return int(refused.exit)


def _run(args: argparse.Namespace, commands) -> Exit | int:
    from pipeline.operate import checks

    if args.command == "night":
        return commands.run_nights([args.date])
    if args.command == "late":
        checks.settings_sound()
        late, note = commands.late_files(args.date)
        if note:
            print(note)
            return Exit.DONE
        for name, how in late:
            print(f"late: {printable(name)} ({how}; `python -m pipeline rerun {args.date}` to read the night again)")
        return 1 if late else Exit.DONE
    if args.command == "rerun":
        code, done = commands.rerun(args.date, args.and_later)
        for night, previous in done.moved.items():
            print(f"night {night}: previous outputs kept in {previous}")
        if done.stale:
            print(f"later nights whose duplicates depended on {args.date} and are now out of date: "
                  f"{', '.join(done.stale)}; rerun them in order: python -m pipeline rerun {done.stale[0]} --and-later")
        elif done.dependents and not args.and_later:
            print(f"later nights that compared with {args.date} ({', '.join(done.dependents)}) are unaffected: "
                  "it was committed again unchanged")
        if code != Exit.DONE:
            print(f"the rerun did not finish (exit {int(code)}): see the log; the previous outputs stay where "
                  "listed above")
        return code
    if args.command == "backfill":
        last = args.last or dt.date.today() - dt.timedelta(days=1)
        first = args.first or last - dt.timedelta(days=max(args.days, 1) - 1)
        checks.settings_sound()
        plan = commands.plan_backfill(first, last)
        print(f"backfill {first}..{last}: {len(plan.done)} done, {len(plan.to_run)} to run, "
              f"{len(plan.missing)} without a raw folder"
              + (f" ({', '.join(d.isoformat() for d in plan.missing)})" if plan.missing else ""))
        code = commands.backfill(plan)
        print(f"backfill {first}..{last}: exit {int(code)}")
        return code
    checks.settings_sound()
    if args.action == "verify":
        problems, warnings, summary = commands.verify_history(full=not args.quick)
        for line in problems:
            print(f"problem: {line}")
        for line in warnings:
            print(f"warning: {line}")
        print(f"history: {summary}: " + (f"{len(problems)} problem(s)" if problems else "sound"))
        return Exit.HISTORY if problems else Exit.DONE
    done, problems = commands.rebuild_history()
    for line in done:
        print(line)
    for line in problems:
        print(f"cannot repair: {line}")
    return Exit.HISTORY if problems else Exit.DONE


if __name__ == "__main__":
    sys.exit(main())
