"""Command-line tools around the nightly job: ``python -m pipeline <command>``.

    python -m pipeline late DATE            files that arrived after the night ran
    python -m pipeline rerun DATE [FLAGS]   redo a finished night (its outputs are replaced)
    python -m pipeline inspect NIGHT_DIR    look at a night's outputs (see inspect --help)
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys

import luigi
import luigi.retcodes

from pipeline.jsonl import read_json


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text}") from error


def late_files(date: dt.date) -> tuple[list[str], str | None]:
    """Raw files of a finished night that its run did not read (new or changed since)."""
    from pipeline.readers import list_night
    from pipeline.settings import night_paths

    paths = night_paths(date)
    report = paths.out / "report.json"
    if not report.exists():
        return [], f"{date} has not run yet (no {report})"
    read = {entry["file"]: entry["bytes"] for entry in read_json(report).get("inputs", [])}
    files, _ = list_night(paths.raw) if paths.raw.is_dir() else ([], [])
    return [f for f in files if read.get(f) != (paths.raw / f).stat().st_size], None


def cmd_late(args: argparse.Namespace) -> int:
    late, note = late_files(args.date)
    if note:
        print(note)
        return 0
    for name in late:
        print(f"late: {name} (not in the night's run; `python -m pipeline rerun {args.date}` to include it)")
    return 1 if late else 0


def cmd_rerun(args: argparse.Namespace, luigi_flags: list[str]) -> int:
    """Move the night's outputs aside, run the night again, drop the old outputs on success."""
    from pipeline.settings import night_paths

    out = night_paths(args.date).out
    previous = out.with_name(f".{out.name}.previous")
    if out.exists():
        shutil.rmtree(previous, ignore_errors=True)
        out.rename(previous)
        print(f"moved {out} to {previous}")
    argv = ["--module", "pipeline.tasks", "CleanCorpus", "--date", args.date.isoformat(), *luigi_flags]
    try:
        luigi.retcodes.run_with_retcodes(argv)
    except SystemExit as exit_:
        code = exit_.code or 0
    else:
        code = 0
    if code == 0:
        shutil.rmtree(previous, ignore_errors=True)
    elif previous.exists():
        print(f"the rerun failed (exit {code}); the previous outputs are kept in {previous}")
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["inspect"]:
        from pipeline.inspector import main as inspect_main

        return inspect_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    late = commands.add_parser("late", help="list raw files that arrived after the night ran")
    late.add_argument("date", type=_date)
    rerun = commands.add_parser("rerun", help="redo a finished night; other flags go to luigi")
    rerun.add_argument("date", type=_date)
    commands.add_parser("inspect", help="look at a night's outputs")
    args, rest = parser.parse_known_args(argv)
    import pipeline.tasks  # noqa: F401  (loads config/luigi.cfg and the [pipeline] settings)

    if rest:
        luigi.configuration.get_config()  # flags such as --pipeline-out-dir apply through luigi
    if args.command == "late":
        with luigi.cmdline_parser.CmdlineParser.global_instance(["pipeline", *rest] if rest else ["pipeline"]):
            return cmd_late(args)
    return cmd_rerun(args, rest)


if __name__ == "__main__":
    sys.exit(main())
