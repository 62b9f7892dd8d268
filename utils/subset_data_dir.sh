#!/usr/bin/env bash
# Copies part of a data dir: listed utterances or speakers, the first/last N, or N at random.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") (--utt-list FILE | --spk-list FILE | --first N | --last N | --random N [--seed S]) SRC DEST
Writes into DEST every table of SRC restricted to the chosen utterances (the first field of
each line of --utt-list; all utterances of the speakers in --spk-list; the first or last N
lines of utt2spk; N utterances drawn with seed S, default 0), spk2utt rebuilt. Tables DEST has
from before and SRC lacks are removed."

select="" arg="" seed=0
while [ $# -gt 0 ]; do
  case "$1" in
    --utt-list | --spk-list | --first | --last | --random)
      [ -z "${select}" ] || dd_die "give only one of --utt-list, --spk-list, --first, --last, --random"
      [ $# -ge 2 ] || dd_die "$1 needs a value"
      select=${1#--}
      arg=$2
      shift 2
      ;;
    --seed) [ $# -ge 2 ] || dd_die "--seed needs a value"; seed=$2 && shift 2 ;;
    -h | --help) echo "${usage}" && exit 0 ;;
    -?*) echo "${usage}" >&2 && dd_die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] && [ -n "${select}" ] || { echo "${usage}" >&2; exit 1; }
src=${1%/}
dest=${2%/}
[ -f "${src}/utt2spk" ] || dd_die "${src}/utt2spk not found"
mkdir -p -- "${dest}"
[ "$(cd "${src}" && pwd -P)" != "$(cd "${dest}" && pwd -P)" ] ||
  dd_die "SRC and DEST are the same directory"
[[ ${seed} =~ ^[0-9]+$ ]] || dd_die "--seed takes a non-negative integer"

tmp=$(mktemp -d "${dest}/.subset.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT
list=${tmp}/.chosen
total=$(wc -l <"${src}/utt2spk")
case "${select}" in
  utt-list | spk-list)
    [ -f "${arg}" ] || dd_die "list '${arg}' not found"
    field=1
    [ "${select}" = utt-list ] || field=2
    dd_filter "${arg}" "${src}/utt2spk" "${field}" >"${list}"
    [ -s "${list}" ] || dd_die "no utterance of ${src} matches ${arg}"
    ;;
  *)
    [[ ${arg} =~ ^[1-9][0-9]*$ ]] || dd_die "--${select} takes a positive count, not '${arg}'"
    [ "${arg}" -le "${total}" ] || dd_die "--${select} ${arg}: ${src} has only ${total} utterances"
    case "${select}" in
      first) head -n "${arg}" "${src}/utt2spk" >"${list}" ;;
      last) tail -n "${arg}" "${src}/utt2spk" >"${list}" ;;
      random)
        awk -v seed="${seed}" 'BEGIN { srand(seed) } { printf "%.12f %s\n", rand(), $1 }' "${src}/utt2spk" |
          sort -k1,1 -k2,2 | awk -v n="${arg}" 'NR <= n { print $2 }' | sort >"${list}"
        ;;
    esac
    ;;
esac
dd_subset_into "${src}" "${list}" "${tmp}"
rm -f "${list}"
dd_install "${tmp}" "${dest}"
trap - EXIT
echo "$(basename "$0"): ${dest}: $(wc -l <"${dest}/utt2spk") of ${total} utterances of ${src}"
