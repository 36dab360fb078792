#!/usr/bin/env bash
# make bench-restore: `archiver restore` against s5cmd (the fastest peer in
# make bench), interleaved, on one MinIO of its own, into an empty directory
# each time. Every round drops the page cache before each tool, and times
# a `sync -f` of the target right after s5cmd (its time until the data is
# on disk; archiver fsyncs before it reports success). BENCH_ROUNDS rounds
# (default 6); BENCH_MINIO_RAM=1 keeps MinIO's data in /dev/shm, so the
# source's reads do not share the target's disk (S3 is elsewhere in
# production). Prints every run and the medians. Needs root (drop_caches).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
BIN=${1:-bin/archiver}
ROUNDS=${BENCH_ROUNDS:-6}
[ -f "$BENCH_TREE/.complete" ] || { echo "bench-restore: run make bench once first (it generates $BENCH_TREE)" >&2; exit 1; }
bench_build_s5cmd bench-restore
WORK=$(mktemp -d /tmp/archiver-bench-restore.XXXXXX)
STATE=$WORK/minio
trap 'bench_stop_minio "$STATE"; rm -rf "$WORK"' EXIT
if [ "${BENCH_MINIO_RAM:-0}" = 1 ]; then export TMPDIR=/dev/shm; fi
bench_start_minio "$STATE"
unset TMPDIR
EP=$ARCHIVER_TEST_S3_ENDPOINT OUT=$WORK/out
s5() { env -u AWS_CA_BUNDLE "$S5CMD" --endpoint-url "$EP" "$@"; }
s5 mb s3://bench >/dev/null
"$BIN" sync --source "$BENCH_TREE" --dest s3://bench/xroad --kms-key-id "$ARCHIVER_TEST_KMS_KEY" --endpoint-url "$EP" --log-level warn >/dev/null

now() { date +%s.%N; }
fresh() { rm -rf "$OUT"; mkdir -p "$OUT"; sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1; }
echo "bench-restore: $ROUNDS rounds, MinIO data in $(if [ "${BENCH_MINIO_RAM:-0}" = 1 ]; then echo RAM; else echo the same disk; fi)" >&2
for r in $(seq "$ROUNDS"); do
  fresh; t0=$(now)
  "$BIN" restore --from s3://bench/xroad --to "$OUT" --endpoint-url "$EP" --log-level warn >/dev/null
  t1=$(now); echo "archiver $(echo "$t1 - $t0" | bc)" >>"$WORK/results"
  fresh; t0=$(now)
  s5 cp --exclude '.archiver/*' 's3://bench/xroad/*' "$OUT/" >/dev/null
  t1=$(now); sync -f "$OUT"; t2=$(now)
  echo "s5cmd $(echo "$t1 - $t0" | bc)" >>"$WORK/results"
  echo "s5cmd+sync $(echo "$t2 - $t0" | bc)" >>"$WORK/results"
  echo "round $r: $(tail -3 "$WORK/results" | tr '\n' ' ')" >&2
done
median() { awk -v n="$1" '$1==n {print $2}' "$WORK/results" | sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
a=$(median archiver) s=$(median s5cmd) d=$(median s5cmd+sync)
printf '| restore (median of %d) | time |\n|---|---|\n| archiver | %.2f s |\n| s5cmd %s | %.2f s |\n| s5cmd + sync -f | %.2f s |\n' "$ROUNDS" "$a" "$S5CMD_VERSION" "$s" "$d"
awk -v a="$a" -v s="$s" -v d="$d" 'BEGIN { printf "archiver vs s5cmd: %.2fx of its own time, %.2fx until on disk (above 1: archiver faster)\n", s / a, d / a }'
