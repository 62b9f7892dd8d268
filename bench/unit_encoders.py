"""Which content encoder should the recipes' speech units come from? Measured on a recipe's sets.

Not a test: run by hand on a recipe's dump (stage 2 done for a training and a test set);
figures go to docs/units.md ("Which encoder").

    python bench/unit_encoders.py --train_dir dump/train_sd --test_dir dump/test_sd \\
        --frontend_config conf/frontend.yaml --vocoder_config conf/vocoder.yaml --out_dir bench_units

For each encoder of ``--encoders`` (hubert/wav2vec2 only with ``--encoder_file``) and each k
of ``--k``, stage 2's own unit step (``python -m lipsound2.bin.extract_units``) fits k-means on
the training set and writes the units of both sets into scratch copies of their tables under
``--out_dir`` (the dump itself is only read). Then, on the test set:

* resynthesis: a codebook mel per unit, the mean log-mel of the training frames given that
  unit; each test utterance's mel is rebuilt from its units, vocoded with the recipe's
  Griffin-Lim (``--vocoder_config``), scored against the real audio (ESTOI, STOI, PESQ: the
  scorer of stage 7) and transcribed by each judge (WER: the scorer of stage 8). The oracle
  (the real mel through the same Griffin-Lim) and the real audio are reference rows. Every test
  utterance is scored or counted as failed.
* unit statistics of the test units: perplexity (exp of the entropy of the unit distribution),
  units used, mean run length in frames, the majority unit's share of frames;
* cost: wall and CPU seconds and peak resident memory of the extraction process (fit + both
  sets).

Writes ``results.json`` and ``results.md`` in ``--out_dir``; per-row score tables below it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lipsound2.asr.judge import JUDGES, SAMPLE_RATE, build_judge
from lipsound2.fileio.ark import load_array, read_scp
from lipsound2.fileio.table import read_table, write_table
from lipsound2.fileio.wav import read_wav, write_wav
from lipsound2.frontend.config import load_config as load_frontend_config
from lipsound2.metrics.scoring import score_speech, score_text, summarize_speech, write_speech_tsv
from lipsound2.metrics.text import metric_for_lang
from lipsound2.vocoders.factory import build_vocoder, load_config

TABLES = ("wav.scp", "feats.scp", "utt2num_frames")
SSL = ("hubert", "wav2vec2")


def scratch_copy(src: Path, dst: Path) -> Path:
    """``src``'s tables (paths made absolute) in ``dst``, so units are written there, not in the dump."""
    dst.mkdir(parents=True, exist_ok=True)
    recipe = src.absolute().parents[1]  # dump/<set> -> the recipe, where relative paths start
    for name in TABLES:
        table = read_table(src / name)
        if name.endswith(".scp"):
            table = {k: v if os.path.isabs(v) else str(recipe / v) for k, v in table.items()}
        write_table(dst / name, table)
    return dst


def extract(args: argparse.Namespace, encoder: str, k: int, work: Path) -> dict:
    """Stage 2's unit step for the two scratch sets, in a process of its own: wall and CPU
    seconds (CPU time tells more on a shared machine) and peak resident memory (MiB)."""
    train = scratch_copy(args.train_dir, work / "train")
    test = scratch_copy(args.test_dir, work / "test")
    cmd = [sys.executable, "-m", "lipsound2.bin.extract_units", "--unit_type", encoder, "--k", str(k)]
    cmd += ["--seed", str(args.seed), "--kmeans", str(work / "kmeans.npz"), "--fit_dir", str(train)]
    cmd += ["--frontend_config", str(args.frontend_config), "--max_fit_frames", str(args.max_fit_frames)]
    if encoder in SSL:
        cmd += ["--encoder_file", str(args.encoder_file), "--layer", str(args.layer)]
        cmd += ["--encoder_config", str(args.encoder_config)] if args.encoder_config else []
    elif encoder == "whisper" and args.whisper_dir:
        cmd += ["--encoder_file", str(args.whisper_dir)]
    start = time.perf_counter()
    with open(work / "extract_units.log", "w") as log:
        proc = subprocess.Popen([*cmd, str(train), str(test)], stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{encoder} k={k}: unit extraction failed, see {work / 'extract_units.log'}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"extract_s": wall, "extract_cpu_s": cpu, "peak_rss_mib": usage.ru_maxrss / 1024}


def unit_stats(units: dict[str, np.ndarray], k: int) -> dict[str, float]:
    """Perplexity of the unit distribution, units used, mean run length, majority share."""
    seqs = list(units.values())
    counts = np.bincount(np.concatenate(seqs), minlength=k)
    p = counts[counts > 0] / counts.sum()
    runs = sum(1 + int(np.count_nonzero(np.diff(s))) for s in seqs if len(s))
    return {
        "perplexity": float(np.exp(-(p * np.log(p)).sum())),
        "units_used": float(len(p)),
        "mean_run": float(counts.sum() / runs),
        "majority_share": float(counts.max() / counts.sum()),
    }


def codebook(train_units: dict[str, np.ndarray], feats: dict[str, str], k: int) -> tuple[np.ndarray, int]:
    """The mean log-mel of the training frames of each unit ``(k, n_mels)``, and how many units
    had no training frame (they get the mean of all frames)."""
    sums, counts = None, np.zeros(k)
    for utt, units in train_units.items():
        mel = load_array(feats[utt])
        if len(mel) != len(units):
            raise SystemExit(f"{utt}: {len(units)} units for {len(mel)} mel frames")
        sums = np.zeros((k, mel.shape[1])) if sums is None else sums
        np.add.at(sums, units, mel)
        counts += np.bincount(units, minlength=k)
    empty = counts == 0
    book = sums / np.maximum(counts, 1)[:, None]
    book[empty] = sums.sum(0) / counts.sum()
    return book.astype(np.float32), int(empty.sum())


def evaluate(name: str, mels: dict[str, np.ndarray | None], args, vocoder, judges, row_dir: Path) -> dict:
    """Vocode ``mels`` (None: the utterance failed before), score against the test set's audio
    and transcribe with every judge; ``mels`` None as a whole: the real audio itself."""
    test_wavs = read_table(args.test_dir / "wav.scp")
    keys = sorted(read_table(args.test_dir / "utt2num_frames"))
    row_dir.mkdir(parents=True, exist_ok=True)
    out: dict = {"row": name}
    if mels is None:
        hyp_scp = args.test_dir / "wav.scp"
    else:
        written: dict[str, str] = {}
        for utt in keys:
            if mels.get(utt) is None:
                continue
            path = row_dir / "wav" / f"{utt}.wav"
            try:
                write_wav(path, vocoder(mels[utt]), SAMPLE_RATE)
            except Exception as exc:  # counted as failed by the scorer: no generated audio
                print(f"{name}: {utt}: vocoder: {exc}", file=sys.stderr)
                continue
            written[utt] = str(path)
        hyp_scp = row_dir / "wav.scp"
        write_table(hyp_scp, written)
        rows = score_speech(args.test_dir / "wav.scp", hyp_scp, keys)
        write_speech_tsv(row_dir / "speech.tsv", rows)
        out.update(summarize_speech(rows, keys))
    hyp_wavs = read_table(hyp_scp)
    for judge_name, judge in judges.items():
        hyps = {}
        for utt in keys:
            if utt in hyp_wavs:
                try:
                    hyps[utt] = judge(read_wav(hyp_wavs[utt], SAMPLE_RATE), args.lang)
                except Exception as exc:  # a failed transcription counts as all deletions
                    print(f"{name}: {utt}: judge {judge_name}: {exc} ({test_wavs.get(utt)})", file=sys.stderr)
        write_table(row_dir / f"hyp_{judge_name}.txt", hyps)
        wer = score_text(
            args.test_dir / "text", row_dir / f"hyp_{judge_name}.txt", metric_for_lang(args.lang)
        )
        out[f"wer_{judge_name}"] = wer["rate"]
        out[f"wer_{judge_name}_missing"] = wer["missing"]
    return out


def fmt(value: float | None, digits: int) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(results: dict) -> str:
    judges = results["judges"]
    head = ["row", "ESTOI", "PESQ NB", "PESQ WB", *(f"WER {j}" for j in judges), "failed"]
    head += ["perplexity", "units used", "mean run", "majority", "extract s (CPU s)", "peak RSS MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results["rows"]:
        cells = [
            r["row"],
            fmt(r.get("estoi"), 3) + (f" ±{r['estoi_ci']:.3f}" if "estoi_ci" in r else ""),
            fmt(r.get("pesq_nb"), 2),
            fmt(r.get("pesq_wb"), 2),
            *(fmt(r[f"wer_{j}"], 1) for j in judges),
            fmt(r.get("failed"), 0),
            fmt(r.get("perplexity"), 1),
            fmt(r.get("units_used"), 0),
            fmt(r.get("mean_run"), 2),
            fmt(r.get("majority_share"), 3),
            fmt(r.get("extract_s"), 0) + (f" ({r['extract_cpu_s']:.0f})" if "extract_cpu_s" in r else ""),
            fmt(r.get("peak_rss_mib"), 0),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train_dir", type=Path, required=True, help="stage 2 data dir the k-means is fitted on")
    p.add_argument("--test_dir", type=Path, required=True, help="stage 2 data dir scored (needs text)")
    p.add_argument("--frontend_config", type=Path, required=True, help="the recipe's conf/frontend.yaml")
    p.add_argument("--vocoder_config", type=Path, required=True, help="the recipe's conf/vocoder.yaml")
    p.add_argument("--out_dir", type=Path, required=True)
    p.add_argument("--encoders", nargs="+", default=["logmel", "mfcc", "whisper"])
    p.add_argument("--k", type=int, nargs="+", default=[200], help="k-means clusters, one row each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max_fit_frames", type=int, default=100000, help="stage 2's default")
    p.add_argument("--encoder_file", type=Path, help="hubert/wav2vec2 checkpoint (needed for those)")
    p.add_argument("--encoder_config", type=Path, help="hubert/wav2vec2 architecture YAML")
    p.add_argument("--layer", type=int, default=6, help="hubert/wav2vec2 layer")
    p.add_argument("--whisper_dir", type=Path, help="another CTranslate2 Whisper dir for the whisper encoder")
    p.add_argument("--judges", nargs="+", default=list(JUDGES), choices=list(JUDGES))
    p.add_argument("--lang", default="en")
    args = p.parse_args()
    for enc in args.encoders:
        if enc in SSL and not args.encoder_file:
            raise SystemExit(f"--encoders {enc} needs --encoder_file (a checkpoint you bring)")

    mel_config = load_frontend_config(args.frontend_config).mel
    vocoder = build_vocoder("griffin_lim", load_config(args.vocoder_config), mel_config)
    judges = {name: build_judge(name) for name in args.judges}
    test_feats = read_table(args.test_dir / "feats.scp")
    train_feats = read_table(args.train_dir / "feats.scp")
    keys = sorted(read_table(args.test_dir / "utt2num_frames"))
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs seen, torch threads from OMP_NUM_THREADS",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "train": {"dir": str(args.train_dir), "utterances": len(train_feats)},
        "test": {"dir": str(args.test_dir), "utterances": len(keys)},
        "judges": args.judges,
        "rows": [],
    }

    def save() -> None:
        (args.out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.out_dir / "results.md").write_text(markdown(results))

    args.out_dir.mkdir(parents=True, exist_ok=True)
    results["rows"].append(evaluate("real audio", None, args, vocoder, judges, args.out_dir / "real"))
    oracle = {utt: load_array(test_feats[utt]) for utt in keys}
    results["rows"].append(evaluate("oracle mel", oracle, args, vocoder, judges, args.out_dir / "oracle"))
    save()
    for enc in args.encoders:
        for k in args.k:
            work = args.out_dir / f"{enc}_k{k}"
            cost = extract(args, enc, k, work)
            train_units = read_scp(work / "train" / "units.scp")
            test_units = read_scp(work / "test" / "units.scp")
            book, empty = codebook(train_units, train_feats, k)
            mels = {utt: book[test_units[utt]] if utt in test_units else None for utt in keys}
            row = evaluate(f"{enc} k={k}", mels, args, vocoder, judges, work)
            row.update(cost, **unit_stats(test_units, k), empty_units=empty)
            row["units_rejected"] = len(keys) - len(test_units)
            results["rows"].append(row)
            save()
            print(json.dumps(row), flush=True)
    print(markdown(results))


if __name__ == "__main__":
    main()
