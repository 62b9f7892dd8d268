#!/usr/bin/env bash
# mini_grid: every stage on a generated GRID-layout corpus, on a CPU (see README.md).
#   ./run.sh                       speaker-dependent protocol, stages 0-8
#   ./run.sh --protocol si         speaker-independent protocol
#   ./run.sh --stage 2 --stop_stage 4 ...   any option of lipsound2.sh
set -euo pipefail

protocol=sd  # sd or si (must come first on the command line)
if [ "${1:-}" = --protocol ]; then
  protocol=$2
  shift 2
fi

./lipsound2.sh \
  --nj 2 \
  --inference_nj 2 \
  --lang en \
  --local_data_opts "--protocols ${protocol}" \
  --pretrain_train_set voxceleb2_train \
  --pretrain_valid_set voxceleb2_valid \
  --train_set "train_${protocol}" \
  --valid_set "dev_${protocol}" \
  --test_sets "test_${protocol}" \
  "$@"
