#!/usr/bin/env bash
# utt2spk -> spk2utt ("SPK UTT1 UTT2 ..."), speakers in byte order, utterances in input order.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [UTT2SPK|- [SPK2UTT]]
Reads utt2spk from the file or stdin; writes spk2utt to the file (atomically) or stdout."
case "${1:-}" in -h | --help) echo "${usage}" && exit 0 ;; -?*) echo "${usage}" >&2 && exit 1 ;; esac
[ $# -le 2 ] || { echo "${usage}" >&2; exit 1; }
in=${1:--}
[ "${in}" = - ] || [ -f "${in}" ] || dd_die "'${in}' not found"
if [ $# -eq 2 ]; then
  dd_utt2spk_to_spk2utt "${in}" >"$2.tmp.$$"
  mv -f -- "$2.tmp.$$" "$2"
else
  dd_utt2spk_to_spk2utt "${in}"
fi
