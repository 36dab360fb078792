# shellcheck shell=bash
# Sourced by scripts/bench.sh and scripts/bench-restore.sh: what both need
# to set up a run, as constants and functions only (sourcing it starts,
# builds and exports nothing).
#
#   BENCH_ROOT, BENCH_CACHE, BENCH_TREE   repository, cache outside it, bench tree
#   S5CMD_VERSION, S5CMD                  the s5cmd peer and where it is built
#   bench_build_s5cmd NAME                builds s5cmd once (NAME prefixes its note)
#   bench_start_minio STATE               a MinIO of its own in STATE, AWS_* exported
#   bench_stop_minio STATE                stops it again

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/archiver-testenv
# shellcheck disable=SC2034 # read by the scripts that source this
BENCH_TREE=$BENCH_CACHE/bench-tree-v1

# s5cmd's go.mod makes a plain `go install ...@version` refuse it; a wrapper
# module requiring it works (scripts/build-wrapped.sh).
S5CMD_VERSION=v2.3.0
S5CMD=$BENCH_CACHE/peers/s5cmd-$S5CMD_VERSION/s5cmd

# bench_build_s5cmd NAME: builds $S5CMD from the Go module proxy unless it
# is there already.
bench_build_s5cmd() {
  [ -x "$S5CMD" ] && return 0
  echo "$1: building s5cmd $S5CMD_VERSION from the module proxy (once)" >&2
  "$BENCH_ROOT/scripts/build-wrapped.sh" github.com/peak/s5cmd/v2 "$S5CMD_VERSION" "$S5CMD_VERSION" "$(dirname "$S5CMD")" "" github.com/peak/s5cmd/v2
}

# bench_start_minio STATE: starts a MinIO of its own (the test one: same
# binary, same KMS key setup) with its state in STATE, reads the
# ARCHIVER_TEST_* variables it writes to STATE/env and exports the AWS_*
# variables the AWS SDKs and CLIs read for it.
bench_start_minio() {
  ARCHIVER_TESTENV_ONLY=minio ARCHIVER_TESTENV_STATE=$1 "$BENCH_ROOT/scripts/testenv.sh" start 2>/dev/null
  # shellcheck disable=SC1091
  . "$1/env"
  export AWS_ACCESS_KEY_ID=$ARCHIVER_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$ARCHIVER_TEST_S3_SECRET_KEY
  export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
}

# bench_stop_minio STATE: stops what bench_start_minio STATE started.
bench_stop_minio() {
  ARCHIVER_TESTENV_STATE=$1 "$BENCH_ROOT/scripts/testenv.sh" stop
}
