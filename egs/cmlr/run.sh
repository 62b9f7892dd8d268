#!/usr/bin/env bash
# CMLR recipe (Mandarin, see README.md): fine-tunes from the VoxCeleb2 pre-trained model.
#   ./run.sh                 speaker-dependent protocol (the corpus' own split)
#   ./run.sh --protocol si   speaker-independent protocol (test speakers s1, s6)
set -euo pipefail

protocol=sd  # sd or si (must come first on the command line)
if [ "${1:-}" = --protocol ]; then
  protocol=$2
  shift 2
fi

./lipsound2.sh \
  --lang zh \
  --local_data_opts "--protocol ${protocol}" \
  --skip_pretrain true \
  --pretrain_model ../voxceleb2/exp/pretrain_pretrain/valid.loss.best.pth \
  --train_set "train_${protocol}" \
  --valid_set "dev_${protocol}" \
  --test_sets "test_${protocol}" \
  "$@"
