#!/usr/bin/env bash
# Stage 7 of lipsound2.sh: the cascaded lip reader, an ESPnet ASR on LipSound2's generated
# speech. lipsound2.sh calls it with every option; egs/<corpus>/lipreading.sh links here.
#
# The base ASR is either trained from scratch on the corpus' real training audio or, with
# --asr_pretrained_model, a pre-trained one (then also fine-tuned on the real audio: the paper's
# "+ fine-tuning" row). The base ASR fine-tuned on the experiment's generated training speech
# decodes the generated test speech, without and with an n-gram LM.
# Outputs (read by stage 8): <dir>/hyp/asr[_lm|_ft].txt beside the audio they transcribe.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# log, option checks, step_done, step_mark (done markers keyed on settings and inputs)
# shellcheck source=../../utils/stage_lib.sh
. utils/stage_lib.sh
asr_cascade() { ${python} -m lipsound2.bin.asr_cascade "$@"; }

# model_id MODEL: the model's path and when its training finished, recorded beside the
# hypotheses it wrote (stage 8 refuses to report another experiment's base ASR as this one's).
model_id() { echo "$1 $(stat -c %Y "$1/.done.train" 2>/dev/null || true)"; }
# model_key MODEL: sets model_key_opts to the step options that key what a model wrote on
# the model itself: its finished training (a retrained model decodes again), or the files of
# a model brought along.
model_key() {
  if [ -f "$1/.done.train" ]; then
    model_key_opts=(--file "$1/.done.train")
  elif [ -d "$1" ]; then
    model_key_opts=(--tree "$1")
  else
    model_key_opts=(--file "$1")
  fi
}

# asr_data_dir WAV_SCP TEXT OUT: an ESPnet ASR data dir of these tables
asr_data_dir() {
  local key=(--table "$1" --table "$2")
  step_done 7 "$3 (ASR data)" "$3" data "${key[@]}" --stale "$3/*" && return 0
  asr_cascade data --wav_scp "$1" --text "$2" --outdir "$3"
  step_mark "$3" data "${key[@]}"
}

# asr_finetune TRAIN_DIR VALID_DIR OUT: the base ASR fine-tuned at its peak lr x asr_lr_factor
asr_finetune() {
  local train=$1 valid=$2 out=$3 key
  model_key "${base_model}"
  key=(--conf "finetune=${asr_finetune_config}" --opt "lr_factor=${asr_lr_factor}" --opt "seed=${seed}"
    --table "${train}/wav.scp" --table "${train}/text" --table "${valid}/wav.scp" --table "${valid}/text"
    "${model_key_opts[@]}")
  step_done 7 "${out} (ASR fine-tuning)" "${out}" train "${key[@]}" --stale "${out}/*" && return 0
  log "Fine-tuning the ASR on ${train}; log: ${out}/train.log"
  asr_cascade finetune --pretrained_model "${base_model}" --config "${asr_finetune_config}" \
    --lr_factor "${asr_lr_factor}" --train_dir "${train}" --valid_dir "${valid}" \
    --outdir "${out}" --cmd "${cuda_cmd}" --seed "${seed}" --ngpu "${ngpu}"
  step_mark "${out}" train "${key[@]}"
}

# asr_decode MODEL WAV_SCP WORKDIR HYP_FILE [LM]: beam search, hypotheses copied to HYP_FILE
# (its marker beside it); another model, audio, beam config or LM decodes again.
asr_decode() {
  local model=$1 wav=$2 work=$3 hyp=$4 ngram=${5:-} key
  model_key "${model}"
  key=(--table "${wav}" --conf "decode=${asr_inference_config}" "${model_key_opts[@]}" ${ngram:+--file "${ngram}"})
  step_done 7 "${hyp}" "$(dirname "${hyp}")" "$(basename "${hyp}" .txt)" "${key[@]}" \
    --stale "${work}" --stale "${hyp}" && return 0
  asr_cascade decode --asr_model "${model}" --wav_scp "${wav}" --outdir "${work}" --nj "${inference_nj}" \
    --cmd "${asr_decode_cmd}" --inference_config "${asr_inference_config}" --ngpu "${ngpu}" \
    ${ngram:+--ngram_file "${ngram}"}
  cp "${work}/text" "${hyp}.tmp" && mv "${hyp}.tmp" "${hyp}"
  model_id "${model}" >"${hyp}.model"
  step_mark "$(dirname "${hyp}")" "$(basename "${hyp}" .txt)" "${key[@]}"
}

# Options: lipsound2.sh's of the same name (stage_options.sh declares the shared ones once),
# which it passes them all, and two of the experiment whose speech is decoded.
# shellcheck source=stage_options.sh
. "$(dirname "${BASH_SOURCE[0]}")/stage_options.sh"
train_exp=""                # LipSound2 experiment whose generated speech is decoded
inference_tag=""            # its decode dirs: <train_exp>/decode_<set>_<inference_tag>

help_message="Usage: $0 --train_exp <dir> --inference_tag <tag> --train_set <set> --valid_set <set>
  --test_sets \"<sets>\" [options]

Stage 7 of lipsound2.sh (cascaded lip reading), which passes every option.

Options [defaults]:
$(option_help "${BASH_SOURCE[0]}" "$(dirname "${BASH_SOURCE[0]}")/stage_options.sh")"

declared_options=$(option_names "${BASH_SOURCE[0]}" "$(dirname "${BASH_SOURCE[0]}")/stage_options.sh")
log "$0 $*"
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || usage_error "unexpected arguments: $*"
# shellcheck disable=SC1091
. ./path.sh
# shellcheck source=cmd.sh
. ./cmd.sh

check_shared_options
for opt in train_exp inference_tag train_set valid_set test_sets; do
  require "${opt}" "(lipsound2.sh passes it)"
done

asr_data=${expdir}/asr_data  # real audio, shared by all experiments
gen_data=${train_exp}/asr_data_${inference_tag}  # this experiment's generated speech (per decode tag)
# GPUs: training as stages 3-4; each decoding job on one GPU.
asr_decode_cmd=${decode_cmd}
[ "${ngpu}" -eq 0 ] || asr_decode_cmd=${cuda_cmd}

# ESPnet data dirs
asr_data_dir "${dumpdir}/${train_set}/wav.scp" "${dumpdir}/${train_set}/text" "${asr_data}/real_train"
asr_data_dir "${dumpdir}/${valid_set}/wav.scp" "${dumpdir}/${valid_set}/text" "${asr_data}/real_valid"
for pair in "gen_train:${train_set}" "gen_valid:${valid_set}"; do
  dset=${pair#*:}
  gen_wav=${train_exp}/decode_${dset}_${inference_tag}/wav.scp
  [ -f "${gen_wav}" ] || {
    log "no generated speech ${gen_wav}: stages 5 and 6 must also run on ${dset} for ASR fine-tuning"
    exit 1
  }
  asr_data_dir "${gen_wav}" "${dumpdir}/${dset}/text" "${gen_data}/${pair%%:*}"
done

# The base ASR
if [ -z "${asr_pretrained_model}" ]; then
  # No pre-trained ASR: train one from scratch on the corpus' real training audio.
  base_model=${expdir}/asr_scratch_$(basename "${asr_config}" .yaml)_${asr_token_type}
  _key=(--conf "asr=${asr_config}" --opt "token_type=${asr_token_type}" --opt "nbpe=${nbpe}" --opt "seed=${seed}"
    --table "${asr_data}/real_train/wav.scp" --table "${asr_data}/real_train/text"
    --table "${asr_data}/real_valid/wav.scp" --table "${asr_data}/real_valid/text")
  if ! step_done 7 "${base_model} (ASR on real audio)" "${base_model}" train "${_key[@]}" --stale "${base_model}/*"; then
    asr_cascade tokens --text "${asr_data}/real_train/text" --outdir "${base_model}/tokens" \
      --token_type "${asr_token_type}" --nbpe "${nbpe}"
    log "Training the ASR from scratch on real audio; log: ${base_model}/train.log"
    bpe_args=()
    [ "${asr_token_type}" = bpe ] && bpe_args=(--bpemodel "${base_model}/tokens/bpe.model")
    asr_cascade train --config "${asr_config}" --train_dir "${asr_data}/real_train" \
      --valid_dir "${asr_data}/real_valid" --outdir "${base_model}" --cmd "${cuda_cmd}" --seed "${seed}" \
      --token_list "${base_model}/tokens/tokens.txt" --token_type "${asr_token_type}" "${bpe_args[@]}" \
      --ngpu "${ngpu}"
    step_mark "${base_model}" train "${_key[@]}"
  fi
  base_config=${base_model}/config.yaml
else
  # a packed archive is unpacked once under the experiment dir
  base_model=$(asr_cascade resolve --model "${asr_pretrained_model}" --unpack_dir "${expdir}/asr_pretrained")
  base_config=$(asr_cascade resolve --model "${base_model}" --train_config)
  # "+ fine-tuning": the pre-trained ASR fine-tuned on the corpus' real training audio
  ft_real=${expdir}/asr_finetune_real_$(basename "${asr_finetune_config}" .yaml)
  asr_finetune "${asr_data}/real_train" "${asr_data}/real_valid" "${ft_real}"
fi

# LipSound2: the base ASR fine-tuned on this experiment's generated training speech (one per
# decode tag, as the speech is)
ft_gen=${train_exp}/asr_finetune_${inference_tag}
asr_finetune "${gen_data}/gen_train" "${gen_data}/gen_valid" "${ft_gen}"
model_id "${base_model}" >"${ft_gen}/.base_model.tmp"
cmp -s "${ft_gen}/.base_model.tmp" "${ft_gen}/base_model" || mv "${ft_gen}/.base_model.tmp" "${ft_gen}/base_model"
rm -f "${ft_gen}/.base_model.tmp"

lm=${expdir}/asr_lm/lm_${ngram_order}gram_$(basename "$(dirname "${base_config}")").arpa
if [ "${use_lm}" = true ]; then
  _key=(--table "${asr_data}/real_train/text" --file "${base_config}" --opt "order=${ngram_order}")
  if ! step_done 7 "${lm}" "$(dirname "${lm}")" "$(basename "${lm}")" "${_key[@]}" --stale "${lm}"; then
    asr_cascade ngram --text "${asr_data}/real_train/text" --asr_train_config "${base_config}" \
      --arpa "${lm}" --order "${ngram_order}"
    step_mark "$(dirname "${lm}")" "$(basename "${lm}")" "${_key[@]}"
  fi
fi

for dset in ${test_sets}; do
  real_wav=${dumpdir}/${dset}/wav.scp
  if [ -n "${asr_pretrained_model}" ]; then
    # "Audio gold standard": the pre-trained ASR on real audio; "+ fine-tuning": adapted to it
    real_dir=${expdir}/real_${dset}
    asr_decode "${base_model}" "${real_wav}" "${expdir}/asr_decode/gold_${dset}" "${real_dir}/hyp/asr.txt"
    asr_decode "${ft_real}" "${real_wav}" "${ft_real}/decode_real_${dset}" "${real_dir}/hyp/asr_ft.txt"
  else
    # an ASR trained on the corpus' real audio is no gold standard: it stands for "+ fine-tuning"
    asr_decode "${base_model}" "${real_wav}" "${base_model}/decode_real_${dset}" \
      "${expdir}/real_asr_trained_${dset}/hyp/asr.txt"
  fi
  gen_dir=${train_exp}/decode_${dset}_${inference_tag}
  asr_decode "${ft_gen}" "${gen_dir}/wav.scp" "${ft_gen}/decode_${dset}" "${gen_dir}/hyp/asr.txt"
  if [ "${use_lm}" = true ]; then
    asr_decode "${ft_gen}" "${gen_dir}/wav.scp" "${ft_gen}/decode_${dset}_lm" "${gen_dir}/hyp/asr_lm.txt" "${lm}"
  elif [ -f "${gen_dir}/hyp/asr_lm.txt" ]; then
    # the report reads the hypotheses it finds: none of an LM this run does not use
    log "--use_lm false: removing ${gen_dir}/hyp/asr_lm.txt (an earlier run's, with the LM)"
    rm -f "${gen_dir}/hyp/asr_lm.txt" "${gen_dir}/hyp/asr_lm.txt.model" "${gen_dir}/hyp/.done.asr_lm"
  fi
done
