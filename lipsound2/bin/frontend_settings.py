"""The front-end settings that travel with the data and the experiments.

``write`` resolves a front-end YAML (every key, defaults included) and writes it, e.g. as
``dump/<set>/frontend.yaml`` beside the data it made. ``compare`` checks a front-end YAML
against such a file, in all keys or in ``--sections`` only: section names such as ``mel`` or
dotted keys such as ``video.fps``, comma-separated, or the name of what one step reads
(``stage1``, ``stage2``, ``model``, ``vocoder``: ``SECTION_GROUPS`` of
:mod:`lipsound2.frontend.config`). Exit status 0 when they agree, 1 when they differ (the
message, naming both files and every differing key, goes to stderr), 2 on a bad argument or
an unreadable file.

    python -m lipsound2.bin.frontend_settings write --frontend_config conf/frontend.yaml \\
        --out dump/train/frontend.yaml
    python -m lipsound2.bin.frontend_settings compare --frontend_config conf/frontend.yaml \\
        --data_settings dump/train/frontend.yaml --sections stage1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lipsound2.frontend.config import (
    SECTION_GROUPS,
    SettingsMismatchError,
    check_agrees,
    load_config,
    write_settings,
)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="write the resolved settings of a front-end YAML")
    write.add_argument("--frontend_config", type=Path, required=True, help="front-end YAML")
    write.add_argument("--out", type=Path, required=True, help="the file to write, e.g. DIR/frontend.yaml")
    compare = commands.add_parser("compare", help="check a front-end YAML against the data's settings")
    compare.add_argument("--frontend_config", type=Path, required=True, help="front-end YAML")
    compare.add_argument(
        "--data_settings", type=Path, required=True, help="the frontend.yaml the data were made with"
    )
    compare.add_argument(
        "--sections",
        default=None,
        help=f"{' | '.join(SECTION_GROUPS)} | comma-separated sections or keys to compare (default: all)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    try:
        if args.command == "write":
            write_settings(load_config(args.frontend_config), args.out)
        else:
            sections = args.sections
            if sections is not None:
                sections = SECTION_GROUPS.get(sections) or [s for s in sections.split(",") if s]
            check_agrees(args.frontend_config, args.data_settings, sections)
    except SettingsMismatchError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"frontend_settings {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
