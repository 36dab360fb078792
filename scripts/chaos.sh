#!/usr/bin/env bash
# make chaos: the hardening campaign, bounded in time, loopback only.
#  1. crash: archiver sync SIGKILLed at random moments (CHAOS_CYCLES, default 50), each followed
#     by a normal run, with the no-file-lost invariant checked after every step;
#  2. network: sync through a fault proxy (resets, stalls, latency, SlowDown/503, InternalError)
#     with MinIO restarted mid-run (CHAOS_NET_RUNS, default 20);
#  3. disk full, canary secrets, TLS verification (the regular tests that cover them);
#  4. every fuzz target for CHAOS_FUZZTIME (default 30s) each.
# Figures go to stdout and to $CHAOS_OUT (default .testenv/chaos-results.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .testenv/env
export CHAOS_OUT=${CHAOS_OUT:-$PWD/.testenv/chaos-results.txt}
: >"$CHAOS_OUT"
start=$(date +%s)
go test -tags chaos -count=1 -v -timeout 60m -run 'CrashCampaign|NetworkCampaign' ./internal/chaos/ | grep -E '^(=== RUN|--- |\s+campaign_test.go|ok|FAIL|PASS)'
echo "== disk full, secrets, TLS"
go test -count=1 -v -run 'TestDiskFullIsAnErrorAndCleansUp|TestSecretsNeverAppearInOutput|TestTLSIsVerified|TestSymlinkOutOfTheTargetIsRefused|TestHostileKeysAreRefused|TestSymlinksAreNotFollowed' \
  ./internal/restore/ ./internal/store/ ./internal/s3sync/ ./cmd/archiver/ | grep -E '^(--- |ok|FAIL)' | tee -a "$CHAOS_OUT"
echo "== fuzzing"
scripts/fuzz.sh "${CHAOS_FUZZTIME:-30s}" 2>&1 | grep -E '^(fuzz: [a-z]|ok|FAIL|--- )' | grep -v 'elapsed' | tee -a "$CHAOS_OUT"
echo "campaign took $(( $(date +%s) - start ))s" | tee -a "$CHAOS_OUT"
