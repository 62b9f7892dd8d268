#!/usr/bin/env bash
# GRID recipe (see README.md): fine-tunes from the VoxCeleb2 pre-trained model.
#   ./run.sh                 speaker-dependent protocol (s1-s4, 90:5:5)
#   ./run.sh --protocol si   speaker-independent protocol
set -euo pipefail

protocol=sd  # sd or si (must come first on the command line)
if [ "${1:-}" = --protocol ]; then
  protocol=$2
  shift 2
fi

./lipsound2.sh \
  --lang en \
  --local_data_opts "--protocol ${protocol}" \
  --skip_pretrain true \
  --pretrain_model ../voxceleb2/exp/pretrain_pretrain/valid.loss.best.pth \
  --train_set "train_${protocol}" \
  --valid_set "dev_${protocol}" \
  --test_sets "test_${protocol}" \
  "$@"
