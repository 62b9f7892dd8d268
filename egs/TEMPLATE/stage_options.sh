# shellcheck shell=bash
# The options lipsound2.sh and lipreading.sh (its stage 7) share, declared once with their
# defaults and help (option_help of utils/stage_lib.sh lists them): both scripts source this
# before utils/parse_options.sh, and lipsound2.sh passes them all to lipreading.sh.
# shellcheck disable=SC2034  # the scripts that source this read the options

# Running
python=python3       # Python interpreter.
seed=0               # Random seed for training.
ngpu=0               # GPUs per training job (0: CPU); stage 7 also decodes on them.
inference_nj=4       # Parallel jobs for inference, vocoding and ASR decoding.

# Directories and sets
dumpdir=dump         # Face tracks, audio and features written by stages 1-2.
expdir=exp           # Experiments.
train_set=""         # Fine-tuning training set.
valid_set=""         # Fine-tuning validation set.
test_sets=""         # Sets to infer and score (space separated).

# Cascaded lip reading (stage 7)
asr_config=conf/asr.yaml              # ASR training config (from scratch on real audio).
asr_finetune_config=conf/asr_finetune.yaml  # ASR fine-tuning config on generated audio.
asr_pretrained_model=""               # A pre-trained ESPnet ASR: model file, experiment dir,
                                      # espnet2.bin.pack archive, or zoo tag (online).
asr_token_type=char                   # char, word (a closed vocabulary, e.g. GRID's) or bpe.
nbpe=100                              # sentencepiece vocabulary size when asr_token_type=bpe.
ngram_order=3                         # n-gram LM order (the paper: 6-gram on large text).
use_lm=true                           # Also decode with the n-gram LM.
asr_inference_config=conf/decode_asr.yaml  # Beam search settings (espnet2.bin.asr_inference).
asr_lr_factor=0.1                     # Fine-tuning lr = pre-trained peak lr x this (the paper: 10x smaller).

# check_shared_options: the shared options are well formed (usage_error of utils/stage_lib.sh)
check_shared_options() {
  local opt
  for opt in python dumpdir expdir asr_config asr_finetune_config asr_inference_config asr_lr_factor; do
    require "${opt}" ""
  done
  [[ ${asr_lr_factor} =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ && ${asr_lr_factor%%[eE]*} =~ [1-9] ]] ||
    usage_error "--asr_lr_factor must be a positive number; got '${asr_lr_factor}'"
  check_choice use_lm true false
  check_choice asr_token_type char word bpe
  check_int 0 seed ngpu ngram_order
  check_int 1 inference_nj nbpe
}
