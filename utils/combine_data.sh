#!/usr/bin/env bash
# Merges data dirs into one.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") DEST SRC1 SRC2 ...
Writes into DEST each per-utterance table present in every SRC (others are skipped with a
note), merged and sorted; per-speaker tables present in every SRC likewise (a speaker found in
several SRCs must have the same line in each); rejects from every SRC that has one; spk2utt
rebuilt. Fails when an utterance id occurs in more than one SRC."

case "${1:-}" in -h | --help) echo "${usage}" && exit 0 ;; -?*) echo "${usage}" >&2 && exit 1 ;; esac
[ $# -ge 2 ] || { echo "${usage}" >&2; exit 1; }
dest=${1%/}
shift
srcs=()
for src in "$@"; do
  src=${src%/}
  [ -f "${src}/utt2spk" ] || dd_die "${src}/utt2spk not found"
  srcs+=("${src}")
done

# Tables present in every source.
common() {  # common LISTER
  local src
  for src in "${srcs[@]}"; do "$1" "${src}"; done | sort | uniq -c |
    awk -v n="${#srcs[@]}" '$1 == n { print $2 }'
}
mapfile -t utt_files < <(common dd_utt_files)
mapfile -t spk_files < <(common dd_spk_files)
for name in $(for src in "${srcs[@]}"; do dd_utt_files "${src}"; dd_spk_files "${src}"; done | sort -u); do
  case " ${utt_files[*]} ${spk_files[*]} " in
    *" ${name} "*) ;;
    *) echo "$(basename "$0"): skipping ${name}: not in every source" >&2 ;;
  esac
done

mkdir -p -- "${dest}"
tmp=$(mktemp -d "${dest}/.combine.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT

# Utterance ids must be unique over the sources.
for ((i = 0; i < ${#srcs[@]}; i++)); do
  awk -v i="${i}" 'NF > 0 { print $1, i }' "${srcs[i]}/utt2spk"
done | sort -s -k1,1 | awk '
  found { next }
  ($1 "") == prev { print $1, prev_src, $2; found = 1 }
  { prev = $1 ""; prev_src = $2 }
' >"${tmp}/.dup"
if [ -s "${tmp}/.dup" ]; then
  read -r utt a b <"${tmp}/.dup"
  dd_die "utterance ${utt} is in both ${srcs[a]} and ${srcs[b]}"
fi
rm -f "${tmp}/.dup"

for name in "${utt_files[@]}"; do
  for src in "${srcs[@]}"; do cat -- "${src}/${name}"; done | awk 'NF > 0' | sort -s -k1,1 >"${tmp}/${name}"
done
for name in "${spk_files[@]}"; do
  for src in "${srcs[@]}"; do cat -- "${src}/${name}"; done | awk 'NF > 0' | sort -u >"${tmp}/${name}"
  conflict=$(awk '($1 "") == prev { print $1; exit } { prev = $1 "" }' "${tmp}/${name}")
  [ -z "${conflict}" ] || dd_die "speaker ${conflict} has different lines in the sources' ${name}"
done
for src in "${srcs[@]}"; do
  [ ! -f "${src}/rejects" ] || cat -- "${src}/rejects"
done | awk 'NF > 0' | sort -s -k1,1 >"${tmp}/rejects"
[ -s "${tmp}/rejects" ] || rm -f "${tmp}/rejects"
dd_utt2spk_to_spk2utt "${tmp}/utt2spk" >"${tmp}/spk2utt"
dd_install "${tmp}" "${dest}"
trap - EXIT
echo "$(basename "$0"): ${dest}: $(wc -l <"${dest}/utt2spk") utterances from ${#srcs[@]} data dirs"
