#!/usr/bin/env bash
# VoxCeleb2 recipe (see README.md): cross-modal self-supervised pre-training (stages 0-3);
# the corpus recipes (grid, tcd_timit, cmlr) fine-tune from its model.
set -euo pipefail

./lipsound2.sh \
  --lang en \
  --stop_stage 3 \
  --pretrain_train_set voxceleb2_train \
  --pretrain_valid_set voxceleb2_valid \
  "$@"
