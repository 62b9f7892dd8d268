"""Pre-train the LipSound2 decoder on audio alone with ESPnet's trainer (stage 3 with
``--audio_pretrain true``; docs/audio_pretraining.md).

Example::

    python -m lipsound2.bin.train_audio --config conf/train_audio.yaml \\
        --lipsound2_config conf/train.yaml --frontend_config conf/frontend.yaml \\
        --output_dir exp/audio_pretrain \\
        --train_data_path_and_name_and_type dump/librispeech_train/feats.scp,feats,kaldi_ark \\
        --train_shape_file exp/audio_pretrain/shapes/librispeech_train/feats_shape \\
        --valid_data_path_and_name_and_type ... --valid_shape_file ...

Every option of ESPnet's task main is available (``--help``).
"""

from __future__ import annotations

import argparse

from lipsound2.tasks.audio_pretrain import AudioPretrainTask


def get_parser() -> argparse.ArgumentParser:
    return AudioPretrainTask.get_parser()


def main(cmd: list[str] | None = None) -> None:
    AudioPretrainTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
