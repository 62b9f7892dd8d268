#!/usr/bin/env bash
# TCD-TIMIT data preparation (see README.md for the layout and the sources of the splits):
#   sd: lipspeakers 1-3, random 90:5:5 within each speaker, one model for all speakers;
#   si: volunteers, with the 17 test speakers of Harte and Gillen (2015); dev: 5% of the rest.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[0]##*/}) $*" >&2; }

tcd_timit_root=""   # TCD-TIMIT root with lipspeakers/ and volunteers/ (default: ${TCD_TIMIT}).
protocol=sd         # sd or si.
text=""             # Transcript table '<speaker>-<utt> words' or '<utt> words' (TIMIT sentence ids).
si_test_speakers="" # si: test volunteers (default: Harte and Gillen's 17).
dev_share=0.05      # Share of utterances for dev.
test_share=0.05     # Share of each speaker's utterances for test (sd).
seed=0              # Seed of the random split.
datadir=data        # Output folder of the sets.

help_message="Usage: $0 [--tcd_timit_root DIR] [--protocol sd|si] [--text FILE] [--si_test_speakers '...']
  [--dev_share 0.05] [--test_share 0.05] [--seed N] [--datadir data]"

# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
[ -n "${tcd_timit_root}" ] || tcd_timit_root=${TCD_TIMIT}
[ -d "${tcd_timit_root}" ] || { log "TCD-TIMIT not found at '${tcd_timit_root}': set TCD_TIMIT in db.sh or pass --tcd_timit_root"; exit 1; }

opts=(--tcd_timit_root "${tcd_timit_root}" --protocol "${protocol}" --seed "${seed}" --datadir "${datadir}"
  --dev_share "${dev_share}" --test_share "${test_share}")
[ -z "${text}" ] || opts+=(--text "${text}")
[ -z "${si_test_speakers}" ] || opts+=(--si_test_speakers "${si_test_speakers}")
log "preparing TCD-TIMIT (${protocol}) from ${tcd_timit_root}"
python -m lipsound2.bin.prepare_corpus tcd_timit "${opts[@]}"
for part in train dev test; do
  utils/validate_data_dir.sh --no-feats --no-wav "${datadir}/${part}_${protocol}"
done
log "done"
