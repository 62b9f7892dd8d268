"""Done markers of the stage scripts: is a step done with these settings and inputs?

``check`` exits 0 when ``DIR/.done.NAME`` holds the key the options describe (the step is
skipped) and 10 when the step must run (any other status is an error): new, resumed after
an interruption with the same key, or redone because something changed, which it reports
(removing the ``--stale`` outputs first). ``mark`` records the key once the step finished.
``verify`` is for a later step that reads this one's output: it touches nothing, exits 0 when
the step finished, warning when under another key than the options give now (listing what
changed) or when it left no marker at all (an output put there by hand), and 11 naming the
step when it started and never finished. ``refresh`` records the key's tables as they are now
in a finished step's marker, for a later step that narrowed them in place.
Both take the same key options; see :mod:`lipsound2.recipe.marker`. A log line says which::

    python -m lipsound2.bin.step check --stage 1 --what "dump/train" --dir dump/train \\
        --name stage1 --conf frontend=conf/frontend.yaml --sections frontend=stage1 \\
        --table data/train/video.scp --stale dump/train/data
"""

from __future__ import annotations

import argparse
import sys
import time

from lipsound2.frontend.config import SECTION_GROUPS
from lipsound2.recipe.marker import StepKey, Verdict, check, compare, mark, refresh

#: The exit status of ``check`` for a step that must run (an uncaught error exits 1).
MUST_RUN = 10
#: The exit status of ``verify`` for a step that never finished.
NOT_FINISHED = 11


def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{what} takes NAME=VALUE, got {text!r}")
    return name, value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("check", "mark", "verify", "refresh"))
    p.add_argument("--dir", required=True, help="the folder of the marker")
    p.add_argument("--name", required=True, help="the marker is DIR/.done.NAME")
    p.add_argument("--stage", default="", help="stage number, for the log line")
    p.add_argument("--what", default="", help="what the step makes, for the log line (default: DIR)")
    key = p.add_argument_group("the key")
    key.add_argument(
        "--conf", action="append", default=[], metavar="ROLE=FILE", help="a YAML config, by content"
    )
    key.add_argument(
        "--sections",
        action="append",
        default=[],
        metavar="ROLE=KEYS",
        help="only these top-level keys of ROLE: KEY,KEY or " + " or ".join(SECTION_GROUPS),
    )
    key.add_argument(
        "--opt", action="append", default=[], metavar="NAME=VALUE", help="an option that matters"
    )
    key.add_argument(
        "--quote", action="append", default=[], metavar="ROLE=FILE", help="a config that may be missing"
    )
    key.add_argument("--table", action="append", default=[], help="a Kaldi table and the files it lists")
    key.add_argument(
        "--corpus", action="append", default=[], help="a table of corpus files: also their folders' listings"
    )
    key.add_argument("--file", action="append", default=[], help="a file (model, script): size and mtime")
    key.add_argument("--tree", action="append", default=[], help="every file under a folder")
    p.add_argument(
        "--stale", action="append", default=[], help="check: outputs (globs) removed before a redo"
    )
    p.add_argument("--keep", action="append", default=[], help="check: globs --stale must not remove")
    return p


def _key(args: argparse.Namespace) -> StepKey:
    sections = {}
    for text in args.sections:
        role, value = _pair(text, "--sections")
        group = SECTION_GROUPS.get(value)
        sections[role] = list(group) if group else [s for s in value.split(",") if s]
    confs = []
    for text in args.conf:
        role, path = _pair(text, "--conf")
        confs.append((role, path, sections.get(role)))
    opts = [_pair(text, "--opt") for text in args.opt]
    quotes = [_pair(text, "--quote") for text in args.quote]
    return StepKey(confs, quotes, opts, args.table, args.corpus, args.file, args.tree)


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} (step) {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        key = _key(args).build()
    except (OSError, ValueError) as exc:
        _log(f"Error: {exc}")
        return 2  # anything but 0 and MUST_RUN stops the stage script
    if args.action == "mark":
        mark(args.dir, args.name, key)
        return 0
    if args.action == "refresh":
        refresh(args.dir, args.name, key)
        return 0
    head = f"Stage {args.stage}: " if args.stage else ""
    what = args.what or args.dir
    if args.action == "verify":
        return _verify(compare(args.dir, args.name, key), head, what)
    verdict = check(args.dir, args.name, key, args.stale, args.keep)
    if verdict.state == "done":
        _log(f"{head}{what}: done")
        return 0
    if verdict.state == "resume":
        _log(f"{head}{what}: resuming (an earlier run with the same settings and inputs stopped)")
    elif verdict.state == "new":
        _log(f"{head}{what}: new")
    else:
        _log(f"{head}{what}: redo, since")
        for line in verdict.changes:
            _log(f"    {line}")
        if verdict.removed:
            _log(f"    removed stale: {' '.join(verdict.removed)}")
    return MUST_RUN


def _verify(verdict: Verdict, head: str, what: str) -> int:
    if verdict.state == "done":
        return 0
    if verdict.state == "redo":
        _log(f"{head}WARNING: {what} was made under other settings or inputs than the options give now:")
        for line in verdict.changes:
            _log(f"    {line}")
        _log("    it is used as it is; run its stage again to make it under the new ones")
        return 0
    if verdict.state == "new":  # no marker at all: a model put there by hand
        _log(f"{head}WARNING: {what}: no record that it ran here; used as it is")
        return 0
    _log(f"{head}Error: {what} did not finish: an earlier run of it stopped")
    return NOT_FINISHED


if __name__ == "__main__":
    sys.exit(main())
