#!/usr/bin/env bash
# CMLR data preparation (see README.md):
#   sd: the corpus' own train.csv / val.csv / test.csv lists;
#   si: speakers s1 (male) and s6 (female) test, the others train; dev: 5% of the training pool.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[0]##*/}) $*" >&2; }

cmlr_root=""        # CMLR root with video/, text/, audio/ and the split lists (default: ${CMLR}).
protocol=sd         # sd or si.
si_test_speakers="" # si: test speakers (default: s1 s6).
dev_share=0.05      # si: share of the training pool for dev.
seed=0              # Seed of the random split.
datadir=data        # Output folder of the sets.

help_message="Usage: $0 [--cmlr_root DIR] [--protocol sd|si] [--si_test_speakers 's1 s6'] [--dev_share 0.05]
  [--seed N] [--datadir data]"

# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
[ -n "${cmlr_root}" ] || cmlr_root=${CMLR}
[ -d "${cmlr_root}" ] || { log "CMLR not found at '${cmlr_root}': set CMLR in db.sh or pass --cmlr_root"; exit 1; }

opts=(--cmlr_root "${cmlr_root}" --protocol "${protocol}" --seed "${seed}" --datadir "${datadir}"
  --dev_share "${dev_share}")
[ -z "${si_test_speakers}" ] || opts+=(--si_test_speakers "${si_test_speakers}")
log "preparing CMLR (${protocol}) from ${cmlr_root}"
python -m lipsound2.bin.prepare_corpus cmlr "${opts[@]}"
for part in train dev test; do
  dir=${datadir}/${part}_${protocol}
  vopts=(--no-feats)
  [ -f "${dir}/wav.scp" ] || vopts+=(--no-wav)
  utils/validate_data_dir.sh "${vopts[@]}" "${dir}"
done
log "done"
