#!/usr/bin/env bash
# Repairs a data dir so validate_data_dir.sh accepts it, keeping a backup of each changed file.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") DATA
In every table (per-utterance: text, *.scp, utt2*; per-speaker: spk2*; rejects): drops empty
lines, lines without a value and repeated keys (the first line of a key stays), sorts by key
under LC_ALL=C. Then keeps only the utterances present in every per-utterance table, rebuilds
spk2utt from utt2spk (utt2spk is made from spk2utt when missing) and keeps only the remaining
speakers in per-speaker tables. rejects is cleaned but does not decide which utterances stay.
Each changed file is first copied to DATA/.backup/NAME (NAME.1, NAME.2... when taken); what was
removed is printed, and the removed utterances are listed in DATA/.backup/removed_utterances."

case "${1:-}" in -h | --help) echo "${usage}" && exit 0 ;; -?*) echo "${usage}" >&2 && exit 1 ;; esac
[ $# -eq 1 ] || { echo "${usage}" >&2; exit 1; }
data=${1%/}
[ -d "${data}" ] || dd_die "data dir '${data}' not found"
[ -f "${data}/utt2spk" ] || [ -f "${data}/spk2utt" ] || dd_die "${data} has neither utt2spk nor spk2utt"

say() { echo "$(basename "$0"): ${data}: $*"; }

# A path in DATA/.backup for NAME that no earlier backup uses.
backup_path() {
  local dest=${data}/.backup/$1 i=1
  mkdir -p -- "${data}/.backup"
  while [ -e "${dest}" ]; do
    dest=${data}/.backup/$1.${i}
    i=$((i + 1))
  done
  printf '%s' "${dest}"
}

tmp=$(mktemp -d "${data}/.fix.XXXXXX")
trap 'rm -rf "${tmp}"' EXIT
mkdir "${tmp}/in"

if [ ! -f "${data}/utt2spk" ]; then
  dd_spk2utt_to_utt2spk "${data}/spk2utt" >"${data}/utt2spk"
  say "made utt2spk from spk2utt"
fi

mapfile -t utt_files < <(dd_utt_files "${data}")
mapfile -t spk_files < <(dd_spk_files "${data}")
tables=("${utt_files[@]}" "${spk_files[@]}")
[ ! -f "${data}/rejects" ] || tables+=(rejects)

for name in "${tables[@]}"; do
  read -r blank short dups <<<"$(dd_clean "${data}/${name}" "${tmp}/in/${name}" "$(dd_min_fields "${name}")")"
  what=()
  [ "${blank}" -eq 0 ] || what+=("${blank} empty line(s)")
  [ "${short}" -eq 0 ] || what+=("${short} line(s) without a value")
  [ "${dups}" -eq 0 ] || what+=("${dups} line(s) repeating a key")
  [ "${#what[@]}" -eq 0 ] || say "${name}: removed $(printf '%s, ' "${what[@]}" | sed 's/, $//')"
done

# Utterances in every per-utterance table; the others with the tables that lack them.
(cd "${tmp}/in" && awk '
  FNR == 1 { names[++nf] = FILENAME }
  NF > 0 { count[$1 ""]++; has[$1 "", nf] = 1 }
  END {
    for (key in count) {
      if (count[key] == nf) { print key > "../keep"; continue }
      lacking = ""
      for (i = 1; i <= nf; i++) if (!((key, i) in has)) lacking = lacking (lacking == "" ? "" : ", ") names[i]
      print key " (missing from " lacking ")" > "../removed"
    }
  }
' "${utt_files[@]}")
touch "${tmp}/keep" "${tmp}/removed"
sort -o "${tmp}/removed" "${tmp}/removed"

for name in "${utt_files[@]}"; do
  dd_filter "${tmp}/keep" "${tmp}/in/${name}" >"${tmp}/${name}"
done
dd_utt2spk_to_spk2utt "${tmp}/utt2spk" >"${tmp}/spk2utt"
for name in "${spk_files[@]}"; do
  dd_filter "${tmp}/spk2utt" "${tmp}/in/${name}" >"${tmp}/${name}"
done
[ ! -f "${tmp}/in/rejects" ] || mv "${tmp}/in/rejects" "${tmp}/rejects"

removed=$(wc -l <"${tmp}/removed")
if [ "${removed}" -gt 0 ]; then
  say "removed ${removed} utterance(s) not in every per-utterance table:"
  head -n 20 "${tmp}/removed" | sed 's/^/  /'
  [ "${removed}" -le 20 ] || echo "  ... and $((removed - 20)) more"
  list=$(backup_path removed_utterances)
  cp -- "${tmp}/removed" "${list}"
  echo "  (all listed in ${list})"
fi

changed=0
for name in "${tables[@]}" spk2utt; do
  [ -f "${tmp}/${name}" ] || continue
  if [ -f "${data}/${name}" ]; then
    cmp -s -- "${tmp}/${name}" "${data}/${name}" && continue
    dest=$(backup_path "${name}")
    cp -p -- "${data}/${name}" "${dest}"
    say "rewrote ${name} (was $(wc -l <"${data}/${name}") lines, now $(wc -l <"${tmp}/${name}"); old one in ${dest})"
  else
    say "made ${name}"
  fi
  mv -f -- "${tmp}/${name}" "${data}/${name}"
  changed=$((changed + 1))
done
[ "${changed}" -gt 0 ] || say "nothing to fix"
say "$(wc -l <"${data}/utt2spk") utterances, $(wc -l <"${data}/spk2utt") speakers"
