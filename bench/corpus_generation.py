"""Generated corpora: generation time, size on disk, face detection rate, and a contact sheet.

Generates the default GRID-layout corpus and the default VoxCeleb2-layout pre-training corpus
(the sizes mini_grid uses), times each (wall clock, and as a real-time factor: seconds of media
written per second of wall time), measures their size and the share of frames in which the
front end's RetinaFace detector finds a face, and writes a contact sheet of generated frames
(several speakers, several words/mouth shapes).
Run: ``OMP_NUM_THREADS=1 python bench/corpus_generation.py [--out DIR] [--sheet PNG]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from lipsound2.synthetic.generate import generate_grid, generate_voxceleb
from lipsound2.synthetic.quality import detection_stats, read_rgb_frames


def _size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def _frames(videos: list[Path]) -> int:
    return sum(int(cv2.VideoCapture(str(v)).get(cv2.CAP_PROP_FRAME_COUNT)) for v in videos)


def contact_sheet(grid_root: Path, out: Path, columns: int = 6, tile: int = 104) -> None:
    """One row per speaker: face crops at evenly spaced moments of one utterance, each labelled
    with the word being spoken then (from the .align file)."""
    rows = []
    for spk_dir in sorted((grid_root / "alignments").iterdir(), key=lambda p: int(p.name[1:])):
        align = sorted(spk_dir.glob("*.align"))[0]
        spans = [
            (int(a) / 1000, int(b) / 1000, w)
            for a, b, w in (ln.split() for ln in align.read_text().splitlines())
        ]
        words = [s for s in spans if s[2] not in ("sil", "sp")]
        frames = read_rgb_frames(grid_root / spk_dir.name / f"{align.stem}.mpg")
        times = np.linspace(words[0][0] + 0.5, words[-1][1] - 0.5, columns)
        row = []
        for t in times:
            frame = frames[int(t)]
            label = next(w for a, b, w in spans if a <= t < b)
            h, w = frame.shape[:2]
            crop = frame[int(h * 0.12) : int(h * 0.78), int(w / 2 - h * 0.33) : int(w / 2 + h * 0.33)]
            crop = cv2.resize(crop, (tile, tile), interpolation=cv2.INTER_AREA)
            cv2.putText(
                crop,
                f"{spk_dir.name} {label}",
                (3, tile - 5),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.36,
                (255, 255, 255),
                1,
                cv2.LINE_AA,
            )
            row.append(crop)
        rows.append(np.concatenate(row, axis=1))
    sheet = np.concatenate(rows, axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=None, help="where to generate (default: a temp dir)")
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet PNG here")
    parser.add_argument("--nproc", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.out or Path(tmp)
        results = {}
        for name, make in (
            ("grid (4 speakers x 25)", lambda r: generate_grid(r, nproc=args.nproc)),
            ("voxceleb2 (12 speakers x 12)", lambda r: generate_voxceleb(r, nproc=args.nproc)),
        ):
            root = base / name.split()[0]
            start = time.time()
            clips = make(root)
            wall = time.time() - start
            videos = sorted(p for p in root.rglob("*") if p.suffix in (".mpg", ".mp4"))
            frames = _frames(videos)
            stats = detection_stats(videos)
            results[name] = (clips, wall, frames, _size_mb(root), stats)
        print(
            "| set | clips | frames | media s | wall s | real-time factor | size MB | detected | min score |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, (clips, wall, frames, size, stats) in results.items():
            detected = f"{stats.detected}/{stats.frames} ({100 * stats.rate:.2f}%)"
            print(
                f"| {name} | {clips} | {frames} | {frames / 25:.0f} | {wall:.1f} | {frames / 25 / wall:.1f}x "
                f"| {size:.1f} | {detected} | {stats.min_score:.4f} |"
            )
        if args.sheet:
            contact_sheet(base / "grid", args.sheet)
            print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()
