"""Train the HiFi-GAN vocoder on real training audio (wav.scp); writes OUTDIR/vocoder.pth.

The audio rate and the log-mel it learns to invert are those of ``--frontend_config``, or
without it of the ``frontend.yaml`` beside the ``--wav_scp`` files (the dump dirs the audio
came from; the defaults when there is none). A ``--frontend_config``, or a set's file, whose
mel differs from another set's file is refused before training. With
``--units_scp`` (one for each ``--wav_scp``, stage 2's units of the same set, its
``units.yaml`` beside it giving k) it trains the mel + units vocoder of ``--vocoder_type
hifigan_units`` on the ground-truth units and augmented mel (the config's ``units`` and
``augment`` sections). There a ``speaker`` section in the config (``dim``) adds the speaker input:
``--speaker_embeddings`` (``lipsound2.bin.speaker_embed``'s ``embeddings.npz`` of the training
audio) and ``--utt2spk`` (one for each ``--wav_scp``) give every utterance's embedding and
the speaker means the checkpoint keeps. ``init_pretrained: true`` in the config's ``train``
section starts the mel-only generator from the published HiFi-GAN V1 universal weights
(``--vocoder_type hifigan_pretrained``'s), fine-tuning it on our own mel and rate; its
``generator_params`` must be V1's (``vocoder_hifigan.yaml``).

``--gta_feats_scp`` (repeatable; ``lipsound2.bin.gta_mel``'s teacher-forced predictions of the
training sets, with a ``frontend.yaml`` beside them that must agree) gives the input mel of the
fine-tuning's second phase: after ``train.steps`` steps on the ground-truth mel, ``train.gta_steps``
steps turn the predicted mel into the real audio (the losses still compare with ``--wav_scp``'s
audio, cut at the same frames). See ``conf/vocoder_hifigan_pretrained_finetune.yaml``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from lipsound2.fileio.table import read_table
from lipsound2.fileio.yamlio import load_yaml
from lipsound2.frontend.config import VOCODER_SECTIONS, SettingsMismatchError, settings_beside
from lipsound2.frontend.config import load_config as load_frontend_config
from lipsound2.vocoders.augment import MelAugment
from lipsound2.vocoders.factory import load_config
from lipsound2.vocoders.hifigan_train import SpeakerInputs, TrainOptions, UnitInputs, train_hifigan
from lipsound2.vocoders.speaker import SpeakerTable, load_embeddings, training_embeddings


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wav_scp", required=True, action="append", help="training audio (repeatable)")
    p.add_argument(
        "--units_scp",
        action="append",
        default=None,
        help="ground-truth units of each --wav_scp's set (repeatable): train the mel + units vocoder",
    )
    p.add_argument(
        "--gta_feats_scp",
        action="append",
        default=None,
        help="GTA mel of the training sets (repeatable): the input mel of the train.gta_steps phase",
    )
    p.add_argument("--speaker_embeddings", default=None, help="embeddings.npz of the training audio")
    p.add_argument("--utt2spk", action="append", default=None, help="speakers of each --wav_scp's set")
    p.add_argument(
        "--config", required=True, help="vocoder YAML: generator_params, discriminator_params, train"
    )
    p.add_argument(
        "--frontend_config",
        default=None,
        help="front-end YAML of the features (default: the frontend.yaml beside --wav_scp, else defaults)",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="where the networks train: cpu, cuda or cuda:N (stage 6 gives cuda with --ngpu > 0)",
    )
    p.add_argument("--outdir", required=True, help="vocoder.pth; checkpoint.pth while training (resumed)")
    return p


def audio_frontend(frontend_config: str | None, wav_scps: list[str]) -> str | os.PathLike | None:
    """The front-end file of the training audio (see the module's docstring); a disagreeing
    one exits with the message naming both files and the keys."""
    chosen = frontend_config
    try:
        for scp in wav_scps:
            chosen = settings_beside(
                chosen,
                Path(scp).parent,
                VOCODER_SECTIONS,
                "the settings the training audio was made with",
                "give that file, or no front-end file (it is the default); all sets must share one",
            )
    except SettingsMismatchError as exc:
        raise SystemExit(str(exc)) from None
    return chosen


def unit_inputs(units_scps: list[str], config: dict) -> UnitInputs:
    """The units of every set and their k, which all sets' ``units.yaml`` must agree on."""
    ks = {scp: int(load_yaml(Path(scp).parent / "units.yaml")["k"]) for scp in units_scps}
    if len(set(ks.values())) != 1:
        raise SystemExit(f"the units' sets disagree on k: {ks}")
    table = {key: spec for scp in units_scps for key, spec in read_table(scp).items()}
    return UnitInputs(
        table, ks[units_scps[0]], **config.get("units", {}), augment=MelAugment(**config.get("augment", {}))
    )


def speaker_inputs(args: argparse.Namespace, section: dict, utts: list[str]) -> SpeakerInputs:
    """The speaker input of the config's ``speaker`` section from the embeddings and utt2spk."""
    if not args.speaker_embeddings or not args.utt2spk:
        raise SystemExit("the vocoder config's speaker section needs --speaker_embeddings and --utt2spk")
    if len(args.utt2spk) != len(args.wav_scp):
        raise SystemExit(f"{len(args.utt2spk)} --utt2spk for {len(args.wav_scp)} --wav_scp: give one per set")
    utt2spk = {utt: spk for path in args.utt2spk for utt, spk in read_table(path).items()}
    embeddings = load_embeddings(args.speaker_embeddings)
    table = SpeakerTable.from_utterances({u: e for u, e in embeddings.items() if u in utt2spk}, utt2spk)
    missing = [utt for utt in utts if utt not in embeddings]
    if missing:
        logging.warning(
            "%d training utterances have no speaker embedding (first: %s): they train with their "
            "speaker's mean",
            len(missing),
            missing[0],
        )
    logging.info("speaker table: %d speakers", len(table.speakers))
    dim = int(section.get("dim", 128))
    if dim < 1:
        raise SystemExit(f"speaker dim must be >= 1, got {dim}")
    return SpeakerInputs(dim, training_embeddings(utts, embeddings, utt2spk, table), table)


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = load_config(args.config)
    mel = load_frontend_config(
        audio_frontend(args.frontend_config, args.wav_scp + (args.gta_feats_scp or []))
    ).mel
    if args.units_scp is not None and len(args.units_scp) != len(args.wav_scp):
        raise SystemExit(
            f"{len(args.units_scp)} --units_scp for {len(args.wav_scp)} --wav_scp: give one per set"
        )
    wavs = {key: path for scp in args.wav_scp for key, path in read_table(scp).items()}
    options = TrainOptions(**config.get("train", {}))
    gta = None
    if args.gta_feats_scp is not None:
        gta = {key: spec for scp in args.gta_feats_scp for key, spec in read_table(scp).items()}
    units = None if args.units_scp is None else unit_inputs(args.units_scp, config)
    if units is not None and config.get("speaker") is not None:
        units.speaker = speaker_inputs(args, config["speaker"], list(wavs))
    elif args.speaker_embeddings:
        raise SystemExit("--speaker_embeddings needs --units_scp and a speaker section in the vocoder config")
    curve = train_hifigan(
        wavs,
        args.outdir,
        config.get("generator_params", {}),
        config.get("discriminator_params", {}),
        options,
        mel,
        units,
        args.device,
        gta,
    )
    logging.info(
        "mel L1 %.4f at step %d -> %.4f at step %d", curve[0][1], curve[0][0], curve[-1][1], curve[-1][0]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
