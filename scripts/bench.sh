#!/usr/bin/env bash
# make bench: archiver sync vs `aws s3 sync` (aws-cli v2) and `rclone copy`
# on the same MinIO, same generated ~1 GB X-Road tree, all with SSE-KMS, in
# one run. Prints first-sync time, no-op resync time and peak RSS for each,
# the ratios, and a 5 GiB single-file run. Needs the variables make testenv
# writes to .testenv/env (make bench sources them). Each tool gets a fresh
# MinIO (same binary, same KMS setup) so no tool inherits another's data.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
BIN=$(realpath "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/archiver-bench.XXXXXX")

need() { # command, debian package
  [ -x "/usr/bin/$1" ] && return
  echo "bench: installing $2 from Debian" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
  else sudo apt-get install -y "$2" >/dev/null; fi
}
need aws awscli; need rclone rclone; [ -x /usr/bin/time ] || need time time
AWS=/usr/bin/aws RCLONE=/usr/bin/rclone

# The peers a user would pick today, built once from the Go module proxy and
# cached outside the repository (BENCH_PEERS=0 leaves them out): rclone's
# current release beside Debian's, and s5cmd (bench-lib.sh).
RCLONE_NEW_VERSION=v1.76.0
PEERS=()
if [ "${BENCH_PEERS:-1}" != 0 ]; then
  RCLONE_NEW=$BENCH_CACHE/peers/rclone-$RCLONE_NEW_VERSION/rclone
  if [ ! -x "$RCLONE_NEW" ]; then
    echo "bench: building rclone $RCLONE_NEW_VERSION from the module proxy (once, ~5 min)" >&2
    (cd /tmp && GOFLAGS=-mod=mod GOBIN=$(dirname "$RCLONE_NEW") CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/rclone/rclone@$RCLONE_NEW_VERSION")
  fi
  bench_build_s5cmd bench
  PEERS=(rclone-new s5cmd)
fi

if [ ! -f "$BENCH_TREE/.complete" ]; then
  echo "bench: generating the benchmark tree in $BENCH_TREE (once)" >&2
  rm -rf "$BENCH_TREE"
  go run ./tools/xroadgen -preset bench -dir "$BENCH_TREE" >&2
  touch "$BENCH_TREE/.complete"
fi

# fresh_minio: start a MinIO of its own for the next tool and point at it.
fresh_minio() {
  [ -n "${MINIO_STATE:-}" ] && bench_stop_minio "$MINIO_STATE"
  MINIO_STATE=$WORK/minio-$1
  bench_start_minio "$MINIO_STATE"
  KEY=$ARCHIVER_TEST_KMS_KEY EP=$ARCHIVER_TEST_S3_ENDPOINT
}
trap '[ -n "${MINIO_STATE:-}" ] && bench_stop_minio "$MINIO_STATE"; rm -rf "$WORK"' EXIT
mb() { $AWS --endpoint-url "$EP" s3 mb "s3://$1" >/dev/null; }
rb() { $AWS --endpoint-url "$EP" s3 rb --force "s3://$1" >/dev/null 2>&1 || true; }

# measure NAME CMD...: runs once, prints "seconds peak_kib" and appends to results.
measure() {
  local name=$1; shift
  local out=$WORK/time.$$
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; sleep 1
  if ! /usr/bin/time -f "%e %M" -o "$out" "$@" >"$WORK/$name.log" 2>&1; then
    echo "bench: $name failed; log follows" >&2; tail -20 "$WORK/$name.log" >&2; exit 1
  fi
  read -r secs kib <"$out"
  printf '%s %s %s\n' "$name" "$secs" "$kib" >>"$WORK/results"
  printf '  %-28s %7.2f s  %6d MiB peak RSS\n' "$name" "$secs" "$((kib / 1024))" >&2
}

# measure_durable NAME DIR CMD...: measure, then flush DIR's file system
# (`sync -f`). A peer that does not fsync is done from the disk's point of
# view only then; NAME-durable records the time including that flush, so
# archiver (which fsyncs every file before naming it) is compared both
# with the peers' own time and with their time until the data is durable.
measure_durable() {
  local name=$1 dir=$2; shift 2
  local t0 t1
  measure "$name" "$@"
  t0=$(date +%s.%N)
  sync -f "$dir"
  t1=$(date +%s.%N)
  awk -v n="$name" -v a="$t0" -v b="$t1" '$1==n {s=$2; k=$3} END {printf "%s-durable %.2f %s\n", n, s + b - a, k}' \
    "$WORK/results" >>"$WORK/results"
}

FILTER_AWS=(--exclude '*' --include 'mlog-*.zip' --include 'mlog-*.zip.gpg' --include 'backup/*.gpg' --include 'backup/*.tar')
# s5cmd matches --include against the whole local path.
FILTER_S5CMD=(--include '*/mlog-*.zip' --include '*/mlog-*.zip.gpg' --include '*/backup/*.gpg' --include '*/backup/*.tar')
FILTER_RCLONE=(--include 'mlog-*.zip' --include 'mlog-*.zip.gpg' --include 'backup/*.gpg' --include 'backup/*.tar')
size=$(du -sb "$BENCH_TREE" | cut -f1)
echo "bench: tree $((size / 1000000)) MB, $(find "$BENCH_TREE" -type f | wc -l) files; a fresh loopback MinIO with SSE-KMS per tool; $(nproc) cores" >&2

run_archiver() {
  fresh_minio archiver
  local b=bench-archiver-$RANDOM; mb "$b"
  measure archiver-first "$BIN" sync --source "$BENCH_TREE" --dest "s3://$b/xroad" --kms-key-id "$KEY" --endpoint-url "$EP" --log-level warn
  measure archiver-noop "$BIN" sync --source "$BENCH_TREE" --dest "s3://$b/xroad" --kms-key-id "$KEY" --endpoint-url "$EP" --log-level warn
  run_restore "$b"
  rb "$b"
}

# run_restore BUCKET: restore the synced tree from the same MinIO with each
# tool into an empty directory, then time archiver verify (full re-read).
# rclone needs --ignore-checksum: with SSE-KMS the ETag is not an MD5 and it
# reports every object as "corrupted on transfer" otherwise.
run_restore() {
  local b=$1 r=$WORK/restore
  rm -rf "$r"; measure restore-archiver "$BIN" restore --from "s3://$b/xroad" --to "$r" --endpoint-url "$EP" --log-level warn
  rm -rf "$r"; measure_durable restore-aws "$WORK" $AWS --endpoint-url "$EP" s3 cp --recursive --only-show-errors --exclude '.archiver/*' "s3://$b/xroad" "$r"
  rm -rf "$r"; measure_durable restore-rclone "$WORK" env -u AWS_CA_BUNDLE $RCLONE copy ":s3:$b/xroad" "$r" --s3-provider Minio --s3-endpoint "$EP" \
    --s3-env-auth --s3-region us-east-1 --transfers 8 --ignore-checksum --exclude '.archiver/**'
  if [ ${#PEERS[@]} -gt 0 ]; then
    rm -rf "$r"; measure_durable restore-rclone-new "$WORK" env -u AWS_CA_BUNDLE "$RCLONE_NEW" copy ":s3:$b/xroad" "$r" --s3-provider Minio --s3-endpoint "$EP" \
      --s3-env-auth --s3-region us-east-1 --transfers 8 --ignore-checksum --exclude '.archiver/**'
    rm -rf "$r"; mkdir -p "$r"; measure_durable restore-s5cmd "$WORK" env -u AWS_CA_BUNDLE "$S5CMD" --endpoint-url "$EP" cp --exclude '.archiver/*' "s3://$b/xroad/*" "$r/"
  fi
  rm -rf "$r"
  measure verify-archiver "$BIN" verify --dest "s3://$b/xroad" --endpoint-url "$EP" --log-level warn -o json
  grep -o '"reread_mb_per_second": *[0-9.]*' "$WORK/verify-archiver.log" | sed 's/.*: *//' >>"$WORK/verify-mbps"
}
run_aws() {
  fresh_minio aws
  local b=bench-aws-$RANDOM; mb "$b"
  measure aws-first $AWS --endpoint-url "$EP" s3 sync "$BENCH_TREE" "s3://$b/xroad" --sse aws:kms --sse-kms-key-id "$KEY" --only-show-errors "${FILTER_AWS[@]}"
  measure aws-noop $AWS --endpoint-url "$EP" s3 sync "$BENCH_TREE" "s3://$b/xroad" --sse aws:kms --sse-kms-key-id "$KEY" --only-show-errors "${FILTER_AWS[@]}"
  rb "$b"
}
run_rclone() {
  fresh_minio rclone
  local b=bench-rclone-$RANDOM; mb "$b"
  # rclone 1.60 cannot load AWS_CA_BUNDLE with its custom transport (TESTENV.md).
  local rc=(env -u AWS_CA_BUNDLE $RCLONE copy "$BENCH_TREE" ":s3:$b/xroad" --s3-provider Minio --s3-endpoint "$EP" --s3-env-auth
    --s3-region us-east-1 --s3-server-side-encryption aws:kms --s3-sse-kms-key-id "$KEY" --transfers 8 "${FILTER_RCLONE[@]}")
  measure rclone-first "${rc[@]}"
  measure rclone-noop "${rc[@]}"
  rb "$b"
}
run_rclone_new() {
  fresh_minio rclone-new
  local b=bench-rclone-new-$RANDOM; mb "$b"
  local rc=(env -u AWS_CA_BUNDLE "$RCLONE_NEW" copy "$BENCH_TREE" ":s3:$b/xroad" --s3-provider Minio --s3-endpoint "$EP" --s3-env-auth
    --s3-region us-east-1 --s3-server-side-encryption aws:kms --s3-sse-kms-key-id "$KEY" --transfers 8 "${FILTER_RCLONE[@]}")
  measure rclone-new-first "${rc[@]}"
  measure rclone-new-noop "${rc[@]}"
  rb "$b"
}
run_s5cmd() {
  fresh_minio s5cmd
  local b=bench-s5cmd-$RANDOM; mb "$b"
  local sc=(env -u AWS_CA_BUNDLE "$S5CMD" --endpoint-url "$EP" sync --sse aws:kms --sse-kms-key-id "$KEY" "${FILTER_S5CMD[@]}" "$BENCH_TREE/" "s3://$b/xroad/")
  measure s5cmd-first "${sc[@]}"
  measure s5cmd-noop "${sc[@]}"
  rb "$b"
}
run_big() {
  fresh_minio big
  local b=bench-big-$RANDOM d=$WORK/big; mb "$b"; mkdir -p "$d"
  local f=$d/mlog-20261120000000-20261120235959-0123456789abcdef.zip
  head -c $((5 << 30)) /dev/urandom >"$f" 2>/dev/null || true
  touch -d '1 hour ago' "$f"
  measure archiver-5GiB-file "$BIN" sync --source "$d" --dest "s3://$b/xroad" --kms-key-id "$KEY" --endpoint-url "$EP" --log-level warn
  rm -f "$f"; rb "$b"
}

REPS=${BENCH_REPS:-3}
echo "bench: first sync and no-op resync, $REPS rounds; tools interleaved within each round; medians reported" >&2
for r in $(seq 1 "$REPS"); do
  echo "round $r" >&2
  run_archiver; run_aws; run_rclone
  for p in "${PEERS[@]}"; do "run_${p//-/_}"; done
done
[ "${BENCH_SKIP_BIG:-0}" = 1 ] || run_big

# get NAME COLUMN: the median over the rounds.
get() { awk -v n="$1" -v c="$2" '$1==n {print $c}' "$WORK/results" | sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
echo
echo "Medians of $REPS rounds; tree $((size / 1000000)) MB in $(find "$BENCH_TREE" -type f | wc -l) files; $(nproc) cores; each run on a fresh MinIO with SSE-KMS."
echo
echo "| tool | first sync | no-op resync | peak RSS (first) |"
echo "|---|---|---|---|"
for t in archiver aws rclone "${PEERS[@]}"; do
  printf '| %s | %.2f s | %.2f s | %d MiB |\n' "$t" "$(get $t-first 2)" "$(get $t-noop 2)" "$(( $(get $t-first 3) / 1024 ))"
done
echo
echo
echo "| restore (same MinIO, empty directory) | time | time until on disk | peak RSS |"
echo "|---|---|---|---|"
printf '| archiver (SHA-256 checked, fsync before each name) | %.2f s | %.2f s | %d MiB |\n' "$(get restore-archiver 2)" "$(get restore-archiver 2)" "$(( $(get restore-archiver 3) / 1024 ))"
for t in aws rclone "${PEERS[@]}"; do
  printf '| %s | %.2f s | %.2f s | %d MiB |\n' "$t" "$(get restore-$t 2)" "$(get restore-$t-durable 2)" "$(( $(get restore-$t 3) / 1024 ))"
done
echo
echo "archiver restore vs aws s3 cp --recursive: $(ratio "$(get restore-aws 2)" "$(get restore-archiver 2)") faster ($(ratio "$(get restore-aws-durable 2)" "$(get restore-archiver 2)") until on disk); vs rclone copy: $(ratio "$(get restore-rclone 2)" "$(get restore-archiver 2)") faster ($(ratio "$(get restore-rclone-durable 2)" "$(get restore-archiver 2)") until on disk)"
echo "archiver verify (full re-read, SHA-256 and X-Road chain of every archive): $(get verify-archiver 2) s, $(sort -g "$WORK/verify-mbps" | awk '{v[NR]=$1} END {printf "%.0f", v[int((NR+1)/2)]}') MB/s re-hashed, peak RSS $(( $(get verify-archiver 3) / 1024 )) MiB"
echo "archiver vs aws s3 sync: first sync $(ratio "$(get aws-first 2)" "$(get archiver-first 2)") faster, no-op $(ratio "$(get aws-noop 2)" "$(get archiver-noop 2)") faster"
echo "archiver vs rclone copy: first sync $(ratio "$(get rclone-first 2)" "$(get archiver-first 2)") faster, no-op $(ratio "$(get rclone-noop 2)" "$(get archiver-noop 2)") faster"
for t in "${PEERS[@]}"; do
  echo "archiver vs $t: first sync $(ratio "$(get $t-first 2)" "$(get archiver-first 2)") faster, no-op $(ratio "$(get $t-noop 2)" "$(get archiver-noop 2)") faster, restore $(ratio "$(get restore-$t 2)" "$(get restore-archiver 2)") faster ($(ratio "$(get restore-$t-durable 2)" "$(get restore-archiver 2)") until on disk)"
done
if [ -n "$(get archiver-5GiB-file 2)" ]; then
  echo "archiver, one 5 GiB file: $(get archiver-5GiB-file 2) s, peak RSS $(( $(get archiver-5GiB-file 3) / 1024 )) MiB"
fi
