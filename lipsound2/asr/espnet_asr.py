"""Drive ESPnet's own ASR binaries for the cascaded lip reader (recipe stage 7).

Training is ``espnet2.bin.asr_train`` and decoding ``espnet2.bin.asr_inference``, both
started through the Kaldi-style job runner (``run.pl``, ``slurm.pl``, ...), as ESPnet's
``asr.sh`` does. This module prepares what they read: data directories (wav.scp, text and
the shape files ESPnet's batch sampler needs), the token list (characters, words for a
closed vocabulary such as GRID's, or a sentencepiece model) and the n-gram LM over the
model's tokens. ``--ngpu`` reaches both binaries and the job runner (``--gpu N``), as
ESPnet's launcher passes it.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import soundfile as sf

from lipsound2.asr.ngram import KneserNeyLM
from lipsound2.asr.pretrained import find_model_file
from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table, write_table

log = logging.getLogger(__name__)


def run_job(cmd: str, log_file: Path, args: list[str], jobs: int | None = None, gpu: int = 0) -> None:
    """Run ``python args...`` through the job runner ``cmd`` (``JOB=1:jobs`` when given).

    ``gpu``: GPUs each job asks the runner for (``--gpu N``, Kaldi's runner option).
    """
    argv = shlex.split(cmd)
    if gpu > 0:
        argv += ["--gpu", str(gpu)]
    if jobs is not None:
        argv.append(f"JOB=1:{jobs}")
    argv += [str(log_file), sys.executable, *args]
    log.info("running %s", shlex.join(argv))
    result = subprocess.run(argv, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{args[1] if len(args) > 1 else args} failed, see {log_file}")


def prepare_data(wav_scp: str | os.PathLike, text: str | os.PathLike, outdir: str | os.PathLike) -> int:
    """An ESPnet data dir of the utterances that have both audio and a transcript."""
    outdir = Path(outdir)
    wavs, texts = read_table(wav_scp), read_table(text)
    keys = [k for k in wavs if k in texts]
    if not keys:
        raise ValueError(f"no utterance of {wav_scp} has a transcript in {text}")
    dropped = len(wavs) - len(keys)
    if dropped:
        log.warning("%s: %d utterances without a transcript are left out", wav_scp, dropped)
    write_table(outdir / "wav.scp", {k: wavs[k] for k in keys})
    write_table(outdir / "text", {k: texts[k] for k in keys})
    write_table(outdir / "speech_shape", {k: str(sf.info(wavs[k]).frames) for k in keys})
    return len(keys)


def build_tokenizer(token_type: str, bpemodel: str | None = None):
    """ESPnet's tokenizer for ``char``, ``word`` (split at white space) or ``bpe`` units."""
    from espnet2.text.build_tokenizer import build_tokenizer as espnet_build_tokenizer

    return espnet_build_tokenizer(token_type=token_type, bpemodel=bpemodel)


def make_token_list(
    text: str | os.PathLike, outdir: str | os.PathLike, token_type: str = "char", nbpe: int = 100
) -> tuple[Path, Path | None]:
    """Token list (``<blank>``, ``<unk>``, tokens by frequency, ``<sos/eos>``) and the bpe model."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sentences = list(read_table(text).values())
    bpemodel = None
    if token_type == "bpe":
        import sentencepiece as spm

        with atomic_open(outdir / "train.txt", "w", encoding="utf-8") as f:
            f.writelines(s + "\n" for s in sentences)
        spm.SentencePieceTrainer.train(
            input=str(outdir / "train.txt"),
            model_prefix=str(outdir / "bpe"),
            vocab_size=nbpe,
            model_type="unigram",
            character_coverage=1.0,
            hard_vocab_limit=False,
        )
        bpemodel = outdir / "bpe.model"
    elif token_type not in ("char", "word"):
        raise ValueError(f"token_type {token_type!r}: char, word or bpe")
    tokenizer = build_tokenizer(token_type, str(bpemodel) if bpemodel else None)
    counts = Counter(tok for s in sentences for tok in tokenizer.text2tokens(s))
    tokens = ["<blank>", "<unk>", *sorted(counts, key=lambda t: (-counts[t], t)), "<sos/eos>"]
    with atomic_open(outdir / "tokens.txt", "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in tokens)
    return outdir / "tokens.txt", bpemodel


def write_text_shape(
    datadir: str | os.PathLike, token_type: str, bpemodel: str | None, vocab_size: int
) -> None:
    """``text_shape``: token count and vocabulary size per utterance (ESPnet's layout)."""
    tokenizer = build_tokenizer(token_type, bpemodel)
    texts = read_table(Path(datadir) / "text")
    shapes = {k: f"{len(tokenizer.text2tokens(v))},{vocab_size}" for k, v in texts.items()}
    write_table(Path(datadir) / "text_shape", shapes)


def train_ngram(
    sentences: Iterable[str], arpa: str | os.PathLike, order: int, token_type: str, bpemodel: str | None
) -> None:
    """An n-gram LM over the ASR model's tokens of ``sentences``."""
    tokenizer = build_tokenizer(token_type, bpemodel)
    KneserNeyLM([tokenizer.text2tokens(s) for s in sentences], order).write_arpa(arpa)


def train(
    config: str | os.PathLike,
    train_dir: Path,
    valid_dir: Path,
    outdir: Path,
    cmd: str = "run.pl",
    token_list: Path | None = None,
    token_type: str | None = None,
    bpemodel: Path | None = None,
    init_param: Path | None = None,
    seed: int = 0,
    ngpu: int = 0,
) -> Path:
    """Run ``espnet2.bin.asr_train`` on ``ngpu`` GPUs, resuming from the ``checkpoint.pth``
    an interrupted run left in ``outdir``; returns the chosen model file.

    With several GPUs ESPnet starts one process per GPU itself (its multiprocessing
    distributed mode, as ``espnet2.bin.launch`` asks for on one node); with one or none it
    runs a single process.
    """
    args = ["-m", "espnet2.bin.asr_train", "--config", str(config), "--seed", str(seed)]
    args += ["--ngpu", str(ngpu), "--multiprocessing_distributed", "true"]
    args += ["--use_preprocessor", "true", "--output_dir", str(outdir)]
    # a run killed mid-way (the stage's marker then says "resuming") continues from the
    # checkpoint.pth it left; a changed step removes its outputs before it runs again
    args += ["--resume", "true"]
    if token_list is not None:
        args += ["--token_list", str(token_list)]
    if token_type is not None:
        args += ["--token_type", token_type]
    if bpemodel is not None:
        args += ["--bpemodel", str(bpemodel)]
    if init_param is not None:
        args += ["--init_param", str(init_param)]
    for split, d in (("train", train_dir), ("valid", valid_dir)):
        args += [f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound"]
        args += [f"--{split}_data_path_and_name_and_type", f"{d}/text,text,text"]
        args += [f"--{split}_shape_file", f"{d}/speech_shape", f"--{split}_shape_file", f"{d}/text_shape"]
    outdir.mkdir(parents=True, exist_ok=True)
    run_job(cmd, outdir / "train.log", args, gpu=ngpu)
    return find_model_file(outdir)


def decode(
    model_file: Path,
    train_config: Path,
    wav_scp: Path,
    outdir: Path,
    nj: int = 1,
    cmd: str = "run.pl",
    inference_config: Path | None = None,
    ngram_file: Path | None = None,
    ngpu: int = 0,
) -> Path:
    """Beam-search decode ``wav_scp`` with ``espnet2.bin.asr_inference``; returns ``outdir/text``.

    ``ngpu`` > 0: each job decodes on one GPU (asr_inference uses at most one).
    """
    keys = list(read_table(wav_scp))
    if not keys:
        raise ValueError(f"{wav_scp}: no utterances to decode")
    nj = max(1, min(nj, len(keys)))
    outdir.mkdir(parents=True, exist_ok=True)
    for job in range(1, nj + 1):
        write_table(outdir / f"keys.{job}.scp", {k: k for k in keys[job - 1 :: nj]})
    gpu = min(ngpu, 1)
    args = ["-m", "espnet2.bin.asr_inference", "--ngpu", str(gpu), "--batch_size", "1"]
    args += [
        "--data_path_and_name_and_type",
        f"{wav_scp},speech,sound",
        "--key_file",
        f"{outdir}/keys.JOB.scp",
    ]
    args += ["--asr_train_config", str(train_config), "--asr_model_file", str(model_file)]
    args += ["--output_dir", f"{outdir}/output.JOB"]
    if inference_config is not None:
        args += ["--config", str(inference_config)]
    if ngram_file is not None:
        args += ["--ngram_file", str(ngram_file)]
    run_job(cmd, outdir / "logdir" / "asr_inference.JOB.log", args, jobs=nj, gpu=gpu)
    hyps: dict[str, str] = {}
    for job in range(1, nj + 1):
        part = outdir / f"output.{job}" / "1best_recog" / "text"
        if part.exists():
            for key, value in read_table(part).items():
                hyps[key] = value.strip()
    for key in keys:
        if key not in hyps:
            log.warning("%s: no hypothesis for %s (scored as empty)", wav_scp, key)
    write_table(outdir / "text", {k: hyps.get(k, "") for k in keys})
    return outdir / "text"
