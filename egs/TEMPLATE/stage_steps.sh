# shellcheck shell=bash
# The steps of lipsound2.sh's stages that take more than a few lines: each keys its work with
# the done markers of utils/stage_lib.sh (step_done/step_mark), asks a lipsound2.bin program
# what to run, and runs the jobs through the job runners of cmd.sh. lipsound2.sh sources this
# after its helpers; the functions read its options and derived names.
# shellcheck disable=SC2154  # the options and derived names are lipsound2.sh's

# prepare_av_set DATA_DIR DUMP_DIR: stage 1 of one set: face tracks and 16 kHz audio from the
# videos DATA_DIR lists (jobs of lipsound2.bin.prepare_av, merged by lipsound2.bin.merge_jobs);
# an audio-only set's tables are copied for stage 2.
prepare_av_set() {
  local logdir=$2/logs/stage1 name=${2##*/} wav_opts f
  mkdir -p "$2"
  # the settings travel with the data, and the jobs read this copy: an edit of the conf
  # while they run changes neither (stage 2 writes it again with its mel settings)
  "${python}" -m lipsound2.bin.frontend_settings write --frontend_config "${frontend_config}" --out "$2/frontend.yaml"
  if [ ! -f "$1/video.scp" ]; then
    # audio only: no face tracks; stage 2 decodes and resamples the audio it lists
    log "Stage 1: ${name} is audio only: its tables are copied for stage 2"
    for f in wav.scp utt2spk spk2utt text; do
      [ ! -f "$1/${f}" ] || cp "$1/${f}" "$2/${f}"
    done
    utils/validate_data_dir.sh --no-feats --no-video "$2"
  else
    mkdir -p "${logdir}"
    split_for_jobs "${nj}" "$1/video.scp" "${logdir}/video"
    # Without wav.scp the audio comes from the video files themselves.
    wav_opts=(--wav_scp "$1/wav.scp")
    [ -f "$1/wav.scp" ] || wav_opts=()
    log "Stage 1: ${name}: ${_nj} jobs, logs in ${logdir}/prepare_av.*.log"
    ${train_cmd} JOB=1:"${_nj}" "${logdir}/prepare_av.JOB.log" \
      "${python}" -m lipsound2.bin.prepare_av --frontend_config "$2/frontend.yaml" \
      --video_scp "${logdir}/video.JOB.scp" "${wav_opts[@]}" \
      --media_dir "$2/data" --out_dir "${logdir}/output.JOB" --job_tag JOB
    rm -f "$2/rejects"
    "${python}" -m lipsound2.bin.merge_jobs --name "Stage 1 ${name}" --src_dir "$1" --dst_dir "$2" \
      --tables video.scp wav.scp utt2num_vframes --max_reject_share "${max_reject_share}" "${_outputs[@]}"
    utils/validate_data_dir.sh --no-feats "$2"
  fi
}


# make_units: stage 2's speech units of every set, one per mel frame, from a k-means model fitted
# on the training set's frames (${units_exp}): a refit makes every set's units again; a set
# whose mel changed, its own. lipsound2.bin.units_plan gives the key and the job's arguments.
make_units() {
  local opts key args d todo=() stale=() cmd=${train_cmd}
  opts=(--unit_type "${unit_type}" --unit_k "${unit_k}" --unit_layer "${unit_layer}" --seed "${seed}"
    --unit_encoder_file "${unit_encoder_file}" --unit_encoder_config "${unit_encoder_config}"
    --unit_max_fit_frames "${unit_max_fit_frames}")
  read_lines key "${python}" -m lipsound2.bin.units_plan key "${opts[@]}"
  for d in ${all_sets}; do stale+=(--stale "${dumpdir}/${d}/units*" --stale "${dumpdir}/${d}/.done.units"); done
  step_done 2 "${units_exp} (k-means)" "${units_exp}" kmeans "${key[@]}" --table "${dumpdir}/${train_set}/feats.scp" \
    --stale "${units_exp}/kmeans.npz" "${stale[@]}" || true
  for d in ${all_sets}; do
    step_done 2 "${dumpdir}/${d} (units)" "${dumpdir}/${d}" units "${key[@]}" --table "${dumpdir}/${d}/feats.scp" \
      --file "${units_exp}/kmeans.npz" --stale "${dumpdir}/${d}/units*" || todo+=("${dumpdir}/${d}")
  done
  [ ${#todo[@]} -gt 0 ] || return 0
  mkdir -p "${units_exp}"
  read_lines args "${python}" -m lipsound2.bin.units_plan args "${opts[@]}" --units_exp "${units_exp}" \
    --fit_dir "${dumpdir}/${train_set}" --max_reject_share "${max_reject_share}" --ngpu "${ngpu}"
  [ "${args[0]}" = cpu ] || cmd="${cuda_cmd} --gpu 1"
  log "Stage 2: ${unit_type} units, k=${unit_k}, for ${#todo[@]} sets (${args[0]}); log in ${units_exp}/extract_units.log"
  ${cmd} "${units_exp}/extract_units.log" "${python}" -m lipsound2.bin.extract_units "${args[@]:1}" "${todo[@]}"
  step_mark "${units_exp}" kmeans "${key[@]}" --table "${dumpdir}/${train_set}/feats.scp"
  for d in "${todo[@]}"; do step_mark "${d}" units "${key[@]}" --table "${d}/feats.scp" --file "${units_exp}/kmeans.npz"; done
}


# Stages 3-4: train with ESPnet's trainer through its launcher (local, Slurm, multi-GPU,
# multi-node). Usage: train_lipsound2 KIND EXP CONFIG TRAIN_SET VALID_SET [PLAN OPTION...]
# [-- TRAINER ARG...]; lipsound2.bin.train_plan keys the run and prepares EXP (KIND: av or
# audio, the decoder's audio pre-training). A finished run is skipped; an interrupted one
# resumes from EXP/checkpoint.pth; a redo keeps the oracle dirs (vocoded ground truth).
train_lipsound2() {
  local exp=$2 plan key args
  train_plan_opts plan "$@"
  read_lines key "${python}" -m lipsound2.bin.train_plan key "${plan[@]}"
  step_done "${_stage_no}" "${exp} (training)" "${exp}" train "${key[@]}" --stale "${exp}/*" --stale "${exp}/.done.*" \
    --keep "${exp}/oracle_*" && return 0
  read_lines args "${python}" -m lipsound2.bin.train_plan setup "${plan[@]}"
  log "Training ${exp} (config $3); log: ${exp}/train.log"
  ${python} -m espnet2.bin.launch --cmd "${cuda_cmd}" --log "${exp}/train.log" --ngpu "${ngpu}" \
    --num_nodes "${num_nodes}" --init_file_prefix "${exp}/.dist_init_" --multiprocessing_distributed true -- \
    "${python}" -m "${args[0]}" --config "$3" --frontend_config "${exp}/frontend.yaml" --output_dir "${exp}" \
    --seed "${seed}" --resume true "${args[@]:1}"
  step_mark "${exp}" train "${key[@]}"
}

# train_plan_opts ARRAY KIND EXP CONFIG TRAIN_SET VALID_SET [OPTIONS...]: train_plan's options
# for that training, into ARRAY
train_plan_opts() {
  local -n _plan_to=$1
  _plan_to=(--kind "$2" --exp "$3" --config "$4" --train_set "$5" --valid_set "$6" --dumpdir "${dumpdir}"
    --seed "${seed}" --feats_normalize "${feats_normalize}" --lipsound2_config "${train_config}"
    --frontend_config "${frontend_config}" "${@:7}")
}

# require_trained STAGE KIND EXP CONFIG TRAIN_SET VALID_SET [OPTIONS...]: a later stage reads
# the model of that training. One whose training stopped is refused (its best checkpoint so far
# would pass for the result); one trained under other settings or data than they are now is
# used with a warning that lists the changes; one with no record of a training (put there by
# hand) is used as it is.
require_trained() {
  local exp=$3 plan out key
  if [ ! -f "${exp}/.done.train" ]; then
    [ ! -f "${exp}/.started.train" ] || {
      log "Stage $1: Error: the training of ${exp} (stage 4) stopped before it finished: run stage 4 to finish it"
      exit 1
    }
    return 0
  fi
  train_plan_opts plan "${@:2}"
  if ! out=$("${python}" -m lipsound2.bin.train_plan key "${plan[@]}"); then
    log "Stage $1: WARNING: could not check ${exp} against today's training settings (above); used as it is"
    return 0
  fi
  mapfile -t key <<<"${out}"
  ${python} -m lipsound2.bin.step verify --stage "$1" --what "${exp} (stage 4's training)" --dir "${exp}" \
    --name train "${key[@]}" || exit $?
}

# ---- Stage 6: vocoding ----

vocoder_plan() {
  "${python}" -m lipsound2.bin.vocoder_plan "$1" --vocoder_type "${vocoder_type}" --vocoder_config "${vocoder_config}" \
    --vocoder_file "${vocoder_ckpt}" --dumpdir "${dumpdir}" --train_set "${train_set}" \
    ${vocoder_gta:+--gta_feats "${vocoder_gta}"} "${@:2}"
}
# gta_dir SET OUT_DIR: the trained model's teacher-forced (GTA) mel of dump/SET, with its ground
# truth's frames, into OUT_DIR/feats.scp (--vocoder_finetune); another model makes it again.
gta_dir() {
  local key args model=${train_exp}/${inference_model} cmd=${decode_cmd} device=cpu
  read_lines key vocoder_plan gta_key --set "$1" --model_file "${model}"
  step_done 6 "$2 (GTA mel)" "$2" gta "${key[@]}" --stale "$2/*" && return 0
  [ -f "${model}" ] || { log "no model ${model}: run stage 4"; exit 1; }
  av_training
  require_trained 6 av "${_av_training[@]}"
  read_lines args vocoder_plan gta_args --set "$1" --model_file "${model}"
  [ "${gpu_inference}" = false ] || cmd="${cuda_cmd} --gpu 1" device=cuda
  mkdir -p "$2/log"
  split_for_jobs "${inference_nj}" "${dumpdir}/$1/video.scp" "$2/log/keys"
  log "Teacher-forced mel of ${dumpdir}/$1 by ${model} (${_nj} jobs, ${device}); logs: $2/log/gta_mel.*.log"
  ${cmd} JOB=1:"${_nj}" "$2/log/gta_mel.JOB.log" "${python}" -m lipsound2.bin.gta_mel --device "${device}" \
    "${args[@]}" --key_file "$2/log/keys.JOB.scp" --output_dir "$2/log/output.JOB"
  vocoder_plan gta_collect --out_dir "$2" --num_jobs "${_nj}"
  step_mark "$2" gta "${key[@]}"
}
# vocode_dir FEATS_SCP OUT_DIR SET: every mel of FEATS_SCP to OUT_DIR/wav/*.wav and OUT_DIR/wav.scp
# (a vocoder with a speaker input reads the speakers of dump/SET), with the mel settings beside
# FEATS_SCP. Another mel or vocoder (its type, config, checkpoint), or a wav of its own lost,
# vocodes them again.
vocode_dir() {
  local key args n
  read_lines key vocoder_plan vocode_key --feats "$1"
  key+=(--table "$2/wav.scp")
  step_done 6 "$2 (speech)" "$2" vocode "${key[@]}" --stale "$2/wav" --stale "$2/wav.scp" --stale "$2/log/vocode.*" &&
    return 0
  read_lines args vocoder_plan vocode_args --feats "$1" --set "$3"
  mkdir -p "$2/log"
  n=$(min "${inference_nj}" "$(wc -l <"$1")")
  log "Vocoding $1 -> $2 (${n} jobs)"
  ${decode_cmd} JOB=1:"${n}" "$2/log/vocode.JOB.log" "${python}" -m lipsound2.bin.vocode --feats_scp "$1" \
    --outdir "$2" --wav_scp "$2/log/wav.JOB.scp" --job_id JOB --num_jobs "${n}" "${args[@]}"
  vocoder_plan collect --out_dir "$2" --num_jobs "${n}"
  step_mark "$2" vocode "${key[@]}"
}
# train_vocoder: stage 6's own vocoder checkpoint (a type of TRAINED_TYPES without --vocoder_file);
# a speaker section in the vocoder config: the training audio's speaker embeddings first.
train_vocoder() {
  local spk key args cmd device
  spk=$(vocoder_plan speaker_dir)
  if [ -n "${spk}" ] && ! step_done 6 "${spk} (speaker embeddings)" "${spk}" embed \
    --table "${dumpdir}/${train_set}/wav.scp" --stale "${spk}/*"; then
    log "Speaker embeddings of ${dumpdir}/${train_set}/wav.scp; log: ${spk}/embed.log"
    ${train_cmd} "${spk}/embed.log" \
      "${python}" -m lipsound2.bin.speaker_embed --wav_scp "${dumpdir}/${train_set}/wav.scp" --out_dir "${spk}"
    [ ! -s "${spk}/failed" ] ||
      log "WARNING: $(wc -l <"${spk}/failed") utterances gave no speaker embedding, see ${spk}/failed"
    step_mark "${spk}" embed --table "${dumpdir}/${train_set}/wav.scp"
  fi
  read_lines key vocoder_plan train_key
  if ! step_done 6 "${vocoder_exp} (vocoder training)" "${vocoder_exp}" train "${key[@]}" --stale "${vocoder_exp}/*"; then
    read_lines args vocoder_plan train_args
    # on a GPU when training has GPUs (--ngpu); an interrupted training resumes from its checkpoint
    cmd=${train_cmd} device=cpu
    [ "${ngpu}" -eq 0 ] || cmd="${cuda_cmd} --gpu 1" device=cuda
    log "Training the vocoder (${vocoder_type}) on ${dumpdir}/${train_set}/wav.scp (${device}); log: ${vocoder_exp}/train.log"
    ${cmd} "${vocoder_exp}/train.log" "${python}" -m lipsound2.bin.train_vocoder --config "${vocoder_config}" \
      "${args[@]}" --device "${device}" --outdir "${vocoder_exp}"
    step_mark "${vocoder_exp}" train "${key[@]}"
  fi
}

# ---- Stage 8: judges and speech scores ----

# judge_dir NAME WAV_SCP EVAL_DIR: the judge ASR NAME's hypotheses of WAV_SCP into
# EVAL_DIR/hyp/judge_NAME.txt (the whisper judge's model dir is part of what they came from)
judge_dir() {
  local hyp=$3/hyp/judge_$1.txt model key n i
  model=$([ "$1" != whisper ] || echo "${judge_model}")
  key=(--table "$2" --opt "judge_model=${model}")
  step_done 8 "${hyp}" "$3/hyp" "judge_$1" "${key[@]}" --stale "${hyp}" && return 0
  mkdir -p "$3/log" "$3/hyp"
  n=$(min "${nj}" "$(wc -l <"$2")")
  ${decode_cmd} JOB=1:"${n}" "$3/log/judge_$1.JOB.log" "${python}" -m lipsound2.bin.judge --judge "$1" --wav_scp "$2" \
    --out "$3/log/judge_$1.JOB.txt" ${model:+--model_dir "${model}"} --job_id JOB --num_jobs "${n}"
  for i in $(seq "${n}"); do cat "$3/log/judge_$1.${i}.txt"; done | sort >"${hyp}.tmp"
  mv "${hyp}.tmp" "${hyp}"
  step_mark "$3/hyp" "judge_$1" "${key[@]}"
}
# score_dir REF_WAV_SCP EVAL_DIR: PESQ/STOI/ESTOI and durations into EVAL_DIR/scores/speech.tsv,
# a row for every utterance of REF_WAV_SCP (failed where EVAL_DIR/wav.scp lacks it)
score_dir() {
  local key=(--table "$1" --table "$2/wav.scp") n i
  step_done 8 "$2/scores" "$2/scores" speech "${key[@]}" --stale "$2/scores/speech.tsv" && return 0
  mkdir -p "$2/log" "$2/scores"
  n=$(min "${nj}" "$(wc -l <"$1")")
  ${decode_cmd} JOB=1:"${n}" "$2/log/score.JOB.log" "${python}" -m lipsound2.bin.score --ref_wav_scp "$1" \
    --hyp_wav_scp "$2/wav.scp" --out "$2/log/speech.JOB.tsv" --job_id JOB --num_jobs "${n}"
  { head -n 1 "$2/log/speech.1.tsv" && for i in $(seq "${n}"); do tail -n +2 "$2/log/speech.${i}.tsv"; done | sort; } \
    >"$2/scores/.speech.tsv.tmp"
  mv "$2/scores/.speech.tsv.tmp" "$2/scores/speech.tsv"
  step_mark "$2/scores" speech "${key[@]}"
}

SECONDS=0
