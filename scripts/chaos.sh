#!/usr/bin/env bash
# make chaos: the hardening campaign, loopback only. Its size is one parameter:
#   CHAOS_KILLS (default 500): random SIGKILLs in total, split between
#  1. crash: archiver sync (pruning on every other cycle) SIGKILLed at random moments, new archives
#     and backups arriving between runs, the host clock jumped back every tenth cycle (archives with
#     mtimes in the future); after every kill the first clean run must exit 0 with every file in
#     the manifest (CHAOS_KILLS/2 cycles, CHAOS_LARGE_MIB large archive per cycle, default 40);
#  2. jobs: verify and restore SIGKILLed at random moments, and restores into a full disk; verify
#     must change nothing, a restore target never holds a partial file, the first clean verify /
#     restore must exit 0 (CHAOS_KILLS/2 + CHAOS_KILLS/10 cycles);
#  3. snapshot and restore drills (needs the test kube-apiserver; skipped visibly without it):
#     archiver snapshot (EBS through the AWS fake, content manifest in MinIO) and restore-test
#     SIGKILLed; the first clean run must exit 0 and the next drill must sweep every scratch
#     object a killed one left (CHAOS_KILLS/20 cycles of each);
#  4. network: sync through a fault proxy (resets, stalls, latency, SlowDown/503, InternalError,
#     conditional PUTs refused by a reset mid-body) with MinIO restarted mid-run (CHAOS_NET_RUNS,
#     default 20);
#  5. disk full, canary secrets, TLS verification (the regular tests that cover them);
#  6. every fuzz target for CHAOS_FUZZTIME (default 30s) each.
# CHAOS_CYCLES and CHAOS_JOB_CYCLES override the split. Figures go to stdout and to $CHAOS_OUT
# (default .testenv/chaos-results.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .testenv/env
export CHAOS_OUT=${CHAOS_OUT:-$PWD/.testenv/chaos-results.txt}
kills=${CHAOS_KILLS:-500}
export CHAOS_CYCLES=${CHAOS_CYCLES:-$(( kills / 2 ))}
export CHAOS_JOB_CYCLES=${CHAOS_JOB_CYCLES:-$(( kills / 2 + kills / 10 ))}
: >"$CHAOS_OUT"
start=$(date +%s)
export CHAOS_DRILL_CYCLES=${CHAOS_DRILL_CYCLES:-$(( kills / 20 ))}
echo "== campaign: CHAOS_KILLS=$kills CHAOS_CYCLES=$CHAOS_CYCLES CHAOS_JOB_CYCLES=$CHAOS_JOB_CYCLES CHAOS_DRILL_CYCLES=$CHAOS_DRILL_CYCLES CHAOS_NET_RUNS=${CHAOS_NET_RUNS:-20}" | tee -a "$CHAOS_OUT"
# The campaigns run two at a time (-parallel 2), each against its own MinIO.
go test -tags chaos -count=1 -v -timeout 6h -parallel 2 -run 'Campaign|TestAdoption' ./internal/chaos/ |
  grep -E '^(=== RUN|--- |\s+[a-z_]+_test.go|ok|FAIL|PASS)'
echo "== disk full, secrets, TLS"
go test -count=1 -v -run 'TestDiskFullIsAnErrorAndCleansUp|TestSecretsNeverAppearInOutput|TestTLSIsVerified|TestSymlinkOutOfTheTargetIsRefused|TestHostileKeysAreRefused|TestSymlinksAreNotFollowed' \
  ./internal/restore/ ./internal/store/ ./internal/s3sync/ ./cmd/archiver/ | grep -E '^(--- |ok|FAIL)' | tee -a "$CHAOS_OUT"
echo "== fuzzing"
scripts/fuzz.sh "${CHAOS_FUZZTIME:-30s}" 2>&1 | grep -E '^(fuzz: [a-z]|ok|FAIL|--- )' | grep -v 'elapsed' | tee -a "$CHAOS_OUT"
echo "campaign took $(( $(date +%s) - start ))s" | tee -a "$CHAOS_OUT"
