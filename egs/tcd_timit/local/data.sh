#!/usr/bin/env bash
# TCD-TIMIT data preparation (see README.md for the layout, the download and the split sources):
#   sd: lipspeakers 1-3, random 90:5:5 within each speaker, one model for all speakers;
#   si: Harte and Gillen's (2015) 39 training and 17 test volunteers; dev: 5% of the training;
#   overlapped: the published 31 test sentences of each of the 56 volunteers (lip reading).
# Transcripts: TIMIT's PROMPTS.TXT, the clips being named by TIMIT sentence id.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[0]##*/}) $*" >&2; }

tcd_timit_root=""   # TCD-TIMIT root with lipspeakers/ and volunteers/ (default: ${TCD_TIMIT}).
protocol=sd         # sd, si or overlapped.
timit_prompts=""    # TIMIT's PROMPTS.TXT (default: PROMPTS.TXT in the TCD-TIMIT root).
si_test_speakers="" # si: test volunteers (default: Harte and Gillen's 17).
test_list=""        # overlapped: test list (default: local/lists/overlapped_test.txt).
dev_share=0.05      # Share of utterances for dev.
test_share=0.05     # Share of each speaker's utterances for test (sd).
seed=0              # Seed of the random split.
datadir=data        # Output folder of the sets.

help_message="Usage: $0 [--tcd_timit_root DIR] [--protocol sd|si|overlapped] [--timit_prompts FILE]
  [--si_test_speakers '...'] [--test_list FILE] [--dev_share 0.05] [--test_share 0.05] [--seed N]
  [--datadir data]"

# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
[ -n "${tcd_timit_root}" ] || tcd_timit_root=${TCD_TIMIT}
[ -d "${tcd_timit_root}" ] || { log "TCD-TIMIT not found at '${tcd_timit_root}': set TCD_TIMIT in db.sh or pass --tcd_timit_root"; exit 1; }
[ -n "${timit_prompts}" ] || timit_prompts=${tcd_timit_root}/PROMPTS.TXT
[ -f "${timit_prompts}" ] || {
  log "no TIMIT prompts at '${timit_prompts}': download https://catalog.ldc.upenn.edu/docs/LDC93S1/PROMPTS.TXT there or pass --timit_prompts"
  exit 1
}

opts=(--tcd_timit_root "${tcd_timit_root}" --protocol "${protocol}" --seed "${seed}" --datadir "${datadir}"
  --dev_share "${dev_share}" --test_share "${test_share}" --timit_prompts "${timit_prompts}")
[ -z "${si_test_speakers}" ] || opts+=(--si_test_speakers "${si_test_speakers}")
if [ "${protocol}" = overlapped ]; then
  opts+=(--test_list "${test_list:-local/lists/overlapped_test.txt}")
fi
log "preparing TCD-TIMIT (${protocol}) from ${tcd_timit_root}"
python -m lipsound2.bin.prepare_corpus tcd_timit "${opts[@]}"
for part in train dev test; do
  utils/validate_data_dir.sh --no-feats --no-wav "${datadir}/${part}_${protocol}"
done
log "done"
