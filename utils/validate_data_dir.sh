#!/usr/bin/env bash
# Checks a data dir: every table sorted and unique by key under LC_ALL=C, no empty lines, the
# same utterances in every per-utterance table, spk2utt matching utt2spk.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [--no-feats] [--no-text] [--no-wav] [--no-video] DATA
Required: utt2spk, spk2utt, and unless switched off: feats.scp, text, wav.scp, video.scp.
Every table present is checked (a switched-off one too, when present): no empty lines, no line
starting with a blank, a value after every key (text may be empty), keys strictly increasing
in byte order; every per-utterance table (text, *.scp, utt2*) has exactly the utterances of
utt2spk; utt2num_* values are positive integers; spk2utt is what utt2spk gives; per-speaker
tables (spk2*) have exactly its speakers. Each problem is reported with the file and its first
offending line. Exits 1 if there is any."

declare -A required=([feats.scp]=1 [text]=1 [wav.scp]=1 [video.scp]=1)
while [ $# -gt 0 ]; do
  case "$1" in
    --no-feats) required[feats.scp]=0 && shift ;;
    --no-text) required[text]=0 && shift ;;
    --no-wav) required[wav.scp]=0 && shift ;;
    --no-video) required[video.scp]=0 && shift ;;
    -h | --help) echo "${usage}" && exit 0 ;;
    -?*) echo "${usage}" >&2 && dd_die "unknown option '$1'" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "${usage}" >&2; exit 1; }
data=${1%/}
[ -d "${data}" ] || dd_die "data dir '${data}' not found"

problems=0
problem() {
  echo "$(basename "$0"): $*" >&2
  problems=$((problems + 1))
}

# Prints the first format problem of a table ("line N: ..."), if any.
format_problem() {
  awk -v min="$2" -v numeric="$3" '
    function show(s) { if (length(s) > 120) s = substr(s, 1, 117) "..."; return "\047" s "\047" }
    function fail(msg) { printf "line %d: %s\n", NR, msg; exit }
    /^[ \t\r]*$/ { fail("empty line") }
    /^[ \t]/ { fail(show($0) " starts with a blank") }
    NF < min { fail(show($0) " has no value after the key") }
    numeric && !(NF == 2 && $2 ~ /^[0-9]+$/ && $2 + 0 > 0) { fail(show($0) " is not \"KEY COUNT\" with a positive count") }
    NR > 1 && ($1 "") < prev { fail(show($0) " is out of order: its key sorts before that of line " NR - 1 " " show(prevline)) }
    NR > 1 && ($1 "") == prev { fail(show($0) " repeats the key of line " NR - 1) }
    { prev = $1 ""; prevline = $0 }
  ' "$1"
}

# key_problems REF KIND TABLE: prints TABLE's first line whose key REF lacks and the first
# key of REF that TABLE lacks (KIND: utterance or speaker).
key_problems() {
  awk -v refname="${1##*/}" -v kind="$2" '
    function show(s) { if (length(s) > 120) s = substr(s, 1, 117) "..."; return "\047" s "\047" }
    BEGIN {
      while ((getline line < ARGV[1]) > 0) {
        n++
        if (split(line, f) == 0) continue
        key = f[1] ""
        if (!(key in refline)) { refline[key] = n; reftext[key] = line; order[++m] = key }
      }
      ARGV[1] = ""
    }
    NF == 0 { next }
    { seen[$1 ""] = 1 }
    !(($1 "") in refline) && !extra { printf "line %d: %s: %s %s is not in %s\n", FNR, show($0), kind, $1, refname; extra = 1 }
    END {
      for (i = 1; i <= m; i++) if (!(order[i] in seen)) {
        printf "lacks %s %s (%s line %d: %s)\n", kind, order[i], refname, refline[order[i]], show(reftext[order[i]])
        break
      }
    }
  ' "$1" "$3"
}

report() {  # report FILE MESSAGES...
  local file=$1 msg
  shift
  while IFS= read -r msg; do
    [ -z "${msg}" ] || problem "${file} ${msg}"
  done <<<"$*"
}

for name in utt2spk spk2utt; do
  [ -f "${data}/${name}" ] || problem "${data}/${name} is missing"
done
for name in "${!required[@]}"; do
  [ "${required[${name}]}" = 0 ] || [ -f "${data}/${name}" ] ||
    problem "${data}/${name} is missing (use --no-${name%.scp} if the data dir has none)"
done
[ -f "${data}/utt2spk" ] || exit 1

mapfile -t utt_files < <(dd_utt_files "${data}")
mapfile -t spk_files < <(dd_spk_files "${data}")
for name in "${utt_files[@]}" spk2utt "${spk_files[@]}" rejects; do
  [ -f "${data}/${name}" ] || continue
  numeric=0
  [[ ${name} != utt2num_* ]] || numeric=1
  msg=$(format_problem "${data}/${name}" "$(dd_min_fields "${name}")" "${numeric}")
  report "${data}/${name}" "${msg}"
done

for name in "${utt_files[@]}"; do
  [ "${name}" != utt2spk ] || continue
  report "${data}/${name}" "$(key_problems "${data}/utt2spk" utterance "${data}/${name}")"
done

if [ -f "${data}/spk2utt" ]; then
  expected=$(dd_utt2spk_to_spk2utt "${data}/utt2spk" 2>/dev/null) || expected=""
  msg=$(awk '
    function show(s) { if (length(s) > 120) s = substr(s, 1, 117) "..."; return "\047" s "\047" }
    BEGIN { while ((getline line < ARGV[1]) > 0) { $0 = line; $1 = $1; want[++n] = $0 }; ARGV[1] = "" }
    { got = $0; $1 = $1 }
    $0 != want[FNR] { printf "line %d: %s differs from what utt2spk gives: %s\n", FNR, show(got), show(want[FNR]); bad = 1; exit }
    END { if (!bad && FNR < n) printf "ends at line %d but utt2spk gives %d speakers (next: %s)\n", FNR, n, show(want[FNR + 1]) }
  ' <(printf '%s\n' "${expected}") "${data}/spk2utt")
  report "${data}/spk2utt" "${msg}"
  for name in "${spk_files[@]}"; do
    report "${data}/${name}" "$(key_problems "${data}/spk2utt" speaker "${data}/${name}")"
  done
fi

if [ "${problems}" -gt 0 ]; then
  echo "$(basename "$0"): ${data}: ${problems} problem(s)" >&2
  exit 1
fi
echo "$(basename "$0"): ${data} is valid: $(wc -l <"${data}/utt2spk") utterances, $(wc -l <"${data}/spk2utt") speakers"
