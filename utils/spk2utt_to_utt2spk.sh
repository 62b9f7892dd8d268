#!/usr/bin/env bash
# spk2utt -> utt2spk ("UTT SPK"), in byte order of utterance.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [SPK2UTT|- [UTT2SPK]]
Reads spk2utt from the file or stdin; writes utt2spk to the file (atomically) or stdout."
case "${1:-}" in -h | --help) echo "${usage}" && exit 0 ;; -?*) echo "${usage}" >&2 && exit 1 ;; esac
[ $# -le 2 ] || { echo "${usage}" >&2; exit 1; }
in=${1:--}
[ "${in}" = - ] || [ -f "${in}" ] || dd_die "'${in}' not found"
if [ $# -eq 2 ]; then
  dd_spk2utt_to_utt2spk "${in}" >"$2.tmp.$$"
  mv -f -- "$2.tmp.$$" "$2"
else
  dd_spk2utt_to_utt2spk "${in}"
fi
