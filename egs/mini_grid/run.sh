#!/usr/bin/env bash
# mini_grid: every stage on a generated GRID-layout corpus, on a CPU (see README.md).
#   ./run.sh                          speaker-dependent protocol, stages 0-9
#   ./run.sh --protocol si            speaker-independent protocol
#   ./run.sh --stage 4 --stop_stage 6 any option of lipsound2.sh is passed on
#
# Besides the main experiment (pre-trained on the generated VoxCeleb2-layout set, then
# fine-tuned), it trains two comparisons that RESULTS.md reports beside it and the oracle:
# the same model fine-tuned from scratch (the paper's central claim: pre-training helps),
# and the same model trained and tested on blank video (what the decoder learns with no
# visual information). --baselines false runs the main experiment only.
# --units true adds the speech-units comparison (../../docs/units.md): MFCC units (k 200) in
# stage 2, the main experiment again with a unit head, and both models' mel through two
# HiFi-GANs of the same budget (mel only; mel + units), every row in the one scoring pass.
# --audio_pretrain true also pre-trains the decoder on the generated audio-only set (stage 3,
# docs/audio_pretraining.md) and adds two rows at the same fine-tuning config and updates:
# the decoder from the audio model alone, and the decoder from it with the encoder (and the
# rest) from the audio-visual pre-training.
# --pretrained_vocoder true adds the main model's test mel and the oracle through the published
# HiFi-GAN V1 (--vocoder_type hifigan_pretrained, no training; docs/vocoders_asr_scoring.md),
# two rows beside Griffin-Lim's in the one scoring pass.
# Each training uses one thread, so two of them run side by side on a 2-core machine.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (run.sh) $*" >&2; }

stage=0
stop_stage=9
baselines=true
units=false
audio_pretrain=false
pretrained_vocoder=false
expdir=exp
opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2 ;;
    --stop_stage) stop_stage=$2 ;;
    --baselines) baselines=$2 ;;
    --units) units=$2 ;;
    --audio_pretrain) audio_pretrain=$2 ;;
    --pretrained_vocoder) pretrained_vocoder=$2 ;;
    --expdir) expdir=$2 ;;
    *)
      [ $# -ge 2 ] || { log "option '$1' needs a value"; exit 1; }
      opts+=("$1" "$2")
      ;;
  esac
  shift 2
done
for _switch in baselines units audio_pretrain pretrained_vocoder; do
  case ${!_switch} in
    true | false) ;;
    *) log "--${_switch} takes true or false, not '${!_switch}'"; exit 1 ;;
  esac
done

common=(
  --nj 2
  --inference_nj 2
  --lang en
  --protocol sd
  --expdir "${expdir}"
  --pretrain_train_set voxceleb2_train
  --pretrain_valid_set voxceleb2_valid
)
main_tag=lipsound2_pretrained
scratch_tag=lipsound2_scratch
blank_tag=lipsound2_blank_video
units_tag=lipsound2_units
audio_tag=lipsound2_audio_decoder
both_tag=lipsound2_av_and_audio_decoder
if [ "${audio_pretrain}" = true ]; then
  common+=(--audio_pretrain_train_set librispeech_train_clean_100 --audio_pretrain_valid_set librispeech_dev_clean)
fi

# stages FIRST LAST ARGS...: run lipsound2.sh on the part of FIRST..LAST that --stage and
# --stop_stage ask for (nothing when they do not overlap).
stages() {
  local first=$1 last=$2
  shift 2
  [ "${stage}" -gt "${first}" ] && first=${stage}
  [ "${stop_stage}" -lt "${last}" ] && last=${stop_stage}
  [ "${first}" -le "${last}" ] || return 0
  ./lipsound2.sh "${common[@]}" --stage "${first}" --stop_stage "${last}" "$@" "${opts[@]}"
}

# side_by_side NAME FIRST LAST ARGS...: run `stages FIRST LAST ARGS` in the background, output
# in ${expdir}/NAME.log; none of FIRST..LAST asked for: no job, and an earlier run's log stays.
pids=()
names=()
side_by_side() {
  local name=$1
  shift
  [ "${stage}" -le "$2" ] && [ "${stop_stage}" -ge "$1" ] || return 0
  mkdir -p "${expdir}"
  log "${name}: running in the background, log ${expdir}/${name}.log"
  stages "$@" >"${expdir}/${name}.log" 2>&1 &
  pids+=($!)
  names+=("${name}")
}
wait_all() {
  local i failed=0
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      log "${names[$i]} failed; see ${expdir}/${names[$i]}.log"
      failed=1
    fi
  done
  pids=()
  names=()
  return "${failed}"
}

# The comparisons need neither the train set's generated speech (only the main experiment's
# ASR is fine-tuned) nor an oracle of their own (stage 8 shows the main experiment's).
only_test=(--infer_train false --vocode_oracle false)
scratch=(--train_tag "${scratch_tag}" --skip_pretrain true --init_from_pretrain false "${only_test[@]}")
blank=(--train_tag "${blank_tag}" --train_args "--blank_video true" "${only_test[@]}")
units_conf=../TEMPLATE/conf/train_cpu_units.yaml
with_units=(--train_tag "${units_tag}" --pretrain_tag "${units_tag}_pretrain" --pretrain_config "${units_conf}"
  --train_config "${units_conf}" "${only_test[@]}")
hifigan=(--vocoder_config ../TEMPLATE/conf/vocoder_hifigan_cpu.yaml --vocode_oracle true)
audio_decoder=(--train_tag "${audio_tag}" --skip_pretrain true --init_from_pretrain false --audio_pretrain true
  "${only_test[@]}")
both=(--train_tag "${both_tag}" --audio_pretrain true "${only_test[@]}")

# revocode TAG VOCODER_TYPE: TAG's test mel (and units) through another vocoder, in an
# experiment folder of its own (TAG_VOCODER_TYPE), since a decode dir holds one vocoder's wavs.
# Stage 6 there vocodes again when the mel (a model trained again) or the vocoder changed.
revocode() {
  local src dst f
  for src in "${expdir}/$1"/decode_test_*; do
    [ -d "${src}" ] || continue
    dst=${expdir}/$1_$2/$(basename "${src}")
    mkdir -p "${dst}"
    for f in feats.scp units.scp frontend.yaml; do
      [ ! -f "${src}/${f}" ] || cmp -s "${src}/${f}" "${dst}/${f}" || cp "${src}/${f}" "${dst}/"
    done
  done
  stages 6 6 --train_tag "$1_$2" --vocoder_type "$2" "${hifigan[@]}"
}

# Data, face tracks and features (and speech units), shared by every experiment.
if [ "${units}" = true ]; then stages 0 2 --unit_type mfcc --unit_k 200; else stages 0 2; fi
# Pre-training beside the from-scratch comparison (and the units model's own pre-training).
if [ "${baselines}" = true ]; then side_by_side "${scratch_tag}" 4 6 "${scratch[@]}"; fi
if [ "${units}" = true ]; then side_by_side "${units_tag}_pretrain" 3 3 "${with_units[@]}"; fi
stages 3 3 --train_tag "${main_tag}"
wait_all
# Fine-tuning (then inference, vocoding, lip reading) beside the blank-video comparison (and
# the units model's fine-tuning).
if [ "${baselines}" = true ]; then side_by_side "${blank_tag}" 4 6 "${blank[@]}"; fi
if [ "${units}" = true ]; then side_by_side "${units_tag}" 4 6 "${with_units[@]}"; fi
stages 4 7 --train_tag "${main_tag}"
wait_all
if [ "${units}" = true ]; then
  revocode "${main_tag}" hifigan
  revocode "${units_tag}" hifigan_units
fi
if [ "${pretrained_vocoder}" = true ]; then revocode "${main_tag}" hifigan_pretrained; fi
if [ "${audio_pretrain}" = true ]; then
  # The decoder's audio pre-training (stage 3 alone), then the two fine-tunings side by side.
  stages 3 3 --skip_pretrain true --audio_pretrain true
  side_by_side "${audio_tag}" 4 6 "${audio_decoder[@]}"
  stages 4 6 "${both[@]}"
  wait_all
fi
# One scoring pass over every experiment: RESULTS.md and the HTML report of the main one.
extra=""
if [ "${baselines}" = true ]; then
  extra="LipSound2 fine-tuned from scratch=${expdir}/${scratch_tag}/{decode}"
  extra+=";Blank video (no visual information)=${expdir}/${blank_tag}/{decode}"
fi
if [ "${units}" = true ]; then
  steps="HiFi-GAN $(sed -n 's/^ *steps: *//p' ../TEMPLATE/conf/vocoder_hifigan_cpu.yaml) steps"
  extra+="${extra:+;}LipSound2 + units (MFCC k 200, unit head)=${expdir}/${units_tag}/{decode}"
  extra+=";Oracle mel, ${steps} mel only=${expdir}/${main_tag}_hifigan/oracle_{set}"
  extra+=";LipSound2, ${steps} mel only=${expdir}/${main_tag}_hifigan/{decode}"
  extra+=";Oracle mel + units, ${steps} mel + units=${expdir}/${units_tag}_hifigan_units/oracle_{set}"
  extra+=";LipSound2 + units, ${steps} mel + units=${expdir}/${units_tag}_hifigan_units/{decode}"
fi
if [ "${audio_pretrain}" = true ]; then
  extra+="${extra:+;}LipSound2, decoder from audio pre-training=${expdir}/${audio_tag}/{decode}"
  extra+=";LipSound2, audio-visual pre-training + decoder from audio pre-training=${expdir}/${both_tag}/{decode}"
fi
if [ "${pretrained_vocoder}" = true ]; then
  extra+="${extra:+;}Oracle mel, HiFi-GAN V1 bridged=${expdir}/${main_tag}_hifigan_pretrained/oracle_{set}"
  extra+=";LipSound2, HiFi-GAN V1 bridged=${expdir}/${main_tag}_hifigan_pretrained/{decode}"
fi
stages 8 8 --train_tag "${main_tag}" --score_label "LipSound2 pre-trained + fine-tuned" \
  --score_extra_exps "${extra}"
# The main model in one file, for lipsound2-speak and Video2Speech.from_pretrained.
pack=${expdir}/mini_grid.zip
stages 9 9 --train_tag "${main_tag}" --pack_file "${pack}"
if [ "${stop_stage}" -ge 9 ]; then
  log "Packed model: ${pack}; speech from a video: lipsound2-speak VIDEO --model ${pack} -o OUT_DIR"
fi
