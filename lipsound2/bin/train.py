"""Train LipSound2 with ESPnet's trainer (pre-training and fine-tuning).

Example::

    python -m lipsound2.bin.train --config conf/train.yaml --output_dir exp/lipsound2 \\
        --train_data_path_and_name_and_type dump/train/video.scp,video,face_track \\
        --train_data_path_and_name_and_type dump/train/feats.scp,feats,kaldi_ark \\
        --train_shape_file exp/lipsound2/shapes/train/video_shape \\
        --train_shape_file exp/lipsound2/shapes/train/feats_shape \\
        --valid_data_path_and_name_and_type ... --valid_shape_file ...

Every option of ESPnet's task main is available (``--help``): ``--init_param``,
``--resume``, ``--ngpu``, ``--use_amp``, ``--keep_nbest_models`` ...
"""

from __future__ import annotations

import argparse

from lipsound2.tasks.lipsound2 import LipSound2Task


def get_parser() -> argparse.ArgumentParser:
    return LipSound2Task.get_parser()


def main(cmd: list[str] | None = None) -> None:
    LipSound2Task.main(cmd=cmd)


if __name__ == "__main__":
    main()
