#!/usr/bin/env bash
# CMLR recipe (Mandarin, see README.md): fine-tunes from the VoxCeleb2 pre-trained model.
#   ./run.sh                 speaker-dependent protocol (the corpus' own split)
#   ./run.sh --protocol si   speaker-independent protocol
set -euo pipefail

./lipsound2.sh \
  --lang zh \
  --protocol sd \
  --skip_pretrain true \
  --pretrain_model ../voxceleb2/exp/lipsound2_pretrain/valid.loss.best.pth \
  "$@"
