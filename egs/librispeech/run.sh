#!/usr/bin/env bash
# LibriSpeech recipe (see README.md): audio-only pre-training of the LipSound2 decoder
# (stages 0-3); the corpus recipes fine-tune with it (--init_decoder_from).
set -euo pipefail

./lipsound2.sh \
  --lang en \
  --stop_stage 3 \
  --skip_pretrain true \
  --audio_pretrain true \
  --audio_pretrain_train_set librispeech_train_clean_100 \
  --audio_pretrain_valid_set librispeech_dev_clean \
  "$@"
