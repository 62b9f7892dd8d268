#!/usr/bin/env bash
# The one LipSound2 stage script shared by every recipe: egs/<corpus>/run.sh calls it with the
# corpus' options (egs/<corpus>/lipsound2.sh links here).
#
#   ./lipsound2.sh --train_set <set> --valid_set <set> --test_sets "<sets>" [options]
#   ./lipsound2.sh --help
#
# Stages, as in the design reference:
#   0 data preparation        1 face tracks + 16 kHz audio   2 log-mel features (+ speech units)
#   3 pre-training            4 fine-tuning                  5 inference (video -> mel)
#   6 vocoding (mel -> wav)   7 cascaded lip reading (ASR, lipreading.sh)
#   8 scoring, RESULTS.md, report                              9 packing (one zip, from_pretrained)
#
# Order of this file: helpers, options, help, option parsing and environment, option
# resolution and checks (a bad option fails before any stage runs), derived names, stages.
# Variables that only one stage uses start with "_" and are set by that stage.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# ========================== Helpers ==========================

# log, step_done, step_mark, has_done (done markers keyed on settings and inputs)
# shellcheck source=../../utils/stage_lib.sh
. utils/stage_lib.sh

min() { if [ "$1" -le "$2" ]; then echo "$1"; else echo "$2"; fi; }
# unique WORD...: the words, each once, in their first order
unique() {
  local w out=""
  for w in "$@"; do
    case " ${out} " in *" ${w} "*) ;; *) out="${out:+${out} }${w}" ;; esac
  done
  echo "${out}"
}

# Option checks
usage_error() {
  log "Error: $*; see $0 --help"
  exit 1
}
# check_choice NAME CHOICE...: option --NAME is one of CHOICE...
check_choice() {
  local name=$1 choice
  shift
  for choice in "$@"; do [ "${!name}" != "${choice}" ] || return 0; done
  usage_error "--${name} must be one of: $*; got '${!name}'"
}
# check_int MIN NAME...: each option --NAME is a whole number, at least MIN
check_int() {
  local least=$1 name
  shift
  for name in "$@"; do
    if ! [[ ${!name} =~ ^[0-9]+$ ]] || [ "${!name}" -lt "${least}" ]; then
      usage_error "--${name} must be a whole number >= ${least}; got '${!name}'"
    fi
  done
}
# require NAME WHY: option --NAME is not empty
require() { [ -n "${!1// /}" ] || usage_error "--$1 is required $2"; }
# stage_runs N: whether --stage .. --stop_stage takes in stage N
stage_runs() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }

config_tag() { basename "$1" .yaml; }

# split_for_jobs MAX_JOBS SCP PREFIX: split SCP into PREFIX.1.scp .. PREFIX.N.scp with
# N = min(MAX_JOBS, lines of SCP), and set _nj to N.
split_for_jobs() {
  local n parts=()
  _nj=$(min "$1" "$(wc -l <"$2")")
  for n in $(seq "${_nj}"); do parts+=("$3.${n}.scp"); done
  utils/split_scp.sh "$2" "${parts[@]}"
}

# merge_job_tables PATTERN OUT: the _nj job tables PATTERN (JOB standing for 1.._nj), sorted,
# into OUT through a temporary name.
merge_job_tables() {
  local n tmp
  tmp=$(dirname "$2")/.$(basename "$2").tmp
  for n in $(seq "${_nj}"); do cat "${1//JOB/${n}}"; done | sort >"${tmp}"
  mv "${tmp}" "$2"
}

# Whether stage 3 pre-trains (it does not when told to skip or given a pre-trained model).
pretrains() { [ "${skip_pretrain}" = false ] && [ -n "${pretrain_train_set}" ] && [ -z "${pretrain_model}" ]; }

# Stages 3-4: train with ESPnet's trainer through its launcher (local, Slurm, multi-GPU,
# multi-node). Usage: train_lipsound2 KIND EXP CONFIG TRAIN_SET VALID_SET STATS [trainer args]
# KIND: av (LipSound2 on face tracks and mel) or audio (the decoder's audio pre-training on
# the mel alone, whose decoder fits --train_config's model). STATS: mel statistics to
# normalise with (those of the model fine-tuned from); empty: the training set's. A finished
# run is skipped; an interrupted one resumes from EXP/checkpoint.pth.
train_lipsound2() {
  local kind=$1 exp=$2 config=$3 tset=$4 vset=$5 stats=$6
  shift 6
  local dset f n_mels units=false split key inputs=(video.scp feats.scp)
  # A model with a unit head (model_conf unit_weight > 0) also reads stage 2's units; an audio
  # model reads the mel alone, and its decoder's settings from --train_config.
  key=(--conf "train=${config}")
  if [ "${kind}" = audio ]; then
    inputs=(feats.scp)
    key+=(--conf "lipsound2=${train_config}"
      --sections "lipsound2=model_conf.decoder_conf,model_conf.postnet_conf,model_conf.encoder_conf,model_conf.in_channels,model_conf.image_size")
  else
    units=$(${python} -m lipsound2.bin.config_query unit_head "${config}")
    [ "${units}" = false ] || inputs+=(units.scp)
  fi
  # Keyed on the configs' content, the trainer's arguments (init models by their files), the
  # data tables and the seed; an edit trains again from scratch, an interruption resumes.
  key+=(--opt "args=$*" --opt "seed=${seed}" --opt "feats_normalize=${feats_normalize}" ${stats:+--file "${stats}"})
  for f in "$@"; do
    [ ! -f "${f%%:*}" ] || key+=(--file "${f%%:*}")
  done
  for dset in "${tset}" "${vset}"; do
    for f in "${inputs[@]}"; do key+=(--table "${dumpdir}/${dset}/${f}"); done
  done
  # (the oracle dirs there are the vocoded ground truth, not this model's: they stay)
  if step_done "${_stage_no}" "${exp} (training)" "${exp}" train "${key[@]}" --stale "${exp}/*" --stale "${exp}/.done.*" \
    --keep "${exp}/oracle_*"; then
    return 0
  fi
  # the experiment records the settings its training data were made with
  mkdir -p "${exp}"
  if [ -f "${dumpdir}/${tset}/frontend.yaml" ]; then
    cp "${dumpdir}/${tset}/frontend.yaml" "${exp}/.frontend.yaml.tmp" && mv "${exp}/.frontend.yaml.tmp" "${exp}/frontend.yaml"
  else
    log "WARNING: ${dumpdir}/${tset} records no front-end settings (made before they were recorded): taking ${frontend_config}"
    ${python} -m lipsound2.bin.frontend_settings write --frontend_config "${frontend_config}" --out "${exp}/frontend.yaml"
  fi
  n_mels=$(${python} -m lipsound2.bin.config_query n_mels "${exp}/frontend.yaml")
  local module=lipsound2.bin.train needed=(video.scp feats.scp utt2num_vframes utt2num_frames) data_args=()
  if [ "${kind}" = audio ]; then
    module=lipsound2.bin.train_audio
    needed=(feats.scp utt2num_frames)
    data_args=(--lipsound2_config "${train_config}")
  fi
  if [ "${units}" = true ]; then
    data_args=(--train_data_path_and_name_and_type "${dumpdir}/${tset}/units.scp,units,kaldi_ark"
      --valid_data_path_and_name_and_type "${dumpdir}/${vset}/units.scp,units,kaldi_ark")
  fi
  for split in train valid; do
    dset=${tset}
    [ "${split}" = train ] || dset=${vset}
    for f in "${needed[@]}"; do
      [ -f "${dumpdir}/${dset}/${f}" ] || { log "missing ${dumpdir}/${dset}/${f}: run stages 1-2 first"; exit 1; }
    done
    # ESPnet's length-bucketed batch samplers read these shape files.
    mkdir -p "${exp}/shapes/${dset}"
    if [ "${kind}" = av ]; then
      awk '{print $1 " " $2}' "${dumpdir}/${dset}/utt2num_vframes" >"${exp}/shapes/${dset}/video_shape"
      data_args+=(--"${split}"_data_path_and_name_and_type "${dumpdir}/${dset}/video.scp,video,face_track"
        --"${split}"_shape_file "${exp}/shapes/${dset}/video_shape")
    fi
    awk -v n_mels="${n_mels}" '{print $1 " " $2 "," n_mels}' "${dumpdir}/${dset}/utt2num_frames" >"${exp}/shapes/${dset}/feats_shape"
    data_args+=(--"${split}"_data_path_and_name_and_type "${dumpdir}/${dset}/feats.scp,feats,kaldi_ark"
      --"${split}"_shape_file "${exp}/shapes/${dset}/feats_shape")
    if [ "${units}" = true ]; then
      [ -f "${dumpdir}/${dset}/units.scp" ] || { log "${config} has a unit head (unit_weight > 0) but ${dumpdir}/${dset}/units.scp is missing: run stage 2 with --unit_type"; exit 1; }
      # only utterances with units (stage 2 lists the others in units_rejects)
      for f in video_shape feats_shape; do
        awk 'NR == FNR { has[$1]; next } $1 in has' "${dumpdir}/${dset}/units.scp" "${exp}/shapes/${dset}/${f}" \
          >"${exp}/shapes/${dset}/${f}.tmp" && mv "${exp}/shapes/${dset}/${f}.tmp" "${exp}/shapes/${dset}/${f}"
      done
    fi
  done
  local norm_args=()
  if [ "${feats_normalize}" = global_mvn ]; then
    if [ ! -f "${exp}/feats_stats.npz" ]; then
      if [ -n "${stats}" ]; then
        cp "${stats}" "${exp}/.feats_stats.npz.tmp" && mv "${exp}/.feats_stats.npz.tmp" "${exp}/feats_stats.npz"
      else
        log "Mel statistics of ${tset}: ${exp}/feats_stats.npz"
        ${python} -m lipsound2.bin.feats_stats "${dumpdir}/${tset}/feats.scp" "${exp}/feats_stats.npz"
      fi
    fi
    norm_args=(--normalize global_mvn --normalize_conf "stats_file=${exp}/feats_stats.npz")
  fi
  log "Training ${exp} (config ${config}); log: ${exp}/train.log"
  # shellcheck disable=SC2086
  ${python} -m espnet2.bin.launch \
    --cmd "${cuda_cmd}" \
    --log "${exp}/train.log" \
    --ngpu "${ngpu}" \
    --num_nodes "${num_nodes}" \
    --init_file_prefix "${exp}/.dist_init_" \
    --multiprocessing_distributed true -- \
    ${python} -m "${module}" \
    --config "${config}" \
    --frontend_config "${exp}/frontend.yaml" \
    --output_dir "${exp}" \
    --seed "${seed}" \
    --resume true \
    "${data_args[@]}" "${norm_args[@]}" "$@"
  step_mark "${exp}" train "${key[@]}"
}

SECONDS=0

# ========================== Options ==========================

# General options
stage=0              # First stage to run.
stop_stage=10000     # Last stage to run.
nj=4                 # Parallel jobs for data processing and scoring.
inference_nj=4       # Parallel jobs for inference, vocoding and ASR decoding.
ngpu=0               # GPUs per training job (0: CPU).
num_nodes=1          # Nodes for multi-node training (Slurm through cmd.sh).
python=python3       # Python interpreter.
seed=0               # Random seed for training.
paper_settings=false # true: the paper's own settings wherever this toolkit has them; they replace
                     # the options they name (see "Paper settings" below and README.md).

# Directories
datadir=data         # Kaldi data directories written by stage 0.
dumpdir=dump         # Face tracks, audio and features written by stages 1-2.
expdir=exp           # Experiments.

# Data
local_data_opts=""   # Options passed to local/data.sh.
protocol=""          # Split protocol of local/data.sh (sd, si, ...: the recipe's README): passed to
                     # it as --protocol, and names the sets train_<protocol>, dev_<protocol>,
                     # test_<protocol> unless they are given.
train_set=""         # Fine-tuning training set.
valid_set=""         # Fine-tuning validation set.
test_sets=""         # Sets to infer and score (space separated).
pretrain_train_set=""  # Pre-training set (stage 3); empty: no pre-training sets to prepare.
pretrain_valid_set=""  # Pre-training validation set.
lang=en              # Language of the transcripts: en (WER) or zh (CER).

# Front end (stages 1-2; its mel settings also reach stages 3-6)
frontend_config=conf/frontend.yaml  # Face detection, tracking, crop, audio and mel settings.
max_reject_share=0.1                # A stage fails when more than this share is rejected.

# Speech units (an optional second step of stage 2; docs/units.md)
unit_type=none                      # none, logmel, mfcc, hubert, wav2vec2 or whisper: the content encoder.
unit_k=200                          # k-means clusters (units).
unit_encoder_file=""                # hubert/wav2vec2: the user's checkpoint (torchaudio state dict);
                                    # whisper: another CTranslate2 Whisper dir (empty: the judge's tiny.en).
unit_encoder_config=""              # hubert/wav2vec2: its architecture (torchaudio wav2vec2_model
                                    # arguments, YAML); empty: the base model.
unit_layer=""                       # hubert/wav2vec2: transformer layer whose output is clustered
                                    # (empty: 6); whisper: must stay empty (only its last layer exists).
unit_max_fit_frames=100000          # Training-set frames the k-means fit samples at most (with --seed).

# Pre-training and fine-tuning (stages 3-4)
pretrain_config=conf/pretrain.yaml  # Training config for stage 3.
pretrain_tag=""                     # Name of the pre-training experiment (default: from config).
pretrain_args=""                    # Extra arguments for the stage 3 trainer (e.g. "--max_epoch 12").
pretrain_model=""                   # A pre-trained model file to fine-tune from instead of stage 3.
skip_pretrain=false                 # Skip stage 3 (fine-tune from pretrain_model or from scratch).
train_config=conf/train.yaml        # Training config for stage 4.
train_tag=""                        # Name of the fine-tuning experiment (default: from config).
train_args=""                       # Extra arguments for the stage 4 trainer.
init_from_pretrain=true             # Initialise stage 4 from the pre-trained model.
ss_restart=true                     # Stage 4 starts scheduled sampling's update count at 0, not
                                    # at the count of the model it is initialised from.
feats_normalize=global_mvn          # Mel target normalisation: global_mvn (ESPnet's GlobalMVN) or none.

# Audio-only pre-training of the decoder (stage 3) and its transfer (stage 4); docs/audio_pretraining.md
audio_pretrain=false                # true: stage 3 also pre-trains the decoder side on audio alone.
audio_pretrain_train_set=""         # Audio-only training set (stages 0-2 prepare it: no video.scp).
audio_pretrain_valid_set=""         # Its validation set.
audio_pretrain_config=conf/train_audio.yaml  # Training config of the audio model (its decoder is
                                    # --train_config's: the task takes it from there).
audio_pretrain_tag=""               # Name of the audio experiment (default: from config).
init_decoder_from=""                # Stage 4 takes the decoder side (attention, LSTMs, PreNet,
                                    # projection, PostNet) and the mel statistics from this model file;
                                    # empty: stage 3's audio model with --audio_pretrain true, else none.

# Inference (stage 5)
inference_config=conf/inference.yaml  # Decoding config (stop mode, max steps).
inference_model=valid.loss.best.pth   # Model file in the experiment directory.
inference_tag=""                      # Decode dirs are <train_exp>/decode_<set>_<inference_tag>
                                      # (default: <inference config name>_<model file name>).
num_plots=3                           # Utterances per set with attention / mel figures.
infer_train=true                      # Also infer the train set (stage 7 fine-tunes the ASR on its speech).
gpu_inference=false                   # Decode on a GPU: cuda_cmd with --gpu 1, --device cuda (int8 becomes fp32).

# Vocoder (stage 6)
vocoder_type=griffin_lim              # griffin_lim, hifigan, or hifigan_units (mel + speech units:
                                      # needs units from stage 2's --unit_type, and in decode dirs).
vocoder_config=conf/vocoder.yaml      # Vocoder settings (and HiFi-GAN training config; its speaker
                                      # section gives hifigan_units a speaker embedding input).
vocoder_file=""                       # A vocoder checkpoint the user brings (skips training).
vocode_oracle=true                    # Also vocode the test sets' ground-truth mel (the oracle rows).

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

# Scoring (stage 8)
judges="whisper pocketsphinx"         # Off-the-shelf judge ASRs, English only (docs/vocoders_asr_scoring.md).
judge_model=""                        # The whisper judge's CTranslate2 dir; empty: the installed tiny.en.
score_label=LipSound2                 # Row label of this experiment in RESULTS.md.
score_extra_exps=""                   # More rows, ';'-separated "LABEL=DIR" (DIR may hold {set}, and
                                      # {decode} for decode_{set}_<inference_tag>), e.g.
                                      # "LipSound2 (from scratch)=exp/lipsound2_scratch/{decode}".

# Packing (stage 9)
pack_file=""                          # The zip to write (default: <train_exp>/<train_tag>_<inference_model>.zip).
pack_corpus=""                        # Corpus name on the model card (default: the recipe folder's name).

help_message=$(cat <<HELP
Usage: $0 --train_set <set> --valid_set <set> --test_sets "<sets>" [options]

Runs the LipSound2 stages: 0 data, 1 face tracks + audio, 2 mel (+ units), 3 pre-train,
4 fine-tune, 5 infer, 6 vocode, 7 lip reading ASR (lipreading.sh), 8 scoring and report,
9 pack the model (one zip for Video2Speech.from_pretrained and lipsound2-speak).

Options (defaults in brackets):
  --stage / --stop_stage      first / last stage [${stage} / ${stop_stage}]
  --paper_settings            the paper's settings: train_paper.yaml, no target normalisation,
                              fp32 inference, HiFi-GAN, 6-gram LM, ASR lr x 0.1 [${paper_settings}]
  --nj / --inference_nj       parallel jobs [${nj} / ${inference_nj}]
  --ngpu / --num_nodes        GPUs per job / nodes for training [${ngpu} / ${num_nodes}]
  --python                    Python interpreter [${python}]
  --seed                      random seed for training [${seed}]
  --datadir / --dumpdir / --expdir   output directories [${datadir} / ${dumpdir} / ${expdir}]
  --local_data_opts           options for local/data.sh ["${local_data_opts}"]
  --protocol                  split protocol of local/data.sh (sd, si, ...: the recipe's README);
                              sets train_/dev_/test_<protocol> ["${protocol}"]
  --train_set / --valid_set / --test_sets   fine-tuning and test sets
  --pretrain_train_set / --pretrain_valid_set   pre-training sets (stage 3)
  --lang                      en (WER) or zh (CER) [${lang}]
  --frontend_config           front-end settings [${frontend_config}]
  --max_reject_share          fail a stage above this reject share [${max_reject_share}]
  --unit_type                 speech units after the mel (stage 2): none, logmel, mfcc, hubert,
                              wav2vec2 or whisper [${unit_type}]; one unit per mel frame in dump/<set>/units.scp
  --unit_k / --unit_layer / --unit_max_fit_frames   k-means clusters, encoder layer (hubert/wav2vec2;
                              empty: 6), fit sample [${unit_k} / '${unit_layer}' / ${unit_max_fit_frames}]
  --unit_encoder_file / --unit_encoder_config   hubert/wav2vec2 checkpoint and architecture;
                              whisper: a CTranslate2 Whisper dir (empty: tiny.en)
  --pretrain_config / --pretrain_tag / --pretrain_args / --pretrain_model / --skip_pretrain
  --train_config / --train_tag / --train_args / --init_from_pretrain
  --ss_restart                restart the scheduled-sampling schedule in stage 4 [${ss_restart}]
  --feats_normalize           global_mvn or none [${feats_normalize}]; a fine-tuned model keeps
                              the statistics of the model its decoder comes from
  --audio_pretrain            stage 3 also pre-trains the decoder on audio alone [${audio_pretrain}]
  --audio_pretrain_train_set / --audio_pretrain_valid_set   its audio-only sets (no video.scp)
  --audio_pretrain_config / --audio_pretrain_tag   its config [${audio_pretrain_config}] and name
  --init_decoder_from         stage 4 takes the decoder side from this model file [stage 3's
                              audio model with --audio_pretrain true, else none]; freezing it for
                              N updates: model_conf freeze_decoder_updates in --train_config
  --inference_config / --inference_model / --num_plots / --infer_train / --gpu_inference
  --inference_tag             decode dirs are decode_<set>_<tag> [<inference config>_<model file>]
  --vocoder_type              griffin_lim, hifigan or hifigan_units [${vocoder_type}]; hifigan_units
                              reads units.scp beside each feats.scp (stage 2 --unit_type for dump)
  --vocoder_config / --vocoder_file / --vocode_oracle
  --asr_config / --asr_finetune_config / --asr_pretrained_model
  --asr_token_type            char, word or bpe [${asr_token_type}]
  --nbpe / --ngram_order / --use_lm
  --asr_inference_config      ASR beam search settings [${asr_inference_config}]
  --asr_lr_factor             fine-tuning lr / pre-trained peak lr [${asr_lr_factor}]
  --judges                    off-the-shelf judge ASRs for intelligibility, each its own WER
                              table: whisper and/or pocketsphinx, or none ["${judges}"]
  --judge_model               the whisper judge's CTranslate2 dir [installed tiny.en]
  --score_label               this experiment's row label [${score_label}]
  --score_extra_exps          more rows: ';'-separated "LABEL=DIR" ({set} = test set name,
                              {decode} = decode_{set}_<inference_tag>)
  --pack_file                 the pack stage 9 writes [<train_exp>/<train_tag>_<inference_model>.zip]
  --pack_corpus               corpus name on the pack's model card [the recipe folder's name]
HELP
)

log "$0 $*"
run_args=$(printf '%q ' "$@")
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || usage_error "unexpected arguments: $*"
# shellcheck disable=SC1091
. ./path.sh
# shellcheck source=cmd.sh
. ./cmd.sh

# ========================== Options resolved and checked ==========================

for _opt in paper_settings skip_pretrain init_from_pretrain ss_restart infer_train gpu_inference vocode_oracle use_lm audio_pretrain; do
  check_choice "${_opt}" true false
done
check_choice lang en zh
check_choice feats_normalize global_mvn none
check_choice vocoder_type griffin_lim hifigan hifigan_units
check_choice asr_token_type char word bpe
check_choice unit_type none logmel mfcc hubert wav2vec2 whisper
for _judge in ${judges}; do
  case ${_judge} in
    whisper | pocketsphinx) ;;
    none) [ "${judges// /}" = none ] || usage_error "--judges none stands alone; got '${judges}'" ;;
    *) usage_error "--judges takes whisper, pocketsphinx or none; got '${_judge}'" ;;
  esac
done
check_int 0 stage stop_stage ngpu seed num_plots ngram_order
check_int 1 nj inference_nj num_nodes nbpe unit_max_fit_frames
[ -z "${unit_layer}" ] || check_int 1 unit_layer
check_int 2 unit_k
[[ ${protocol} =~ ^[A-Za-z0-9_]*$ ]] || usage_error "--protocol must be a word (it names the sets); got '${protocol}'"

# Paper settings: what the paper used, where this toolkit has it. What cannot be the paper's
# (WaveGlow, Jasper, MTCNN, the LM's large text) stays listed in RESULTS.md's differences.
if [ "${paper_settings}" = true ]; then
  _paper_conf=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/conf
  pretrain_config=${_paper_conf}/train_paper.yaml
  train_config=${_paper_conf}/train_paper.yaml
  inference_config=${_paper_conf}/inference_paper.yaml
  feats_normalize=none
  vocoder_type=hifigan
  use_lm=true
  ngram_order=6
  asr_lr_factor=0.1
  log "Paper settings: --train_config/--pretrain_config ${train_config}, --inference_config ${inference_config}," \
    "--feats_normalize none, --vocoder_type hifigan, --ngram_order 6, --asr_lr_factor 0.1"
  [ -n "${asr_pretrained_model}" ] || log "Paper settings: the paper fine-tunes a pre-trained ASR; give --asr_pretrained_model"
fi

# The protocol names the sets that are not given.
if [ -n "${protocol}" ]; then
  [ -n "${train_set}" ] || train_set=train_${protocol}
  [ -n "${valid_set}" ] || valid_set=dev_${protocol}
  [ -n "${test_sets}" ] || test_sets=test_${protocol}
  local_data_opts="--protocol ${protocol} ${local_data_opts}"
fi

# What the stages that run need from the options
if stage_runs 0 || stage_runs 1 || stage_runs 2; then
  [ -n "${pretrain_train_set}${pretrain_valid_set}${train_set}${valid_set}${test_sets// /}${audio_pretrain_train_set}${audio_pretrain_valid_set}" ] ||
    usage_error "stages 0-2 need sets: --protocol, --train_set, --valid_set, --test_sets, --pretrain_train_set or --audio_pretrain_train_set"
fi
if stage_runs 2 && [ "${unit_type}" != none ]; then
  require train_set "to fit the units' k-means (--unit_type ${unit_type})"
  if [ "${unit_type}" = hubert ] || [ "${unit_type}" = wav2vec2 ]; then
    require unit_encoder_file "with --unit_type ${unit_type}"
    [ -f "${unit_encoder_file}" ] || usage_error "--unit_encoder_file ${unit_encoder_file} does not exist"
    [ -z "${unit_encoder_config}" ] || [ -f "${unit_encoder_config}" ] ||
      usage_error "--unit_encoder_config ${unit_encoder_config} does not exist"
  elif [ "${unit_type}" = whisper ]; then
    [ -z "${unit_layer}" ] ||
      usage_error "--unit_layer ${unit_layer}: whisper units come from the encoder's last layer only (CTranslate2); leave it empty"
    [ -z "${unit_encoder_file}" ] || [ -d "${unit_encoder_file}" ] ||
      usage_error "--unit_encoder_file ${unit_encoder_file}: not a CTranslate2 Whisper dir"
  fi
fi
if stage_runs 3 && pretrains; then
  require pretrain_valid_set "with --pretrain_train_set (stage 3)"
fi
if stage_runs 3 && [ "${audio_pretrain}" = true ]; then
  require audio_pretrain_train_set "with --audio_pretrain true (stage 3)"
  require audio_pretrain_valid_set "with --audio_pretrain true (stage 3)"
  [ -f "${audio_pretrain_config}" ] || usage_error "--audio_pretrain_config ${audio_pretrain_config} does not exist"
  [ -f "${train_config}" ] || usage_error "--train_config ${train_config} does not exist (the audio model takes its decoder settings)"
fi
if stage_runs 4; then
  require train_set "(stage 4)"
  require valid_set "(stage 4)"
  [ -z "${pretrain_model}" ] || [ -f "${pretrain_model}" ] || usage_error "--pretrain_model ${pretrain_model} does not exist"
  [ -z "${init_decoder_from}" ] || [ -f "${init_decoder_from}" ] || usage_error "--init_decoder_from ${init_decoder_from} does not exist"
fi
if stage_runs 6; then
  if [ "${vocoder_type}" != griffin_lim ] && [ -z "${vocoder_file}" ]; then
    require train_set "to train HiFi-GAN (stage 6 without --vocoder_file)"
  fi
  [ -z "${vocoder_file}" ] || [ -f "${vocoder_file}" ] || usage_error "--vocoder_file ${vocoder_file} does not exist"
fi
if stage_runs 7; then
  require train_set "(stage 7)"
  require valid_set "(stage 7)"
fi
if stage_runs 8; then
  require test_sets "(stage 8)"
fi
if stage_runs 9; then
  [ -z "${vocoder_file}" ] || [ -f "${vocoder_file}" ] || usage_error "--vocoder_file ${vocoder_file} does not exist"
fi

# ========================== Derived names ==========================

[ -n "${pretrain_tag}" ] || pretrain_tag=lipsound2_$(config_tag "${pretrain_config}")
[ -n "${train_tag}" ] || train_tag=lipsound2_$(config_tag "${train_config}")
pretrain_exp=${expdir}/${pretrain_tag}
[ -n "${audio_pretrain_tag}" ] || audio_pretrain_tag=audio_$(config_tag "${audio_pretrain_config}")
audio_pretrain_exp=${expdir}/${audio_pretrain_tag}
train_exp=${expdir}/${train_tag}
# Decode dirs are named by what decoded them, as ESPnet's: another inference config or model
# file gets a dir of its own beside the first.
_model_tag=${inference_model%.pth}
[ -n "${inference_tag}" ] || inference_tag=$(config_tag "${inference_config}")_${_model_tag//\//_}
decode_dir() { echo "${train_exp}/decode_$1_${inference_tag}"; }
units_exp=${expdir}/units_${unit_type}_k${unit_k}
[ -n "${pack_file}" ] || pack_file=${train_exp}/${train_tag}_${inference_model%.pth}.zip
[ -n "${pack_corpus}" ] || pack_corpus=$(basename "$(pwd)")

# Every set, once: stages 0-2 prepare them.
# shellcheck disable=SC2086  # the test sets are a space-separated list
all_sets=$(unique ${pretrain_train_set} ${pretrain_valid_set} ${train_set} ${valid_set} ${test_sets} \
  ${audio_pretrain_train_set} ${audio_pretrain_valid_set})

# The vocoder checkpoint of stages 6 and 8: the user's, or the HiFi-GAN stage 6 trains (the
# mel + units one in a folder of its own, since both read the same config).
vocoder_exp=${expdir}/vocoder_$(config_tag "${vocoder_config}")
[ "${vocoder_type}" != hifigan_units ] || vocoder_exp=${expdir}/vocoder_units_$(config_tag "${vocoder_config}")
vocoder_ckpt=${vocoder_file}
if [ "${vocoder_type}" != griffin_lim ] && [ -z "${vocoder_file}" ]; then
  vocoder_ckpt=${vocoder_exp}/vocoder.pth
fi

# The data carry the front-end settings they were made with (dump/<set>/frontend.yaml). Stages
# that read them refuse --frontend_config when it disagrees, unless the stages that make them
# run too: stage 1 remakes everything, stage 2 the mel.
if [ "${stop_stage}" -ge 2 ] && ! stage_runs 1; then
  _sections=()
  stage_runs 2 && _sections=(--sections stage1)
  for dset in ${all_sets}; do
    [ ! -f "${dumpdir}/${dset}/frontend.yaml" ] ||
      ${python} -m lipsound2.bin.frontend_settings compare --frontend_config "${frontend_config}" \
        --data_settings "${dumpdir}/${dset}/frontend.yaml" "${_sections[@]}" ||
      usage_error "--frontend_config ${frontend_config} is not what ${dumpdir}/${dset} was made with (above): run from stage 1$(stage_runs 2 || echo ' or 2') to remake the data"
  done
fi

mkdir -p "${expdir}"
echo "${run_args}" >>"${expdir}/run_args.log"

# ========================== Main stages start here ==========================

if [ "${stage}" -le 0 ] && [ "${stop_stage}" -ge 0 ]; then
  log "Stage 0: data preparation"
  # Keyed on local/data.sh, its options, the corpus locations of db.sh, and the corpus files
  # the data dirs list (with their folders: a clip added, removed or exchanged prepares again).
  _key=(--file local/data.sh --opt "local_data_opts=${local_data_opts}")
  # shellcheck disable=SC2013  # db.sh exports the corpus variables by name
  for _var in $(sed -n 's/^export //p' db.sh); do
    _key+=(--opt "${_var}=$(. ./db.sh && echo "${!_var}")")
  done
  for dset in ${all_sets}; do
    _key+=(--corpus "${datadir}/${dset}/video.scp" --corpus "${datadir}/${dset}/wav.scp" --table "${datadir}/${dset}/text")
  done
  if ! step_done 0 "${datadir}" "${datadir}" data_prep "${_key[@]}"; then
    # shellcheck disable=SC2086  # local_data_opts holds several options
    local/data.sh --datadir "${datadir}" ${local_data_opts}
    for dset in ${all_sets}; do
      [ -d "${datadir}/${dset}" ] || { log "local/data.sh made no set '${dset}' in ${datadir}"; exit 1; }
      _vopts=(--no-feats)
      [ -f "${datadir}/${dset}/video.scp" ] || _vopts+=(--no-video)  # audio only
      [ -f "${datadir}/${dset}/wav.scp" ] || _vopts+=(--no-wav)
      [ -f "${datadir}/${dset}/text" ] || _vopts+=(--no-text)
      utils/validate_data_dir.sh "${_vopts[@]}" "${datadir}/${dset}"
    done
    step_mark "${datadir}" data_prep "${_key[@]}"
  fi
fi

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
  log "Stage 1: face tracks and 16 kHz audio"
  for dset in ${all_sets}; do
    _src=${datadir}/${dset}
    _dst=${dumpdir}/${dset}
    # a redo removes the set's dump (tracks, audio, mel, units) and its markers
    # (and on its own outputs, so tracks that moved or vanished are made again)
    _key=(--conf "frontend=${frontend_config}" --sections frontend=stage1
      --table "${_src}/video.scp" --table "${_src}/wav.scp" --table "${_dst}/video.scp" --table "${_dst}/wav.scp")
    step_done 1 "${_dst} (tracks, audio)" "${_dst}" stage1 "${_key[@]}" --stale "${_dst}/*" --stale "${_dst}/.done.*" &&
      continue
    mkdir -p "${_dst}"
    # the settings travel with the data, and the jobs read this copy: an edit of the conf
    # while they run changes neither (stage 2 writes it again with its mel settings)
    ${python} -m lipsound2.bin.frontend_settings write --frontend_config "${frontend_config}" --out "${_dst}/frontend.yaml"
    if [ ! -f "${_src}/video.scp" ]; then
      # audio only: no face tracks; stage 2 decodes and resamples the audio it lists
      log "Stage 1: ${dset} is audio only: its tables are copied for stage 2"
      for _f in wav.scp utt2spk spk2utt text; do
        [ ! -f "${_src}/${_f}" ] || cp "${_src}/${_f}" "${_dst}/${_f}"
      done
      utils/validate_data_dir.sh --no-feats --no-video "${_dst}"
    else
      _logdir=${_dst}/logs/stage1
      mkdir -p "${_logdir}"
      split_for_jobs "${nj}" "${_src}/video.scp" "${_logdir}/video"
      # Without wav.scp the audio comes from the video files themselves.
      _wav_opts=()
      [ ! -f "${_src}/wav.scp" ] || _wav_opts=(--wav_scp "${_src}/wav.scp")
      log "Stage 1: ${dset}: ${_nj} jobs, logs in ${_logdir}/prepare_av.*.log"
      ${train_cmd} JOB=1:"${_nj}" "${_logdir}/prepare_av.JOB.log" \
        "${python}" -m lipsound2.bin.prepare_av --frontend_config "${_dst}/frontend.yaml" \
        --video_scp "${_logdir}/video.JOB.scp" "${_wav_opts[@]}" \
        --media_dir "${_dst}/data" --out_dir "${_logdir}/output.JOB" --job_tag JOB
      _outputs=()
      for n in $(seq "${_nj}"); do _outputs+=("${_logdir}/output.${n}"); done
      rm -f "${_dst}/rejects"
      "${python}" -m lipsound2.bin.merge_jobs --name "Stage 1 ${dset}" --src_dir "${_src}" --dst_dir "${_dst}" \
        --tables video.scp wav.scp utt2num_vframes --max_reject_share "${max_reject_share}" "${_outputs[@]}"
      utils/validate_data_dir.sh --no-feats "${_dst}"
    fi
    step_mark "${_dst}" stage1 "${_key[@]}"
  done
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
  log "Stage 2: log-mel features"
  for dset in ${all_sets}; do
    _dst=${dumpdir}/${dset}
    has_done "${_dst}" stage1 || { log "Stage 2: ${_dst} has no finished stage 1"; exit 1; }
    _key=(--conf "frontend=${frontend_config}" --sections frontend=stage2
      --table "${_dst}/wav.scp" --table "${_dst}/utt2num_vframes" --table "${_dst}/feats.scp")
    step_done 2 "${_dst} (mel)" "${_dst}" stage2 "${_key[@]}" --stale "${_dst}/data/feats.*" \
      --stale "${_dst}/feats.scp" --stale "${_dst}/utt2num_frames" --stale "${_dst}/logs/stage2" && continue
    _logdir=${_dst}/logs/stage2
    mkdir -p "${_logdir}"
    ${python} -m lipsound2.bin.frontend_settings write --frontend_config "${frontend_config}" --out "${_dst}/frontend.yaml"
    split_for_jobs "${nj}" "${_dst}/wav.scp" "${_logdir}/wav"
    # the mel length is checked against the video's, where there is video
    _vframes_opts=()
    _vopts=()
    if [ -f "${_dst}/utt2num_vframes" ]; then
      _vframes_opts=(--utt2num_vframes "${_dst}/utt2num_vframes")
    else
      _vopts=(--no-video)
    fi
    log "Stage 2: ${dset}: ${_nj} jobs, logs in ${_logdir}/extract_mel.*.log"
    ${train_cmd} JOB=1:"${_nj}" "${_logdir}/extract_mel.JOB.log" \
      "${python}" -m lipsound2.bin.extract_mel --frontend_config "${_dst}/frontend.yaml" \
      --wav_scp "${_logdir}/wav.JOB.scp" "${_vframes_opts[@]}" \
      --ark "${_dst}/data/feats.JOB.ark" --out_dir "${_logdir}/output.JOB"
    _outputs=()
    for n in $(seq "${_nj}"); do _outputs+=("${_logdir}/output.${n}"); done
    "${python}" -m lipsound2.bin.merge_jobs --name "Stage 2 ${dset}" --src_dir "${_dst}" --dst_dir "${_dst}" \
      --tables feats.scp utt2num_frames --max_reject_share "${max_reject_share}" "${_outputs[@]}"
    utils/validate_data_dir.sh "${_vopts[@]}" "${_dst}"
    step_mark "${_dst}" stage2 "${_key[@]}"
  done

  # Speech units, one per mel frame, from a k-means model fitted on the training set's frames
  # (${units_exp}): a refit makes every set's units again; a set whose mel changed, its own.
  if [ "${unit_type}" != none ]; then
    _unit_opts=(--opt "unit_type=${unit_type}" --opt "unit_k=${unit_k}" --opt "unit_layer=${unit_layer}"
      --opt "unit_encoder_file=${unit_encoder_file}" --opt "unit_max_fit_frames=${unit_max_fit_frames}"
      --opt "seed=${seed}")
    [ -z "${unit_encoder_file}" ] || _unit_opts+=(--file "${unit_encoder_file}")
    [ -z "${unit_encoder_config}" ] || _unit_opts+=(--conf "unit_encoder=${unit_encoder_config}")
    _kmeans_key=("${_unit_opts[@]}" --table "${dumpdir}/${train_set}/feats.scp")
    _stale=()
    for dset in ${all_sets}; do _stale+=(--stale "${dumpdir}/${dset}/units*" --stale "${dumpdir}/${dset}/.done.units"); done
    step_done 2 "${units_exp} (k-means)" "${units_exp}" kmeans "${_kmeans_key[@]}" \
      --stale "${units_exp}/kmeans.npz" "${_stale[@]}" || true
    _units_dirs=()
    for dset in ${all_sets}; do
      _key=("${_unit_opts[@]}" --table "${dumpdir}/${dset}/feats.scp" --file "${units_exp}/kmeans.npz")
      step_done 2 "${dumpdir}/${dset} (units)" "${dumpdir}/${dset}" units "${_key[@]}" \
        --stale "${dumpdir}/${dset}/units*" || _units_dirs+=("${dumpdir}/${dset}")
    done
    if [ ${#_units_dirs[@]} -gt 0 ]; then
      mkdir -p "${units_exp}"
      _units_opts=()
      [ -z "${unit_encoder_file}" ] || _units_opts+=(--encoder_file "${unit_encoder_file}")
      [ -z "${unit_encoder_config}" ] || _units_opts+=(--encoder_config "${unit_encoder_config}")
      [ -z "${unit_layer}" ] || _units_opts+=(--layer "${unit_layer}")
      # a torch content encoder runs on a GPU when the recipe has them (--ngpu); whisper's
      # CTranslate2 build here has no CUDA libraries of its own (README, GPUs)
      _units_cmd=${train_cmd} _units_device=cpu
      if [ "${ngpu}" -gt 0 ] && { [ "${unit_type}" = hubert ] || [ "${unit_type}" = wav2vec2 ]; }; then
        _units_cmd="${cuda_cmd} --gpu 1" _units_device=cuda
      fi
      log "Stage 2: ${unit_type} units, k=${unit_k}, for ${#_units_dirs[@]} sets (${_units_device}); log in ${units_exp}/extract_units.log"
      ${_units_cmd} "${units_exp}/extract_units.log" \
        "${python}" -m lipsound2.bin.extract_units --unit_type "${unit_type}" --device "${_units_device}" \
        --frontend_config "${dumpdir}/${train_set}/frontend.yaml" \
        --kmeans "${units_exp}/kmeans.npz" --fit_dir "${dumpdir}/${train_set}" --k "${unit_k}" \
        --seed "${seed}" --max_fit_frames "${unit_max_fit_frames}" \
        --max_reject_share "${max_reject_share}" "${_units_opts[@]}" "${_units_dirs[@]}"
      step_mark "${units_exp}" kmeans "${_kmeans_key[@]}"
      for _d in "${_units_dirs[@]}"; do
        step_mark "${_d}" units "${_unit_opts[@]}" --table "${_d}/feats.scp" --file "${units_exp}/kmeans.npz"
      done
    fi
  fi
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
  log "Stage 3: pre-training"
  _stage_no=3
  if pretrains; then
    # shellcheck disable=SC2086
    train_lipsound2 av "${pretrain_exp}" "${pretrain_config}" "${pretrain_train_set}" "${pretrain_valid_set}" "" \
      ${pretrain_args}
  else
    log "No pre-training here (skip_pretrain=${skip_pretrain}, pretrain_train_set='${pretrain_train_set}', pretrain_model='${pretrain_model}')"
  fi
  if [ "${audio_pretrain}" = true ]; then
    log "Stage 3: audio-only pre-training of the decoder of ${train_config}"
    train_lipsound2 audio "${audio_pretrain_exp}" "${audio_pretrain_config}" "${audio_pretrain_train_set}" \
      "${audio_pretrain_valid_set}" ""
    # the evidence that it does not copy its input (docs/audio_pretraining.md)
    if [ ! -f "${audio_pretrain_exp}/reliance.json" ]; then
      ${python} -m lipsound2.bin.audio_reliance --train_config "${audio_pretrain_exp}/config.yaml" \
        --model_file "${audio_pretrain_exp}/valid.loss.best.pth" --frontend_config "${audio_pretrain_exp}/frontend.yaml" \
        --feats_scp "${dumpdir}/${audio_pretrain_valid_set}/feats.scp" --seed "${seed}" \
        --out "${audio_pretrain_exp}/reliance.json"
    fi
  fi
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
  log "Stage 4: fine-tuning"
  _stage_no=4
  _init_params=()  # ESPnet's PATH:SRC_KEY:DST_KEY:EXCLUDE, applied in order, after one --init_param
  _init_model=""
  if [ -n "${pretrain_model}" ]; then
    _init_model=${pretrain_model}
  elif [ "${init_from_pretrain}" = true ] && [ -f "${pretrain_exp}/valid.loss.best.pth" ]; then
    _init_model=${pretrain_exp}/valid.loss.best.pth
  fi
  if [ -n "${_init_model}" ]; then
    # ESPnet's PATH:SRC_KEY:DST_KEY:EXCLUDE form: all but the update count (num_updates).
    if [ "${ss_restart}" = true ]; then
      _init_params=("${_init_model}:::num_updates")
    else
      _init_params=("${_init_model}")
    fi
  fi
  # The decoder side from an audio pre-trained model, by key (DECODER_SIDE names the modules).
  _decoder_model=${init_decoder_from}
  if [ -z "${_decoder_model}" ] && [ "${audio_pretrain}" = true ]; then
    _decoder_model=${audio_pretrain_exp}/valid.loss.best.pth
    [ -f "${_decoder_model}" ] || { log "no audio pre-trained model ${_decoder_model}: run stage 3 with --audio_pretrain true"; exit 1; }
  fi
  if [ -n "${_decoder_model}" ]; then
    for _key in $(${python} -m lipsound2.bin.config_query decoder_side); do
      _init_params+=("${_decoder_model}:${_key}:${_key}")
    done
    # The decoder predicts mel normalised with its model's statistics: they come along, as the
    # model's buffers here (the whole-model init above set the audio-visual model's) and as
    # the stats file below.
    [ "${feats_normalize}" = none ] || _init_params+=("${_decoder_model}:normalize:normalize")
  fi
  _init_stats=""
  for _m in "${_init_model}" "${_decoder_model}"; do
    [ -z "${_m}" ] || [ ! -f "$(dirname "${_m}")/feats_stats.npz" ] || _init_stats=$(dirname "${_m}")/feats_stats.npz
  done
  _init_args=()
  [ ${#_init_params[@]} -eq 0 ] || _init_args=(--init_param "${_init_params[@]}")
  log "Initialisation: ${_init_args[*]:-from scratch}"
  # shellcheck disable=SC2086
  train_lipsound2 av "${train_exp}" "${train_config}" "${train_set}" "${valid_set}" "${_init_stats}" \
    "${_init_args[@]}" ${train_args}
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
  log "Stage 5: inference"
  [ -f "${train_exp}/${inference_model}" ] || { log "no model ${train_exp}/${inference_model}: run stage 4"; exit 1; }
  if [ ! -f "${train_exp}/frontend.yaml" ]; then
    log "WARNING: ${train_exp} records no front-end settings (trained before they were recorded): taking ${frontend_config}"
    ${python} -m lipsound2.bin.frontend_settings write --frontend_config "${frontend_config}" --out "${train_exp}/frontend.yaml"
  fi
  _unit_head=$(${python} -m lipsound2.bin.config_query unit_head "${train_exp}/config.yaml")
  _infer_sets="${test_sets} ${valid_set}"
  [ "${infer_train}" = false ] || _infer_sets="${_infer_sets} ${train_set}"
  # shellcheck disable=SC2086  # a space-separated list
  _decode_sets=$(unique ${_infer_sets})
  for dset in ${_decode_sets}; do
    _ddir=$(decode_dir "${dset}")
    # another model file (retrained), inference config or device decodes again; a redo removes
    # the dir with what stages 6-8 made of it
    _key=(--conf "inference=${inference_config}" --file "${train_exp}/${inference_model}"
      --file "${train_exp}/config.yaml" --table "${dumpdir}/${dset}/video.scp"
      --opt "gpu_inference=${gpu_inference}" --opt "num_plots=${num_plots}")
    # a model with a unit head also scores its units against stage 2's
    [ "${_unit_head}" = false ] || _key+=(--table "${dumpdir}/${dset}/units.scp")
    step_done 5 "${_ddir}" "${_ddir}" infer "${_key[@]}" --stale "${_ddir}/*" --stale "${_ddir}/.done.*" && continue
    _logdir=${_ddir}/log
    mkdir -p "${_logdir}"
    # the mel the model predicts has the settings of its training data
    cp "${train_exp}/frontend.yaml" "${_ddir}/frontend.yaml"
    split_for_jobs "${inference_nj}" "${dumpdir}/${dset}/video.scp" "${_logdir}/keys"
    log "Inference on ${dset} (${_nj} jobs$([ "${gpu_inference}" = false ] || echo ', one GPU each')); logs: ${_logdir}/infer.*.log"
    _infer_cmd=${decode_cmd} _device=cpu
    [ "${gpu_inference}" = false ] || _infer_cmd="${cuda_cmd} --gpu 1" _device=cuda
    ${_infer_cmd} JOB=1:"${_nj}" "${_logdir}/infer.JOB.log" \
      ${python} -m lipsound2.bin.infer --device "${_device}" \
      --train_config "${train_exp}/config.yaml" \
      --frontend_config "${train_exp}/frontend.yaml" \
      --model_file "${train_exp}/${inference_model}" \
      --inference_config "${inference_config}" \
      --data_path "${dumpdir}/${dset}/video.scp" \
      --key_file "${_logdir}/keys.JOB.scp" \
      --output_dir "${_logdir}/output.JOB"
    for _f in feats.scp att_ws.scp utt2num_frames; do
      merge_job_tables "${_logdir}/output.JOB/${_f}" "${_ddir}/${_f}"
    done
    # a model with a unit head also predicts units: merged, and scored against stage 2's
    if [ -f "${_logdir}/output.1/units.scp" ]; then
      merge_job_tables "${_logdir}/output.JOB/units.scp" "${_ddir}/units.scp"
      if [ -f "${dumpdir}/${dset}/units.scp" ]; then
        _train_units=${dumpdir}/${train_set}/units.scp  # its majority unit is the baseline
        [ -f "${_train_units}" ] || _train_units=${dumpdir}/${dset}/units.scp
        ${python} -m lipsound2.bin.unit_accuracy --ref "${dumpdir}/${dset}/units.scp" --hyp "${_ddir}/units.scp" \
          --train_ref "${_train_units}" --out "${_ddir}/unit_accuracy.json" | tee "${_logdir}/unit_accuracy.log"
      fi
    else
      rm -f "${_ddir}/units.scp" "${_ddir}/unit_accuracy.json"
    fi
    # a job lists the utterances it could not read or decode in failed (absent when none)
    for _n in $(seq "${_nj}"); do cat "${_logdir}/output.${_n}/failed" 2>/dev/null || true; done >"${_logdir}/failed"
    if [ -s "${_logdir}/failed" ]; then
      log "WARNING: $(wc -l <"${_logdir}/failed") utterances were not decoded, see ${_logdir}/failed"
    fi
    ${python} -m lipsound2.bin.plot_alignment --decode_dir "${_ddir}" \
      --ref_feats "${dumpdir}/${dset}/feats.scp" --num_plots "${num_plots}"
    step_mark "${_ddir}" infer "${_key[@]}"
  done
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
  log "Stage 6: vocoding (${vocoder_type})"
  # hifigan_units: the units beside a feats.scp, or a stop that says where they come from
  units_of() {
    local units
    units=$(dirname "$1")/units.scp
    [ -f "${units}" ] || {
      log "Error: --vocoder_type hifigan_units needs ${units} (dump: stage 2 with --unit_type; decode dirs: a model with a unit head)"
      exit 1
    }
    echo "${units}"
  }
  _vocoder_train=(--wav_scp "${dumpdir}/${train_set}/wav.scp" --frontend_config "${dumpdir}/${train_set}/frontend.yaml")
  # the vocoder trains again when its config, type, training audio, units or speakers change
  _vocoder_key=(--conf "vocoder=${vocoder_config}" --opt "vocoder_type=${vocoder_type}"
    --table "${dumpdir}/${train_set}/wav.scp" --conf "frontend=${dumpdir}/${train_set}/frontend.yaml")
  if [ "${vocoder_type}" = hifigan_units ] && [ -z "${vocoder_file}" ]; then
    _units=$(units_of "${dumpdir}/${train_set}/feats.scp") || exit 1
    _vocoder_train+=(--units_scp "${_units}")
    _vocoder_key+=(--table "${_units}")
    # a speaker section in the vocoder config: the training audio's speaker embeddings
    _speaker=$(${python} -m lipsound2.bin.config_query speaker_input "${vocoder_config}")
    if [ "${_speaker}" = true ]; then
      _spk_dir=${dumpdir}/${train_set}/speaker
      _spk_key=(--table "${dumpdir}/${train_set}/wav.scp")
      if ! step_done 6 "${_spk_dir} (speaker embeddings)" "${_spk_dir}" embed "${_spk_key[@]}" --stale "${_spk_dir}/*"; then
        log "Speaker embeddings of ${dumpdir}/${train_set}/wav.scp; log: ${_spk_dir}/embed.log"
        ${train_cmd} "${_spk_dir}/embed.log" \
          ${python} -m lipsound2.bin.speaker_embed --wav_scp "${dumpdir}/${train_set}/wav.scp" --out_dir "${_spk_dir}"
        if [ -s "${_spk_dir}/failed" ]; then
          log "WARNING: $(wc -l <"${_spk_dir}/failed") utterances gave no speaker embedding, see ${_spk_dir}/failed"
        fi
        step_mark "${_spk_dir}" embed "${_spk_key[@]}"
      fi
      _vocoder_train+=(--speaker_embeddings "${_spk_dir}/embeddings.npz" --utt2spk "${dumpdir}/${train_set}/utt2spk")
      _vocoder_key+=(--file "${_spk_dir}/embeddings.npz" --table "${dumpdir}/${train_set}/utt2spk")
    fi
  fi
  if [ "${vocoder_type}" != griffin_lim ] && [ -z "${vocoder_file}" ] &&
    ! step_done 6 "${vocoder_exp} (vocoder training)" "${vocoder_exp}" train "${_vocoder_key[@]}" \
      --stale "${vocoder_exp}/*"; then
    # on a GPU when training has GPUs (--ngpu); an interrupted training resumes from its checkpoint
    _vocoder_cmd=${train_cmd} _vocoder_device=cpu
    [ "${ngpu}" -eq 0 ] || _vocoder_cmd="${cuda_cmd} --gpu 1" _vocoder_device=cuda
    log "Training HiFi-GAN (${vocoder_type}) on ${dumpdir}/${train_set}/wav.scp (${_vocoder_device}); log: ${vocoder_exp}/train.log"
    ${_vocoder_cmd} "${vocoder_exp}/train.log" \
      ${python} -m lipsound2.bin.train_vocoder --config "${vocoder_config}" "${_vocoder_train[@]}" \
      --device "${_vocoder_device}" --outdir "${vocoder_exp}"
    step_mark "${vocoder_exp}" train "${_vocoder_key[@]}"
  fi
  # vocode_dir FEATS_SCP OUT_DIR SET: every mel of FEATS_SCP to OUT_DIR/wav/*.wav and
  # OUT_DIR/wav.scp (a vocoder with a speaker input reads the speakers of dump/SET), with
  # the mel settings beside FEATS_SCP. Wavs belong to one mel and one vocoder (its type,
  # config and checkpoint): another one vocodes them again.
  vocode_dir() {
    local feats=$1 out=$2 utt2spk=${dumpdir}/$3/utt2spk _nj n _units _units_opt=() key
    # Griffin-Lim reads its section of the config; a HiFi-GAN its checkpoint
    key=(--table "${feats}" --opt "vocoder_type=${vocoder_type}" ${vocoder_ckpt:+--file "${vocoder_ckpt}"})
    [ "${vocoder_type}" != griffin_lim ] || key+=(--conf "vocoder=${vocoder_config}" --sections vocoder=griffin_lim)
    if [ "${vocoder_type}" = hifigan_units ]; then
      _units=$(units_of "${feats}") || exit 1
      _units_opt=(--units_scp "${_units}")
      [ ! -f "${utt2spk}" ] || _units_opt+=(--utt2spk "${utt2spk}")
      key+=(--table "${_units}")
    fi
    step_done 6 "${out} (speech)" "${out}" vocode "${key[@]}" --stale "${out}/wav" --stale "${out}/wav.scp" \
      --stale "${out}/log/vocode.*" && return 0
    mkdir -p "${out}/log"
    _nj=$(min "${inference_nj}" "$(wc -l <"${feats}")")
    log "Vocoding ${feats} -> ${out} (${_nj} jobs)"
    ${decode_cmd} JOB=1:"${_nj}" "${out}/log/vocode.JOB.log" \
      ${python} -m lipsound2.bin.vocode --feats_scp "${feats}" --outdir "${out}" \
      --wav_scp "${out}/log/wav.JOB.scp" --job_id JOB --num_jobs "${_nj}" "${_units_opt[@]}" \
      --vocoder_type "${vocoder_type}" --vocoder_config "${vocoder_config}" ${vocoder_ckpt:+--vocoder_file "${vocoder_ckpt}"} \
      --frontend_config "$(dirname "${feats}")/frontend.yaml"
    merge_job_tables "${out}/log/wav.JOB.scp" "${out}/wav.scp"
    for n in $(seq "${_nj}"); do cat "${out}/log/wav.${n}.scp.failed"; done >"${out}/log/failed"
    if [ -s "${out}/log/failed" ]; then
      log "WARNING: $(wc -l <"${out}/log/failed") utterances failed, see ${out}/log/failed"
    fi
    step_mark "${out}" vocode "${key[@]}"
  }
  for dset in ${test_sets} ${valid_set} ${train_set}; do
    # generated speech for every set stage 5 inferred (the train set feeds ASR fine-tuning)
    _ddir=$(decode_dir "${dset}")
    [ ! -f "${_ddir}/feats.scp" ] || vocode_dir "${_ddir}/feats.scp" "${_ddir}" "${dset}"
  done
  if [ "${vocode_oracle}" = true ]; then
    for dset in ${test_sets}; do
      # the oracle: vocoded ground-truth mel, the ceiling of every table
      vocode_dir "${dumpdir}/${dset}/feats.scp" "${train_exp}/oracle_${dset}" "${dset}"
    done
  fi
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
  log "Stage 7: cascaded lip reading (ESPnet ASR), lipreading.sh"
  ./lipreading.sh --python "${python}" --seed "${seed}" --ngpu "${ngpu}" --inference_nj "${inference_nj}" \
    --dumpdir "${dumpdir}" --expdir "${expdir}" --train_exp "${train_exp}" --inference_tag "${inference_tag}" \
    --train_set "${train_set}" --valid_set "${valid_set}" --test_sets "${test_sets}" \
    --asr_config "${asr_config}" --asr_finetune_config "${asr_finetune_config}" \
    --asr_pretrained_model "${asr_pretrained_model}" --asr_token_type "${asr_token_type}" --nbpe "${nbpe}" \
    --asr_inference_config "${asr_inference_config}" --asr_lr_factor "${asr_lr_factor}" \
    --use_lm "${use_lm}" --ngram_order "${ngram_order}"
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
  log "Stage 8: scoring, RESULTS.md and the HTML report"
  [ "${lang}" = en ] || log "the judges (${judges}) are English only: no judge rows for ${lang}"
  # judge_dir WAV_SCP EVAL_DIR: each independent ASR's hypotheses into EVAL_DIR/hyp/judge_NAME.txt
  judge_dir() {
    local wav=$1 dir=$2 _nj judge hyp model key
    [ "${lang}" = en ] || return 0
    for judge in ${judges}; do
      [ "${judge}" != none ] || continue
      hyp=${dir}/hyp/judge_${judge}.txt
      # the whisper judge's model dir is part of what its hypotheses came from
      model=$([ "${judge}" != whisper ] || echo "${judge_model}")
      key=(--table "${wav}" --opt "judge_model=${model}")
      step_done 8 "${hyp}" "${dir}/hyp" "judge_${judge}" "${key[@]}" --stale "${hyp}" && continue
      mkdir -p "${dir}/log" "${dir}/hyp"
      _nj=$(min "${nj}" "$(wc -l <"${wav}")")
      ${decode_cmd} JOB=1:"${_nj}" "${dir}/log/judge_${judge}.JOB.log" \
        ${python} -m lipsound2.bin.judge --judge "${judge}" --wav_scp "${wav}" \
        --out "${dir}/log/judge_${judge}.JOB.txt" ${model:+--model_dir "${model}"} --job_id JOB --num_jobs "${_nj}"
      merge_job_tables "${dir}/log/judge_${judge}.JOB.txt" "${hyp}"
      step_mark "${dir}/hyp" "judge_${judge}" "${key[@]}"
    done
  }
  # score_dir REF_WAV_SCP EVAL_DIR: PESQ/STOI/ESTOI and durations into EVAL_DIR/scores/speech.tsv,
  # a row for every utterance of REF_WAV_SCP (failed where EVAL_DIR/wav.scp lacks it)
  score_dir() {
    local ref=$1 dir=$2 _nj n key
    key=(--table "${ref}" --table "${dir}/wav.scp")
    step_done 8 "${dir}/scores" "${dir}/scores" speech "${key[@]}" --stale "${dir}/scores/speech.tsv" && return 0
    mkdir -p "${dir}/log" "${dir}/scores"
    _nj=$(min "${nj}" "$(wc -l <"${ref}")")
    ${decode_cmd} JOB=1:"${_nj}" "${dir}/log/score.JOB.log" \
      ${python} -m lipsound2.bin.score --ref_wav_scp "${ref}" --hyp_wav_scp "${dir}/wav.scp" \
      --out "${dir}/log/speech.JOB.tsv" --job_id JOB --num_jobs "${_nj}"
    {
      head -n 1 "${dir}/log/speech.1.tsv"
      for n in $(seq "${_nj}"); do tail -n +2 "${dir}/log/speech.${n}.tsv"; done | sort
    } >"${dir}/scores/.speech.tsv.tmp"
    mv "${dir}/scores/.speech.tsv.tmp" "${dir}/scores/speech.tsv"
    step_mark "${dir}/scores" speech "${key[@]}"
  }
  _rows=("Audio gold standard=${expdir}/real_{set}"
    "Real audio, ASR trained on this corpus (paper row: + fine-tuning)=${expdir}/real_asr_trained_{set}"
    "Oracle (vocoded ground truth, ${vocoder_type})=${train_exp}/oracle_{set}"
    "${score_label}=${train_exp}/{decode}")
  IFS=';' read -r -a _extra_rows <<<"${score_extra_exps}"
  for row in "${_extra_rows[@]}"; do [ -n "${row// /}" ] && _rows+=("${row}"); done
  # {decode} in a row stands for decode_{set}_<inference tag>
  for _i in "${!_rows[@]}"; do _rows[_i]=${_rows[_i]//'{decode}'/"decode_{set}_${inference_tag}"}; done
  _test_args=()
  _base=${train_exp}/asr_finetune_${inference_tag}/base_model
  for dset in ${test_sets}; do
    _test_args+=(--test_set "${dset}=${dumpdir}/${dset}")
    # The real-audio ASR rows are shared by a recipe's experiments: stage 7 writes them for its
    # cascade's base ASR. Another experiment's are never reported under this one's name.
    # (the row of this recipe's ASR mode: a pre-trained ASR's gold standard, or one trained here)
    _hyp=${expdir}/real_asr_trained_${dset}/hyp/asr.txt
    [ -z "${asr_pretrained_model}" ] || _hyp=${expdir}/real_${dset}/hyp/asr.txt
    if [ -f "${_base}" ] && [ -f "${_hyp}.model" ] && [ "$(cat "${_hyp}.model")" != "$(cat "${_base}")" ]; then
      log "${_hyp} comes from another base ASR ($(cut -d' ' -f1 "${_hyp}.model")) than the cascade of" \
        "${train_exp} ($(cut -d' ' -f1 "${_base}")): run its stage 7 again (it decodes only the real audio)"
      exit 1
    fi
    judge_dir "${dumpdir}/${dset}/wav.scp" "${expdir}/real_${dset}"
    for row in "${_rows[@]}"; do
      _dir=${row#*=}
      _dir=${_dir//\{set\}/${dset}}
      if [ -f "${_dir}/wav.scp" ]; then
        score_dir "${dumpdir}/${dset}/wav.scp" "${_dir}"
        judge_dir "${_dir}/wav.scp" "${_dir}"
      fi
    done
  done
  _exp_args=()
  for row in "${_rows[@]}"; do _exp_args+=(--exp "${row}"); done
  # The settings in force, which RESULTS.md compares with the paper's
  _paper_args=(--vocoder_type "${vocoder_type}")
  for pair in "train_exp_config:${train_exp}/config.yaml" "inference_config:${inference_config}" \
    "frontend_config:${train_exp}/frontend.yaml"; do
    [ ! -f "${pair#*:}" ] || _paper_args+=("--${pair%%:*}" "${pair#*:}")
  done
  _asr_exp_config=${train_exp}/asr_finetune_${inference_tag}/config.yaml
  if [ -f "${_asr_exp_config}" ]; then
    _paper_args+=(--asr_exp_config "${_asr_exp_config}" --asr_pretrained_model "${asr_pretrained_model}"
      --asr_lr_factor "${asr_lr_factor}" --ngram_order "$([ "${use_lm}" = true ] && echo "${ngram_order}" || echo 0)")
  fi
  _note="Vocoder: ${vocoder_type}${vocoder_ckpt:+ (${vocoder_ckpt})}. PESQ (NB) is ITU-T P.862 narrowband; P.862.2 wideband is in the full tables."
  # The report reads every row's scores and hypotheses, the confs it quotes and the settings.
  _key=(--opt "rows=${_exp_args[*]}" --opt "settings=${_paper_args[*]}" --opt "note=${_note}" --opt "lang=${lang}"
    --opt "num_plots=${num_plots}" --opt "judges=${judges}" --quote "train=${train_config}"
    --quote "vocoder=${vocoder_config}" --quote "asr=${asr_config}" --quote "asr_finetune=${asr_finetune_config}"
    --quote "inference=${inference_config}"
    --file "${train_exp}/config.yaml" --file "${train_exp}/frontend.yaml" --file "${_asr_exp_config}")
  for dset in ${test_sets}; do
    _key+=(--table "${dumpdir}/${dset}/text" --table "${dumpdir}/${dset}/wav.scp"
      --tree "${expdir}/real_${dset}/hyp" --tree "${expdir}/real_asr_trained_${dset}/hyp")
    for row in "${_rows[@]}"; do
      _dir=${row#*=}
      _dir=${_dir//\{set\}/${dset}}
      _key+=(--table "${_dir}/wav.scp" --tree "${_dir}/scores" --tree "${_dir}/hyp")
    done
  done
  if ! step_done 8 "${train_exp}/RESULTS.md" "${train_exp}" report "${_key[@]}"; then
    ${python} -m lipsound2.bin.make_report "${_test_args[@]}" "${_exp_args[@]}" --lang "${lang}" \
      --results "${train_exp}/RESULTS.md" --html "${train_exp}/report/index.html" --title "${train_tag}" \
      --conf "${train_config}" --conf "${vocoder_config}" --conf "${asr_config}" --conf "${asr_finetune_config}" \
      --note "${_note}" --num_samples "${num_plots}" "${_paper_args[@]}"
    step_mark "${train_exp}" report "${_key[@]}"
  fi
  log "Results: ${train_exp}/RESULTS.md; report: ${train_exp}/report/index.html"
fi

if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
  log "Stage 9: packing ${train_exp}/${inference_model} into ${pack_file}"
  [ -f "${train_exp}/${inference_model}" ] || { log "no model ${train_exp}/${inference_model}: run stage 4"; exit 1; }
  _pack_opts=()
  [ -z "${vocoder_ckpt}" ] || _pack_opts+=(--vocoder_file "${vocoder_ckpt}")
  # the model card shows stage 8's tables when there are any
  [ ! -f "${train_exp}/RESULTS.md" ] || _pack_opts+=(--results "${train_exp}/RESULTS.md")
  _key=(--file "${train_exp}/${inference_model}" --file "${train_exp}/config.yaml" --file "${train_exp}/frontend.yaml"
    --conf "inference=${inference_config}" --conf "vocoder=${vocoder_config}" --opt "vocoder_type=${vocoder_type}"
    --opt "corpus=${pack_corpus}" --opt "protocol=${protocol}" --file "${train_exp}/RESULTS.md"
    ${vocoder_ckpt:+--file "${vocoder_ckpt}"} --file "${pack_file}")
  if ! step_done 9 "${pack_file}" "${train_exp}" "pack_$(basename "${pack_file}")" "${_key[@]}"; then
    ${python} -m lipsound2.bin.pack --train_config "${train_exp}/config.yaml" \
      --model_file "${train_exp}/${inference_model}" --frontend_config "${train_exp}/frontend.yaml" \
      --inference_config "${inference_config}" --vocoder_type "${vocoder_type}" \
      --vocoder_config "${vocoder_config}" "${_pack_opts[@]}" \
      --corpus "${pack_corpus}" --protocol "${protocol}" --outpath "${pack_file}"
    step_mark "${train_exp}" "pack_$(basename "${pack_file}")" "${_key[@]}"
  fi
fi

log "Finished in ${SECONDS} s"
