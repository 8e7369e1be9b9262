"""The commands around the nightly job: ``newsclean COMMAND`` (the installed command), or
``python -m pipeline COMMAND``; ``--help`` on each says what it takes.

    night [DATE]                     run a night (yesterday by default)
    late DATE                        raw files that changed since the night ran
    rerun DATE [--and-later]         redo a finished night (and the nights after it)
    backfill [--days N | --from DATE --to DATE]
                                     every night of a range that is not done
    history verify [--quick]         check the whole history
    history rebuild                  repair it from the night folders and out_dir
    inspect NIGHT_DIR ...            look at a night's outputs

Besides their own arguments the commands take Luigi's flags, as ``luigi --module
pipeline.tasks CleanCorpus`` does: the settings (``--pipeline-out-dir ...``), ``--workers
N``, ``--scheduler-host HOST`` (the local scheduler otherwise, unless ``[core]`` names
one). Every command reads its settings as the night does and exits with a code of the
README's table (``pipeline.operate.exits``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from pipeline.operate.exits import Exit, Refused
from pipeline.text import printable


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a night YYYY-MM-DD: {text!r}") from error


# What the nights' commands take besides their own arguments: Luigi's flags.
FLAGS_HELP = """\
Luigi's flags, as `luigi --module pipeline.tasks CleanCorpus` takes them:
  --local-scheduler        run without luigid (the default, unless [core] names a
                           scheduler in luigi.cfg or --scheduler-host is given)
  --scheduler-host HOST    use the central scheduler (luigid) on HOST
  --workers N              run N tasks at a time
  --log-level LEVEL        INFO by default; DEBUG shows everything
and every [pipeline] setting of luigi.cfg as a flag:
{settings}
Settings come from the shipped defaults, then luigi.cfg in the working folder (or the
file LUIGI_CONFIG_PATH names), then these flags."""


def _settings_help() -> str:
    from pipeline.settings import (  # imports Luigi: only when help is asked for
        SECTION,
        Settings,
        shipped_value,
    )

    rows = []
    for name, parameter in Settings.get_params():
        flag = f"--pipeline-{name.replace('_', '-')} VALUE"
        default = shipped_value(name) or "empty"
        rows.append(f"  {flag:<37}{parameter.description} (default: {default})")
    return "\n".join(rows) + f"\n(in luigi.cfg: [{SECTION}] name = value, e.g. raw_dir = /data/scrapes)"


class _FlagsHelp(argparse.RawDescriptionHelpFormatter):
    """Help whose epilog lists Luigi's flags and the settings (worked out when shown)."""

    def format_help(self) -> str:
        return super().format_help().replace("{settings}", _settings_help())


def _program() -> str:
    """How the user called us: the installed ``newsclean`` command, or the module."""
    return "newsclean" if os.path.basename(sys.argv[0]) == "newsclean" else "python -m pipeline"


def _parser() -> argparse.ArgumentParser:
    program = _program()
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    parser = argparse.ArgumentParser(
        prog=program, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="newsclean: the nightly pipeline from raw scraped news to clean, unique articles, and the "
                    "commands around it.\n(Installed as the `newsclean` command; `python -m pipeline` is the same.)",
        epilog=f"Each command's own help: {program} COMMAND --help. Exit codes: 0 done, 1 late files, 2 usage, "
               "3 no raw folder, 4 a task failed, 9 bad settings, 10 scheduler or Redis unreachable, 11 history "
               "damaged, 13 started with other settings (the README's table).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str = "") -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=(description or summary) + ".",
                                   epilog=FLAGS_HELP, formatter_class=_FlagsHelp)

    night = command("night", "run a night: read, repair, clean, deduplicate, write",
                    "Run a night, as `luigi --module pipeline.tasks CleanCorpus --date DATE` does: the raw "
                    "folder RAW_DIR/DATE becomes OUT_DIR/DATE; a night already done is left as it is")
    night.add_argument("date", type=_date, nargs="?", default=dt.date.fromisoformat(yesterday), metavar="DATE",
                       help=f"the night, YYYY-MM-DD (default: yesterday, {yesterday})")
    late = command("late", "list raw files that changed since the night ran (exit 1 if any)",
                   "List the raw files of a finished night that are new, changed or gone since it ran "
                   "(exit 1 if any; `rerun DATE` reads the night again)")
    late.add_argument("date", type=_date, metavar="DATE", help="the night, YYYY-MM-DD")
    rerun = command("rerun", "redo a finished night; its previous outputs are kept aside",
                    "Redo a night: its outputs are moved to OUT_DIR/.DATE.previous, then it runs again and "
                    "replaces its entries in the history")
    rerun.add_argument("date", type=_date, metavar="DATE", help="the night, YYYY-MM-DD")
    rerun.add_argument("--and-later", action="store_true",
                       help="then rerun, in order, the later nights whose dedup compared with it")
    backfill = command("backfill", "run every night of a range that is not done, oldest first",
                       "Run every night of a range that is not done, in one Luigi build; nights without a raw "
                       "folder are listed and skipped (exit 3)")
    backfill.add_argument("--days", type=int, default=14, help="the last DAYS nights up to --to (default 14)")
    backfill.add_argument("--from", dest="first", type=_date, metavar="DATE", help="first night (instead of --days)")
    backfill.add_argument("--to", dest="last", type=_date, metavar="DATE", help="last night (default: yesterday)")
    history = commands.add_parser("history", help="check (verify) or repair (rebuild) the history of kept articles",
                                  description="The history of kept articles that later nights compare with.")
    actions = history.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="check every night of the history (exit 11 on a problem)",
                                description="Check the whole history: every file's checksum, each night's "
                                            "arrays, the site-line counts, the Redis index, out_dir's finished "
                                            "nights listed; problems exit 11, stale nights are warnings.",
                                epilog=FLAGS_HELP, formatter_class=_FlagsHelp)
    verify.add_argument("--quick", action="store_true",
                        help="trust files unchanged since their last check (as a night does)")
    actions.add_parser("rebuild", help="make the history whole again from the night folders and out_dir",
                       description="Make the history whole again: damaged or missing nights from their stage files "
                                   "or articles.jsonl, the site-line counts, the manifest, the Redis index.",
                       epilog=FLAGS_HELP, formatter_class=_FlagsHelp)
    commands.add_parser("inspect", help="look at a night's outputs (see: inspect --help)", add_help=False)
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
              + (f" ({', '.join(d.isoformat() for d in plan.missing)})" if plan.missing else ""),
              flush=True)  # before Luigi's log, under tee too
        code = commands.backfill(plan)
        print(f"backfill {first}..{last}: exit {int(code)}")
        return code
    from pipeline.operate import history

    checks.settings_sound()
    if args.action == "verify":
        problems, warnings, summary = history.verify_history(full=not args.quick)
        for line in problems:
            print(f"problem: {line}")
        for line in warnings:
            print(f"warning: {line}")
        print(f"history: {summary}: " + (f"{len(problems)} problem(s)" if problems else "sound"))
        return Exit.HISTORY if problems else Exit.DONE
    done, problems = history.rebuild_history()
    for line in done:
        print(line)
    for line in problems:
        print(f"cannot repair: {line}")
    return Exit.HISTORY if problems else Exit.DONE


if __name__ == "__main__":
    sys.exit(main())
