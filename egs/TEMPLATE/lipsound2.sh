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
# Order of this file: helpers (the longer steps in stage_steps.sh), options, help, option
# parsing and environment, option resolution and checks (a bad option fails before any stage
# runs), derived names, stages.
# Variables that only one stage uses start with "_" and are set by that stage.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# ========================== Helpers ==========================

# log, option checks and help, min, unique, split_for_jobs, step_done, step_mark, has_done (done
# markers keyed on settings and inputs), read_lines
# shellcheck source=../../utils/stage_lib.sh
. utils/stage_lib.sh

# stage_runs N: whether --stage .. --stop_stage takes in stage N
stage_runs() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }

config_tag() { basename "$1" .yaml; }

# Whether stage 3 pre-trains (it does not when told to skip or given a pre-trained model).
pretrains() { [ "${skip_pretrain}" = false ] && [ -n "${pretrain_train_set}" ] && [ -z "${pretrain_model}" ]; }

# The steps of stages 1, 2, 3-4, 6 and 8 (prepare_av_set, make_units, train_lipsound2,
# vocode_dir, train_vocoder, judge_dir, score_dir)
# shellcheck source=stage_steps.sh
. "$(dirname "${BASH_SOURCE[0]}")/stage_steps.sh"

# ========================== Options ==========================

# Shared with lipsound2.sh's stage 7 (lipreading.sh): python, seed, ngpu, inference_nj, dumpdir,
# expdir, train_set, valid_set, test_sets and the ASR options asr_*, nbpe, ngram_order, use_lm
# shellcheck source=stage_options.sh
. "$(dirname "${BASH_SOURCE[0]}")/stage_options.sh"

# General options
stage=0              # First stage to run.
stop_stage=10000     # Last stage to run.
nj=4                 # Parallel jobs for data processing and scoring.
num_nodes=1          # Nodes for multi-node training (Slurm through cmd.sh).
paper_settings=false # true: the paper's own settings wherever this toolkit has them (lipsound2/paper.py):
                     # conf/train_paper.yaml and inference_paper.yaml, no mel normalisation, a
                     # HiFi-GAN, a 6-gram LM, ASR lr x 0.1; they replace those options (README.md).

# Directories
datadir=data         # Kaldi data directories written by stage 0.

# Data
local_data_opts=""   # Options passed to local/data.sh.
protocol=""          # Split protocol of local/data.sh (sd, si, ...: the recipe's README): passed to
                     # it as --protocol, and names the sets train_<protocol>, dev_<protocol>,
                     # test_<protocol> unless they are given.
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
gpu_inference=false                   # Decode on a GPU (stage 5, and stage 6's GTA mel): cuda_cmd with --gpu 1,
                                      # --device cuda (int8 becomes fp32). Vocoding runs on the CPU.

# Vocoder (stage 6)
vocoder_type=griffin_lim              # A type of lipsound2/vocoders/types.py: griffin_lim, hifigan,
                                      # hifigan_units (mel + speech units: needs units from stage 2's
                                      # --unit_type, and in decode dirs), hifigan_pretrained (the
                                      # published universal HiFi-GAN, bridged to our mel; no training)
vocoder_config=conf/vocoder.yaml      # Vocoder settings (and HiFi-GAN training config; its speaker
                                      # section gives hifigan_units a speaker embedding input).
vocoder_file=""                       # A vocoder checkpoint the user brings (skips training).
vocode_oracle=true                    # Also vocode the test sets' ground-truth mel (the oracle rows).
vocoder_finetune=false                # Fine-tune the pre-trained HiFi-GAN (--vocoder_type hifigan, a config
                                      # like conf/vocoder_hifigan_pretrained_finetune.yaml) on the train
                                      # set's ground-truth mel, then on the model's teacher-forced mel of it.

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

help_message="Usage: $0 --train_set <set> --valid_set <set> --test_sets \"<sets>\" [options]

Runs the LipSound2 stages: 0 data, 1 face tracks + audio, 2 mel (+ units), 3 pre-train,
4 fine-tune, 5 infer, 6 vocode, 7 lip reading ASR (lipreading.sh), 8 scoring and report,
9 pack the model (one zip for Video2Speech.from_pretrained and lipsound2-speak).

Options [defaults]:
$(option_help "${BASH_SOURCE[0]}" "$(dirname "${BASH_SOURCE[0]}")/stage_options.sh")"

declared_options=$(option_names "${BASH_SOURCE[0]}" "$(dirname "${BASH_SOURCE[0]}")/stage_options.sh")
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

check_shared_options
for _opt in paper_settings skip_pretrain init_from_pretrain ss_restart infer_train gpu_inference vocode_oracle audio_pretrain vocoder_finetune; do
  check_choice "${_opt}" true false
done
check_choice lang en zh
check_choice feats_normalize global_mvn none
check_choice unit_type none logmel mfcc hubert wav2vec2 whisper
for _judge in ${judges}; do
  case ${_judge} in
    whisper | pocketsphinx) ;;
    none) [ "${judges// /}" = none ] || usage_error "--judges none stands alone; got '${judges}'" ;;
    *) usage_error "--judges takes whisper, pocketsphinx or none; got '${_judge}'" ;;
  esac
done
check_int 0 stage stop_stage num_plots
[ "${stage}" -le 9 ] || usage_error "--stage ${stage}: the stages are 0-9"
[ "${stage}" -le "${stop_stage}" ] || log "WARNING: --stage ${stage} comes after --stop_stage ${stop_stage}: no stage runs"
check_int 1 nj num_nodes unit_max_fit_frames
[ -z "${unit_layer}" ] || check_int 1 unit_layer
check_int 2 unit_k
[[ ${protocol} =~ ^[A-Za-z0-9_]*$ ]] || usage_error "--protocol must be a word (it names the sets); got '${protocol}'"

# Paper settings: what the paper used, where this toolkit has it. What cannot be the paper's
# (WaveGlow, Jasper, MTCNN, the LM's large text) stays listed in RESULTS.md's differences.
if [ "${paper_settings}" = true ]; then
  # the options it replaces come from the paper's constants (lipsound2/paper.py)
  _paper_opts=$(${python} -m lipsound2.bin.paper_options --conf_dir "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/conf") ||
    usage_error "--paper_settings true: the paper configs are missing (above)"
  eval "${_paper_opts}"
  log "Paper settings: ${_paper_opts//$'\n'/ }"
  [ -n "${asr_pretrained_model}" ] || log "Paper settings: the paper fine-tunes a pre-trained ASR; give --asr_pretrained_model"
fi

# The protocol names the sets that are not given.
if [ -n "${protocol}" ]; then
  [ -n "${train_set}" ] || train_set=train_${protocol}
  [ -n "${valid_set}" ] || valid_set=dev_${protocol}
  [ -n "${test_sets}" ] || test_sets=test_${protocol}
  local_data_opts="--protocol ${protocol} ${local_data_opts}"
fi

# The vocoder types, and which of them stage 6 trains, are those of lipsound2/vocoders/types.py.
vocoder_training=$(${python} -m lipsound2.bin.config_query vocoder_training "${vocoder_type}") ||
  usage_error "--vocoder_type ${vocoder_type} is no type of lipsound2.vocoders.types (above)"
[ "${vocoder_training}" = true ] || [ -z "${vocoder_file}" ] ||
  usage_error "--vocoder_file is for the vocoder types stage 6 trains; --vocoder_type ${vocoder_type} takes none"

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
! stage_runs 3 || ! pretrains || require pretrain_valid_set "with --pretrain_train_set (stage 3)"
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
if stage_runs 6 && [ "${vocoder_training}" = true ] && [ -z "${vocoder_file}" ]; then
  require train_set "to train the vocoder (${vocoder_type}, stage 6 without --vocoder_file)"
fi
if stage_runs 6 && [ "${vocoder_finetune}" = true ]; then
  [ "${vocoder_type}" = hifigan ] && [ -z "${vocoder_file}" ] ||
    usage_error "--vocoder_finetune true trains --vocoder_type hifigan (no --vocoder_file); got ${vocoder_type}"
fi
! stage_runs 7 || { require train_set "(stage 7)" && require valid_set "(stage 7)"; }
! stage_runs 8 || require test_sets "(stage 8)"
if stage_runs 6 || stage_runs 9; then
  [ -z "${vocoder_file}" ] || [ -f "${vocoder_file}" ] || usage_error "--vocoder_file ${vocoder_file} does not exist"
fi

# ========================== Derived names ==========================

[ -n "${train_tag}" ] || train_tag=lipsound2_$(config_tag "${train_config}")
# one config for both stages (as --paper_settings has it): stage 3's experiment is named apart
[ -n "${pretrain_tag}" ] || pretrain_tag=lipsound2_$(config_tag "${pretrain_config}")
[ "${pretrain_tag}" != "${train_tag}" ] || pretrain_tag=${pretrain_tag}_pretrain
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
# Fine-tuned on a model's teacher-forced (GTA) mel, it belongs to that model's experiment.
vocoder_gta=""
if [ "${vocoder_finetune}" = true ]; then
  vocoder_exp=${train_exp}/vocoder_finetune_$(config_tag "${vocoder_config}")
  vocoder_gta=${train_exp}/gta_${train_set}_${_model_tag//\//_}/feats.scp
fi
vocoder_ckpt=${vocoder_file}
[ "${vocoder_training}" = false ] || [ -n "${vocoder_file}" ] || vocoder_ckpt=${vocoder_exp}/vocoder.pth

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
    _src=${datadir}/${dset} _dst=${dumpdir}/${dset}
    # a redo removes the set's dump (tracks, audio, mel, units) and its markers
    # (and on its own outputs, so tracks that moved or vanished are made again)
    _key=(--conf "frontend=${frontend_config}" --sections frontend=stage1
      --table "${_src}/video.scp" --table "${_src}/wav.scp" --table "${_dst}/video.scp" --table "${_dst}/wav.scp")
    step_done 1 "${_dst} (tracks, audio)" "${_dst}" stage1 "${_key[@]}" --stale "${_dst}/*" --stale "${_dst}/.done.*" &&
      continue
    prepare_av_set "${_src}" "${_dst}"
    step_mark "${_dst}" stage1 "${_key[@]}"
  done
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
  log "Stage 2: log-mel features"
  for dset in ${all_sets}; do
    _dst=${dumpdir}/${dset} _logdir=${dumpdir}/${dset}/logs/stage2
    has_done "${_dst}" stage1 || { log "Stage 2: ${_dst} has no finished stage 1"; exit 1; }
    _key=(--conf "frontend=${frontend_config}" --sections frontend=stage2
      --table "${_dst}/wav.scp" --table "${_dst}/utt2num_vframes" --table "${_dst}/feats.scp")
    step_done 2 "${_dst} (mel)" "${_dst}" stage2 "${_key[@]}" --stale "${_dst}/data/feats.*" \
      --stale "${_dst}/feats.scp" --stale "${_dst}/utt2num_frames" --stale "${_dst}/logs/stage2" && continue
    mkdir -p "${_logdir}"
    ${python} -m lipsound2.bin.frontend_settings write --frontend_config "${frontend_config}" --out "${_dst}/frontend.yaml"
    split_for_jobs "${nj}" "${_dst}/wav.scp" "${_logdir}/wav"
    # the mel length is checked against the video's, where there is video
    _vframes_opts=(--utt2num_vframes "${_dst}/utt2num_vframes") _vopts=()
    [ -f "${_dst}/utt2num_vframes" ] || _vframes_opts=() _vopts=(--no-video)
    log "Stage 2: ${dset}: ${_nj} jobs, logs in ${_logdir}/extract_mel.*.log"
    ${train_cmd} JOB=1:"${_nj}" "${_logdir}/extract_mel.JOB.log" \
      "${python}" -m lipsound2.bin.extract_mel --frontend_config "${_dst}/frontend.yaml" \
      --wav_scp "${_logdir}/wav.JOB.scp" "${_vframes_opts[@]}" \
      --ark "${_dst}/data/feats.JOB.ark" --out_dir "${_logdir}/output.JOB"
    "${python}" -m lipsound2.bin.merge_jobs --name "Stage 2 ${dset}" --src_dir "${_dst}" --dst_dir "${_dst}" \
      --tables feats.scp utt2num_frames --max_reject_share "${max_reject_share}" "${_outputs[@]}"
    # its rejects left stage 1's tables: stage 1 is no less done
    ${python} -m lipsound2.bin.step refresh --dir "${_dst}" --name stage1 --table "${_dst}/video.scp" \
      --table "${_dst}/wav.scp"
    utils/validate_data_dir.sh "${_vopts[@]}" "${_dst}"
    step_mark "${_dst}" stage2 "${_key[@]}"
  done

  # speech units, one per mel frame (docs/units.md)
  [ "${unit_type}" = none ] || make_units
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
  log "Stage 3: pre-training"
  _stage_no=3
  if pretrains; then
    # shellcheck disable=SC2086  # the trainer's extra arguments
    train_lipsound2 av "${pretrain_exp}" "${pretrain_config}" "${pretrain_train_set}" "${pretrain_valid_set}" \
      -- ${pretrain_args}
  else
    log "No pre-training here (skip_pretrain=${skip_pretrain}, pretrain_train_set='${pretrain_train_set}', pretrain_model='${pretrain_model}')"
  fi
  if [ "${audio_pretrain}" = true ]; then
    log "Stage 3: audio-only pre-training of the decoder of ${train_config}"
    train_lipsound2 audio "${audio_pretrain_exp}" "${audio_pretrain_config}" "${audio_pretrain_train_set}" \
      "${audio_pretrain_valid_set}"
    # the evidence that it does not copy its input (docs/audio_pretraining.md)
    [ -f "${audio_pretrain_exp}/reliance.json" ] ||
      ${python} -m lipsound2.bin.audio_reliance --train_config "${audio_pretrain_exp}/config.yaml" \
        --model_file "${audio_pretrain_exp}/valid.loss.best.pth" --frontend_config "${audio_pretrain_exp}/frontend.yaml" \
        --feats_scp "${dumpdir}/${audio_pretrain_valid_set}/feats.scp" --seed "${seed}" \
        --out "${audio_pretrain_exp}/reliance.json"
  fi
fi

# av_training [train]: stage 4's training of ${train_exp} as train_lipsound2's arguments, in
# _av_training (stages 5, 6 and 9 check that the model they read is its finished result;
# "train": stage 4 itself, which needs the audio pre-trained model to exist)
av_training() {
  # the whole model from --pretrain_model or stage 3's; the decoder side (and its mel
  # statistics) from --init_decoder_from or stage 3's audio model
  local init_model=${pretrain_model} decoder_model=${init_decoder_from}
  if [ -z "${init_model}" ] && [ "${init_from_pretrain}" = true ] && [ -f "${pretrain_exp}/valid.loss.best.pth" ]; then
    init_model=${pretrain_exp}/valid.loss.best.pth
  fi
  if [ -z "${decoder_model}" ] && [ "${audio_pretrain}" = true ]; then
    decoder_model=${audio_pretrain_exp}/valid.loss.best.pth
    [ "${1:-}" != train ] || [ -f "${decoder_model}" ] ||
      { log "no audio pre-trained model ${decoder_model}: run stage 3 with --audio_pretrain true"; exit 1; }
  fi
  # shellcheck disable=SC2206  # the trainer's extra arguments, split on whitespace
  _av_training=("${train_exp}" "${train_config}" "${train_set}" "${valid_set}" --init_model "${init_model}"
    --ss_restart "${ss_restart}" --decoder_model "${decoder_model}" -- ${train_args})
}

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
  log "Stage 4: fine-tuning"
  _stage_no=4
  av_training train
  train_lipsound2 av "${_av_training[@]}"
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
  log "Stage 5: inference"
  [ -f "${train_exp}/${inference_model}" ] || { log "no model ${train_exp}/${inference_model}: run stage 4"; exit 1; }
  av_training
  require_trained 5 av "${_av_training[@]}"
  if [ ! -f "${train_exp}/frontend.yaml" ]; then
    log "WARNING: ${train_exp} records no front-end settings (trained before they were recorded): taking ${frontend_config}"
    ${python} -m lipsound2.bin.frontend_settings write --frontend_config "${frontend_config}" --out "${train_exp}/frontend.yaml"
  fi
  _infer_cmd=${decode_cmd} _device=cpu
  [ "${gpu_inference}" = false ] || _infer_cmd="${cuda_cmd} --gpu 1" _device=cuda
  # shellcheck disable=SC2046,SC2086  # space-separated lists
  for dset in $(unique ${test_sets} ${valid_set} $([ "${infer_train}" = false ] || echo "${train_set}")); do
    _ddir=$(decode_dir "${dset}")
    # a redo removes the dir with what stages 6-8 made of it
    read_lines _key "${python}" -m lipsound2.bin.decode_plan key --decode_dir "${_ddir}" --ref_dir "${dumpdir}/${dset}" \
      --num_plots "${num_plots}" --inference_config "${inference_config}" --model_file "${train_exp}/${inference_model}" \
      --train_config "${train_exp}/config.yaml" --gpu_inference "${gpu_inference}"
    step_done 5 "${_ddir}" "${_ddir}" infer "${_key[@]}" --stale "${_ddir}/*" --stale "${_ddir}/.done.*" && continue
    mkdir -p "${_ddir}/log"
    # the mel the model predicts has the settings of its training data
    cp "${train_exp}/frontend.yaml" "${_ddir}/frontend.yaml"
    split_for_jobs "${inference_nj}" "${dumpdir}/${dset}/video.scp" "${_ddir}/log/keys"
    log "Inference on ${dset} (${_nj} jobs$([ "${_device}" = cpu ] || echo ', one GPU each')); logs: ${_ddir}/log/infer.*.log"
    ${_infer_cmd} JOB=1:"${_nj}" "${_ddir}/log/infer.JOB.log" ${python} -m lipsound2.bin.infer --device "${_device}" \
      --train_config "${train_exp}/config.yaml" --frontend_config "${train_exp}/frontend.yaml" \
      --model_file "${train_exp}/${inference_model}" --inference_config "${inference_config}" \
      --data_path "${dumpdir}/${dset}/video.scp" --key_file "${_ddir}/log/keys.JOB.scp" --output_dir "${_ddir}/log/output.JOB"
    # merged; a unit head's units scored against stage 2's; failures listed; figures
    ${python} -m lipsound2.bin.decode_plan collect --decode_dir "${_ddir}" --ref_dir "${dumpdir}/${dset}" \
      --num_plots "${num_plots}" --num_jobs "${_nj}" --train_units "${dumpdir}/${train_set}/units.scp"
    step_mark "${_ddir}" infer "${_key[@]}"
  done
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
  log "Stage 6: vocoding (${vocoder_type})"
  # --vocoder_finetune: first the model's teacher-forced mel of the train set
  [ -z "${vocoder_gta}" ] || gta_dir "${train_set}" "$(dirname "${vocoder_gta}")"
  # a type stage 6 trains, unless the user brings the checkpoint (never touched then)
  [ "${vocoder_training}" = false ] || [ -n "${vocoder_file}" ] || train_vocoder
  for dset in ${test_sets} ${valid_set} ${train_set}; do
    # generated speech for every set stage 5 inferred (the train set feeds ASR fine-tuning)
    _ddir=$(decode_dir "${dset}")
    [ ! -f "${_ddir}/feats.scp" ] || vocode_dir "${_ddir}/feats.scp" "${_ddir}" "${dset}"
  done
  # the oracle: vocoded ground-truth mel, the ceiling of every table
  for dset in $([ "${vocode_oracle}" = false ] || echo "${test_sets}"); do
    vocode_dir "${dumpdir}/${dset}/feats.scp" "${train_exp}/oracle_${dset}" "${dset}"
  done
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
  log "Stage 7: cascaded lip reading (ESPnet ASR), lipreading.sh"
  shared_args=()  # every option of stage_options.sh, as this run has it
  for _opt in $(option_names "$(dirname "${BASH_SOURCE[0]}")/stage_options.sh"); do
    shared_args+=("--${_opt}" "${!_opt}")
  done
  ./lipreading.sh "${shared_args[@]}" --train_exp "${train_exp}" --inference_tag "${inference_tag}"
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
  log "Stage 8: scoring, RESULTS.md and the HTML report"
  [ "${lang}" = en ] || log "the judges (${judges}) are English only: no judge rows for ${lang}"
  report_plan() {
    ${python} -m lipsound2.bin.report_plan "$1" --expdir "${expdir}" --dumpdir "${dumpdir}" --train_exp "${train_exp}" \
      --train_tag "${train_tag}" --test_sets "${test_sets}" --inference_tag "${inference_tag}" --lang "${lang}" \
      --judges "${judges}" --judge_model "${judge_model}" --score_label "${score_label}" \
      --score_extra_exps "${score_extra_exps}" --num_plots "${num_plots}" --vocoder_type "${vocoder_type}" \
      --vocoder_file "${vocoder_ckpt}" --asr_pretrained_model "${asr_pretrained_model}" \
      --asr_lr_factor "${asr_lr_factor}" --use_lm "${use_lm}" --ngram_order "${ngram_order}" \
      --train_config "${train_config}" --inference_config "${inference_config}" --vocoder_config "${vocoder_config}" \
      --asr_config "${asr_config}" --asr_finetune_config "${asr_finetune_config}"
  }
  # every row's speech scored, and transcribed by each judge ASR (real audio too)
  _steps=() _report_args=()  # (read_lines fills them)
  read_lines _steps report_plan steps
  for _s in "${_steps[@]}"; do
    IFS=$'\t' read -r -a _s <<<"${_s}"
    "${_s[0]}_dir" "${_s[@]:1}"
  done
  read_lines _key report_plan key
  if ! step_done 8 "${train_exp}/RESULTS.md" "${train_exp}" report "${_key[@]}"; then
    read_lines _report_args report_plan args
    ${python} -m lipsound2.bin.make_report "${_report_args[@]}"
    step_mark "${train_exp}" report "${_key[@]}"
  fi
  log "Results: ${train_exp}/RESULTS.md; report: ${train_exp}/report/index.html"
fi

if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
  log "Stage 9: packing ${train_exp}/${inference_model} into ${pack_file}"
  [ -f "${train_exp}/${inference_model}" ] || { log "no model ${train_exp}/${inference_model}: run stage 4"; exit 1; }
  av_training
  require_trained 9 av "${_av_training[@]}"
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
