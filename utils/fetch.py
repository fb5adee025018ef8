"""Fetch the course's data files: ``python -m utils.fetch [ASSIGNMENT]``.

Downloads (or copies from the mirror named by ``CNN_COURSE_MIRROR``) and verifies every file of
``utils/registry.csv`` that the assignment needs (all assignments when none is named), and
says which datasets are missing and why. Exit status 1 when any file is missing.
"""

from __future__ import annotations

import argparse
import sys

from utils import data


def report(missing: list[data.MissingData]) -> str:
    """The missing datasets, one line each (files, assignments, why), then how to provide them."""
    lines = []
    for gap in missing:
        shown = ", ".join(gap.paths[:2]) + (f" and {len(gap.paths) - 2} more"
                                             if len(gap.paths) > 2 else "")
        lines.append(f"  - {gap.dataset}, needed by {', '.join(gap.assignments)}: "
                     f"{len(gap.paths)} file(s) ({shown}); {gap.reason}")
    lines.append(f"Provide them with `{data.FETCH_COMMAND}` (it downloads them), or set "
                 f"{data.MIRROR_ENV} to a folder that mirrors the course data (same layout).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.fetch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", nargs="?", help="only this assignment's files")
    args = parser.parse_args(argv)
    entries = data.entries_for(args.assignment)
    print(f"Fetching {len(entries)} files{' for ' + args.assignment if args.assignment else ''} "
          f"into {data.course_home()}")
    missing = data.check_available(entries)
    count = sum(len(gap.paths) for gap in missing)
    print(f"{len(entries) - count} files ready, {count} missing")
    if missing:
        print(report(missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
