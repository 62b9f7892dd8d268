#!/usr/bin/env bash
# TCD-TIMIT recipe (see README.md): fine-tunes from the VoxCeleb2 pre-trained model.
#   ./run.sh                 speaker-dependent protocol (lipspeakers 1-3, 90:5:5)
#   ./run.sh --protocol si   speaker-independent protocol
set -euo pipefail

./lipsound2.sh \
  --lang en \
  --protocol sd \
  --skip_pretrain true \
  --pretrain_model ../voxceleb2/exp/lipsound2_pretrain/valid.loss.best.pth \
  "$@"
