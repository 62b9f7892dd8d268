"""Prepare Kaldi data directories of a corpus with the paper's splits (stage 0 of the recipes).

Sub-commands, one per corpus:
  grid       speech reconstruction: speaker-dependent (sd: s1-s4, random 90:5:5 within each
             speaker) or speaker-independent (si: disjoint train / dev / test speakers);
             lip reading (LipNet's protocols): overlapped (a published list of 255 test
             sentences per speaker) or unseen (speakers s1, s2, s20 and s22 test)
  voxceleb2  pre-training on dev and test together, a share of the speakers held out (valid)
  tcd_timit  sd: lipspeakers 1-3, random 90:5:5; si: volunteers, Harte and Gillen's 39 training
             and 17 test volunteers; overlapped: a published list of 31 test sentences of each
             of the 56 volunteers (lip reading)
  cmlr       sd: the corpus' own train/val/test lists; si: test speakers s1 and s6
  librispeech  audio only (audio pre-training): one set per subset, librispeech_<subset>
             with "-" as "_" (train-clean-100 -> librispeech_train_clean_100)

Writes <datadir>/<set>/{video.scp,utt2spk,spk2utt,text[,wav.scp]} (LibriSpeech: no video.scp);
see each recipe's README for the sources of the splits.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from lipsound2.corpus import readers
from lipsound2.corpus.datadir import (
    Entry,
    by_speakers,
    speaker_dependent,
    split_shares,
    utt_id,
    write_datadir,
)

log = logging.getLogger("prepare_corpus")

# TCD-TIMIT volunteers held out for testing in Harte and Gillen (2015)'s speaker-independent
# protocol (17 of 56 volunteers; the other 39 train).
TCD_TIMIT_SI_TEST = (
    "08F",
    "09F",
    "15F",
    "18M",
    "25M",
    "28M",
    "33F",
    "34M",
    "36F",
    "41M",
    "44F",
    "45F",
    "49F",
    "54M",
    "55F",
    "56M",
    "58F",
)
# Volunteers that Harte and Gillen leave out of their protocols (not Irish-accented speakers).
TCD_TIMIT_EXCLUDED = ("27M", "35M", "53M")
# LipNet's unseen-speaker protocol: two male and two female GRID speakers test.
GRID_UNSEEN_TEST = ("s1", "s2", "s20", "s22")
CMLR_SI_TEST = ("s1", "s6")


def _write_sets(datadir: Path, sets: dict[str, list[Entry]]) -> None:
    for name, entries in sets.items():
        write_datadir(datadir / name, entries)
        speakers = len({e.speaker for e in entries})
        log.info("%s: %d utterances, %d speakers", datadir / name, len(entries), speakers)


def si_speakers(
    speakers: list[str], dev: list[str] | None, test: list[str] | None
) -> tuple[list[str], list[str], list[str]]:
    """Train/dev/test speakers. Unless given, the last ~10/33 of the speakers (numeric order) test
    and the ~8/33 before them validate, the proportions of a 15/8/10 split of GRID's 33 talkers."""
    n = len(speakers)
    if test is None:
        n_test = max(1, round(n * 10 / 33))
        test = speakers[n - n_test :]
    if dev is None:
        rest = [s for s in speakers if s not in test]
        n_dev = max(1, round(n * 8 / 33))
        dev = rest[len(rest) - n_dev :]
    train = [s for s in speakers if s not in set(test) | set(dev)]
    if not train or not dev or not test:
        raise ValueError(f"speaker-independent split needs 3+ speakers, got {speakers}")
    return train, dev, test


def prepare_grid(args: argparse.Namespace) -> dict[str, list[Entry]]:
    root = Path(args.grid_root)
    if args.protocol == "sd":
        speakers = _words(args.speakers) or ["s1", "s2", "s3", "s4"]
        entries = readers.read_grid(root, speakers)
        parts = speaker_dependent(entries, (args.dev_share, args.test_share), args.seed)
    elif args.protocol == "si":
        speakers = _words(args.speakers) or readers.grid_speakers(root)
        entries = readers.read_grid(root, speakers)
        present = [s for s in speakers if any(e.speaker == s for e in entries)]
        split = si_speakers(present, _words(args.si_dev_speakers), _words(args.si_test_speakers))
        log.info("speaker-independent split: train %s | dev %s | test %s", *(" ".join(s) for s in split))
        parts = {name: by_speakers(entries, spk) for name, spk in zip(("train", "dev", "test"), split)}
    else:
        entries = readers.read_grid(root, _words(args.speakers) or readers.grid_speakers(root))
        if args.protocol == "unseen":
            test_speakers = set(_words(args.si_test_speakers) or GRID_UNSEEN_TEST)
            parts = _held_out_speakers(entries, test_speakers, args)
        else:
            parts = _held_out_list(entries, _test_list(args), args)
    return {f"{name}_{args.protocol}": part for name, part in parts.items()}


def prepare_voxceleb2(args: argparse.Namespace) -> dict[str, list[Entry]]:
    """The paper pre-trains on all of VoxCeleb2 (dev and test: 6,112 speakers, 2,442 h); the
    validation set is a share of the speakers (drawn with ``--seed``), none of them trained on."""
    root = Path(args.voxceleb2_root)
    entries = readers.read_voxceleb2(root, "dev")
    if (root / "test" / "mp4").is_dir():
        entries += readers.read_voxceleb2(root, "test")
    else:
        log.warning("%s: no test/mp4; pre-training on dev only (the paper uses dev and test)", root)
    speakers = sorted({e.speaker for e in entries})
    if len(speakers) < 2:
        raise ValueError(f"{root}: {len(speakers)} speaker(s); need 2+ to hold one out for validation")
    n_held = min(len(speakers) - 1, max(1, round(len(speakers) * args.valid_share)))
    order = np.random.default_rng(args.seed).permutation(len(speakers))
    held = {speakers[i] for i in order[:n_held]}
    log.info("%d speakers: %d validate, %d train", len(speakers), n_held, len(speakers) - n_held)
    return {
        "voxceleb2_train": [e for e in entries if e.speaker not in held],
        "voxceleb2_valid": [e for e in entries if e.speaker in held],
    }


def prepare_tcd_timit(args: argparse.Namespace) -> dict[str, list[Entry]]:
    root = Path(args.tcd_timit_root)
    prompt_file = Path(args.timit_prompts)
    if not prompt_file.is_file():
        raise FileNotFoundError(f"{prompt_file}: no TIMIT prompt file (PROMPTS.TXT; see the recipe's README)")
    prompts = readers.read_timit_prompts(prompt_file)
    if args.protocol == "sd":
        entries = by_speakers(
            readers.read_tcd_timit(root, "lipspeakers", prompts), ["Lipspkr1", "Lipspkr2", "Lipspkr3"]
        )
        parts = speaker_dependent(entries, (args.dev_share, args.test_share), args.seed)
    else:
        volunteers = [
            e
            for e in readers.read_tcd_timit(root, "volunteers", prompts)
            if e.speaker not in TCD_TIMIT_EXCLUDED
        ]
        if args.protocol == "si":
            test_speakers = set(_words(args.si_test_speakers) or TCD_TIMIT_SI_TEST)
            parts = _held_out_speakers(volunteers, test_speakers, args)
        else:
            parts = _held_out_list(volunteers, _test_list(args), args)
    return {f"{name}_{args.protocol}": part for name, part in parts.items()}


def prepare_cmlr(args: argparse.Namespace) -> dict[str, list[Entry]]:
    root = Path(args.cmlr_root)
    if args.protocol == "sd":
        parts = {}
        for name, list_file in (("train", "train.csv"), ("dev", "val.csv"), ("test", "test.csv")):
            path = root / list_file
            if not path.is_file():
                raise FileNotFoundError(f"{path}: CMLR split list missing")
            names = [line.strip().split(",")[0] for line in path.read_text(encoding="utf-8").splitlines()]
            parts[name] = readers.read_cmlr(root, [n for n in names if n])
    else:
        parts = _held_out_speakers(
            readers.read_cmlr(root), set(_words(args.si_test_speakers) or CMLR_SI_TEST), args
        )
    return {f"{name}_{args.protocol}": part for name, part in parts.items()}


def _held_out_speakers(
    entries: list[Entry], test_speakers: set[str], args: argparse.Namespace
) -> dict[str, list[Entry]]:
    """Test: the test speakers' utterances; dev: a random share of the others' (train the rest)."""
    return {
        **_train_dev([e for e in entries if e.speaker not in test_speakers], args),
        "test": [e for e in entries if e.speaker in test_speakers],
    }


def _held_out_list(
    entries: list[Entry], listed: list[tuple[str, str]], args: argparse.Namespace
) -> dict[str, list[Entry]]:
    """Test: the listed utterances (sentence-level, every speaker in train and test); dev: a
    random share of the others (train the rest). Listed utterances missing from the corpus are
    reported, not fatal; those of speakers not read at all (``--speakers``) are left out."""
    read_speakers = {e.speaker for e in entries}
    wanted = {utt_id(spk, name) for spk, name in listed if spk in read_speakers}
    test = [e for e in entries if e.utt in wanted]
    missing = sorted(wanted - {e.utt for e in test})
    if missing:
        log.warning(
            "%d listed test utterances not in the corpus (e.g. %s)", len(missing), " ".join(missing[:5])
        )
    log.info("test list: %d of %d listed utterances found", len(test), len(listed))
    return {**_train_dev([e for e in entries if e.utt not in wanted], args), "test": test}


def librispeech_set(subset: str) -> str:
    """The data set of a LibriSpeech subset: ``librispeech_`` + the subset with "-" as "_"."""
    return "librispeech_" + subset.replace("-", "_")


def prepare_librispeech(args: argparse.Namespace) -> dict[str, list[Entry]]:
    root = Path(args.librispeech_root)
    return {librispeech_set(s): readers.read_librispeech(root, s) for s in _words(args.subsets) or []}


def _train_dev(entries: list[Entry], args: argparse.Namespace) -> dict[str, list[Entry]]:
    pool = {e.utt: e for e in entries}
    train, dev, _ = split_shares(sorted(pool), (args.dev_share, 0.0), np.random.default_rng(args.seed))
    return {"train": [pool[u] for u in train], "dev": [pool[u] for u in dev]}


def _test_list(args: argparse.Namespace) -> list[tuple[str, str]]:
    if not args.test_list:
        raise ValueError(f"protocol {args.protocol} needs --test_list (the recipe's local/lists/)")
    return readers.read_split_list(Path(args.test_list))


def _words(value: str | None) -> list[str] | None:
    """Names separated by spaces or commas (commas survive a recipe's word-split option string)."""
    return value.replace(",", " ").split() if value else None


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="corpus", required=True)

    def common(p: argparse.ArgumentParser, protocols: tuple[str, ...] = ()) -> None:
        p.add_argument("--datadir", type=Path, default=Path("data"), help="where the sets are written")
        p.add_argument("--seed", type=int, default=0, help="seed of the random splits")
        if protocols:
            p.add_argument("--protocol", choices=protocols, default="sd", help="split protocol (see above)")
            p.add_argument("--dev_share", type=float, default=0.05, help="share of utterances for dev")
            p.add_argument("--test_share", type=float, default=0.05, help="share of utterances for test (sd)")
            p.add_argument("--si_test_speakers", default=None, help="test speakers, space or comma separated")
        if "overlapped" in protocols:
            p.add_argument("--test_list", default=None, help="published test list (overlapped protocol)")

    grid = sub.add_parser("grid", help="GRID (either release layout)")
    grid.add_argument("--grid_root", required=True, help="GRID root folder")
    grid.add_argument("--speakers", default=None, help="speakers to use (sd default: s1 s2 s3 s4; si: all)")
    grid.add_argument("--si_dev_speakers", default=None, help="dev speakers, space or comma separated")
    common(grid, ("sd", "si", "overlapped", "unseen"))
    vox = sub.add_parser("voxceleb2", help="VoxCeleb2 (dev/mp4, test/mp4)")
    vox.add_argument("--voxceleb2_root", required=True)
    vox.add_argument("--valid_share", type=float, default=0.05, help="share of the speakers held out")
    common(vox)
    tcd = sub.add_parser("tcd_timit", help="TCD-TIMIT (lipspeakers/, volunteers/)")
    tcd.add_argument("--tcd_timit_root", required=True)
    tcd.add_argument("--timit_prompts", required=True, help="TIMIT's PROMPTS.TXT (the sentence texts)")
    common(tcd, ("sd", "si", "overlapped"))
    cmlr = sub.add_parser("cmlr", help="CMLR (video/, text/, audio/, train.csv/val.csv/test.csv)")
    cmlr.add_argument("--cmlr_root", required=True)
    common(cmlr, ("sd", "si"))
    libri = sub.add_parser(
        "librispeech", help="LibriSpeech layout (<subset>/<spk>/<chapter>/*.flac), audio only"
    )
    libri.add_argument("--librispeech_root", required=True)
    libri.add_argument(
        "--subsets", default="train-clean-100 dev-clean", help="subsets to prepare, space or comma separated"
    )
    common(libri)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s prepare_corpus: %(message)s")
    prepare = {
        "grid": prepare_grid,
        "voxceleb2": prepare_voxceleb2,
        "tcd_timit": prepare_tcd_timit,
        "cmlr": prepare_cmlr,
        "librispeech": prepare_librispeech,
    }[args.corpus]
    try:
        sets = prepare(args)
        empty = [name for name, entries in sets.items() if not entries]
        if empty:
            raise ValueError(f"no utterances for {' '.join(empty)}")
        _write_sets(args.datadir, sets)
    except (FileNotFoundError, ValueError) as err:
        log.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
