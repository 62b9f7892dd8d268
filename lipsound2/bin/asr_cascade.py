"""The cascaded lip reader's steps around ESPnet's ASR binaries (recipe stage 7).

Subcommands:
  data      an ESPnet data dir (wav.scp, text, speech_shape) from audio and transcripts
  tokens    token list (char, or sentencepiece bpe) from training transcripts
  resolve   a pre-trained model as the others take it (an espnet2.bin.pack archive unpacked)
  ngram     n-gram ARPA LM over the ASR model's tokens (text in the model's letter case)
  train     espnet2.bin.asr_train from scratch (real audio)
  finetune  espnet2.bin.asr_train initialised from a pre-trained model, on its own copy of the
            data dirs with the text in the model's letter case, at a constant rate of the
            pre-trained peak lr x --lr_factor (see lipsound2/asr/finetune.py)
  decode    espnet2.bin.asr_inference beam search over --nj jobs, optional n-gram LM
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from lipsound2 import paper
from lipsound2.asr import espnet_asr, model_text
from lipsound2.asr.finetune import finetune_config
from lipsound2.asr.pretrained import archive_stem, is_archive, resolve_pretrained, unpack
from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.table import read_table
from lipsound2.fileio.yamlio import load_yaml


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("data", help="ESPnet data dir")
    s.add_argument("--wav_scp", required=True)
    s.add_argument("--text", required=True)
    s.add_argument("--outdir", required=True)

    s = sub.add_parser("tokens", help="token list")
    s.add_argument("--text", required=True)
    s.add_argument("--outdir", required=True)
    s.add_argument("--token_type", choices=("char", "word", "bpe"), default="char")
    s.add_argument("--nbpe", type=int, default=100)

    s = sub.add_parser("resolve", help="print the model path (or its config) to give the other subcommands")
    s.add_argument("--model", required=True, help="model .pth, experiment dir, packed archive, or zoo tag")
    s.add_argument("--unpack_dir", type=Path, default=None, help="an archive is unpacked into DIR/<name>")
    s.add_argument("--train_config", action="store_true", help="print the model's training config instead")

    s = sub.add_parser("ngram", help="n-gram LM (ARPA)")
    s.add_argument("--text", required=True)
    s.add_argument("--asr_train_config", required=True, help="config.yaml of the ASR model (its token units)")
    s.add_argument("--arpa", required=True)
    s.add_argument("--order", type=int, default=3)

    for name in ("train", "finetune"):
        s = sub.add_parser(name, help=f"ASR {name}")
        s.add_argument("--train_dir", type=Path, required=True)
        s.add_argument("--valid_dir", type=Path, required=True)
        s.add_argument("--outdir", type=Path, required=True)
        s.add_argument("--cmd", default="run.pl", help="job runner, e.g. run.pl or 'slurm.pl --mem 8G'")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--ngpu", type=int, default=0, help="GPUs for training (0: CPU)")
        if name == "train":
            s.add_argument("--config", required=True)
            s.add_argument("--token_list", type=Path, required=True)
            s.add_argument("--token_type", choices=("char", "word", "bpe"), default="char")
            s.add_argument("--bpemodel", type=Path, default=None)
        else:
            s.add_argument(
                "--pretrained_model",
                required=True,
                help="model .pth (config.yaml beside it), experiment dir, packed archive, or zoo tag",
            )
            s.add_argument(
                "--config", required=True, help="fine-tuning schedule (max_epoch, batch size, ...)"
            )
            s.add_argument(
                "--lr_factor",
                type=float,
                default=paper.ASR_LR_FACTOR,
                help="fine-tuning lr / pre-trained peak lr (the paper's: %(default)s)",
            )

    s = sub.add_parser("decode", help="beam-search decoding")
    s.add_argument(
        "--asr_model", required=True, help="ASR experiment dir, model .pth beside config.yaml, or zoo tag"
    )
    s.add_argument("--wav_scp", type=Path, required=True)
    s.add_argument("--outdir", type=Path, required=True)
    s.add_argument("--nj", type=int, default=1)
    s.add_argument("--cmd", default="run.pl")
    s.add_argument("--inference_config", type=Path, default=None)
    s.add_argument("--ngram_file", type=Path, default=None)
    s.add_argument("--ngpu", type=int, default=0, help="> 0: each job decodes on one GPU")
    return p


def _model_data(args: argparse.Namespace, config: dict) -> tuple[Path, Path]:
    """The model's own copies of the train and valid data dirs, with ``text_shape``.

    The text is in the letter case of the model's tokens, and the token shapes are the
    model's, so models of other token types can train from one data dir at the same time.
    """
    vocab_size = len(model_text.token_list(config))
    dirs = []
    for split, src in (("train", args.train_dir), ("valid", args.valid_dir)):
        d = model_text.model_data_dir(src, args.outdir / "data" / split, config)
        espnet_asr.write_text_shape(d, config.get("token_type", "char"), config.get("bpemodel"), vocab_size)
        dirs.append(d)
    return dirs[0], dirs[1]


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "data":
        n = espnet_asr.prepare_data(args.wav_scp, args.text, args.outdir)
        logging.info("%s: %d utterances", args.outdir, n)
    elif args.command == "tokens":
        tokens, _ = espnet_asr.make_token_list(args.text, args.outdir, args.token_type, args.nbpe)
        logging.info("%s: %d tokens", tokens, len(tokens.read_text(encoding="utf-8").split()))
    elif args.command == "resolve":
        spec = args.model
        if args.unpack_dir is not None and is_archive(spec):
            spec = str(unpack(spec, args.unpack_dir / archive_stem(spec)))
        print(resolve_pretrained(spec)[1] if args.train_config else spec)
    elif args.command == "ngram":
        config = load_yaml(args.asr_train_config)
        texts = model_text.for_model(read_table(args.text), config, f"LM text {args.text}")
        espnet_asr.train_ngram(
            texts.values(), args.arpa, args.order, config.get("token_type", "char"), config.get("bpemodel")
        )
    elif args.command == "train":
        config = {
            "token_list": str(args.token_list),
            "token_type": args.token_type,
            "bpemodel": str(args.bpemodel) if args.bpemodel else None,
        }
        train_dir, valid_dir = _model_data(args, config)
        model = espnet_asr.train(
            args.config,
            train_dir,
            valid_dir,
            args.outdir,
            args.cmd,
            args.token_list,
            args.token_type,
            args.bpemodel,
            seed=args.seed,
            ngpu=args.ngpu,
        )
        logging.info("model: %s", model)
    elif args.command == "finetune":
        model_file, pretrained_config = resolve_pretrained(args.pretrained_model)
        config = finetune_config(pretrained_config, load_yaml(args.config), args.lr_factor)
        args.outdir.mkdir(parents=True, exist_ok=True)
        ft_config = args.outdir / "finetune_config.yaml"
        with atomic_open(ft_config, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f, allow_unicode=True, sort_keys=False)
        train_dir, valid_dir = _model_data(args, config)
        logging.info(
            "fine-tuning %s: lr %g, scheduler %s", model_file, config["optim_conf"]["lr"], config["scheduler"]
        )
        model = espnet_asr.train(
            ft_config,
            train_dir,
            valid_dir,
            args.outdir,
            args.cmd,
            init_param=model_file,
            seed=args.seed,
            ngpu=args.ngpu,
        )
        logging.info("model: %s", model)
    elif args.command == "decode":
        model_file, train_config = resolve_pretrained(args.asr_model)
        text = espnet_asr.decode(
            model_file,
            train_config,
            args.wav_scp,
            args.outdir,
            args.nj,
            args.cmd,
            args.inference_config,
            args.ngram_file,
            ngpu=args.ngpu,
        )
        logging.info("hypotheses: %s", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
