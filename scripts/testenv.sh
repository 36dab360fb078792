#!/usr/bin/env bash
# Test servers for archiver: builds them once (cached outside the repo) and
# runs them on loopback ports it picks. Usage:
#   scripts/testenv.sh start   # build if needed, start, write .testenv/env
#   scripts/testenv.sh stop    # stop what start started
#   scripts/testenv.sh status
#   scripts/testenv.sh start   # ... and a real single-node Kubernetes (scripts/testnode.sh)
# Tests read the variables in .testenv/env (make test sources it).
# ARCHIVER_TESTENV_NODE=0 leaves the node out.
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
KUBE_VERSION=v1.34.2
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/archiver-testenv
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ARCHIVER_TESTENV_STATE:-$ROOT/.testenv}
ENVFILE=$STATE/env
KMS_KEY=archiver-test-key

log() { printf 'testenv: %s\n' "$*" >&2; }

# free_port picks a loopback port nothing listens on and no other pick of
# this start took ($STATE/ports.taken: MinIO, the API server and the node
# start side by side, and none listens yet when the others pick), below
# the kernel's ephemeral range: a port in that range can be taken by any
# outgoing connection while its server is down (the fault tests restart
# kubelet).
free_port() {
  local p lo
  lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$lo" -gt 15000 ] 2>/dev/null || lo=32768
  for _ in $(seq 1 200); do
    p=$(( 10000 + RANDOM % (lo - 10000) ))
    grep -qx "$p" "$STATE/ports.taken" 2>/dev/null && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p" >>"$STATE/ports.taken"; echo "$p"; return; fi
  done
  log "no free port found"; return 1
}

wait_http() { # url, seconds (polled every 0.2 s)
  local i
  for i in $(seq 1 $(( $2 * 5 ))); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

build_minio() {
  local dir=$CACHE/minio-$MINIO_VERSION
  if [ ! -x "$dir/minio" ]; then
    log "building MinIO $MINIO_VERSION into $dir (once; about 4 minutes)"
    mkdir -p "$dir.tmp"
    (cd /tmp && GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$MINIO_VERSION")
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir/minio"
}

running() { [ -f "$STATE/minio.pid" ] && kill -0 "$(cat "$STATE/minio.pid")" 2>/dev/null; }

build_kube() {
  # One wrapper-module build gives kube-apiserver and the node's binaries.
  "$ROOT/scripts/testnode.sh" build >&2
  echo "$CACHE/kube-$KUBE_VERSION/kube-apiserver"
}

need_etcd() {
  command -v etcd >/dev/null && return
  log "installing etcd-server from Debian"
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >/dev/null 2>&1 || {
      apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >/dev/null; }
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >/dev/null
  fi
  # The Debian package starts a system etcd on the default ports; ours uses its own.
}

kube_running() { [ -f "$STATE/kube-apiserver.pid" ] && kill -0 "$(cat "$STATE/kube-apiserver.pid")" 2>/dev/null; }

# start_kube starts etcd and kube-apiserver (built beforehand) and writes
# its variable to $STATE/kube.env; start appends that to the env file once
# everything started beside it has finished.
start_kube() {
  echo "export ARCHIVER_TEST_KUBECONFIG=$STATE/kubeconfig" >"$STATE/kube.env"
  if kube_running && [ -f "$STATE/kubeconfig" ]; then
    log "kube-apiserver already running"; return
  fi
  local apiserver=$CACHE/kube-$KUBE_VERSION/kube-apiserver dir eport pport kport token
  dir=$(mktemp -d "${TMPDIR:-/tmp}/archiver-kube.XXXXXX")
  echo "$dir" >"$STATE/kube.dir"
  eport=$(free_port); pport=$(free_port); kport=$(free_port)
  nohup etcd --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "default=http://127.0.0.1:$pport" >"$STATE/etcd.log" 2>&1 &
  echo $! >"$STATE/etcd.pid"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/sa.key" 2>/dev/null # P-256: instant where an RSA key takes ~0.5 s
  openssl ec -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  echo "$token,archiver-test-admin,1,system:masters" >"$dir/tokens.csv"
  nohup "$apiserver" --etcd-servers="http://127.0.0.1:$eport" --bind-address=127.0.0.1 --secure-port="$kport" \
    --cert-dir="$dir/certs" --service-account-key-file="$dir/sa.pub" --service-account-signing-key-file="$dir/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --token-auth-file="$dir/tokens.csv" \
    --authorization-mode=RBAC --service-cluster-ip-range=10.0.0.0/24 --advertise-address=127.0.0.1 \
    --enable-priority-and-fairness=false >"$STATE/kube-apiserver.log" 2>&1 &
  echo $! >"$STATE/kube-apiserver.pid"
  local i
  for i in $(seq 1 450); do
    if curl -ksf -H "Authorization: Bearer $token" "https://127.0.0.1:$kport/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  if ! curl -ksf -H "Authorization: Bearer $token" "https://127.0.0.1:$kport/readyz" >/dev/null 2>&1; then
    log "kube-apiserver did not become ready; log follows"; tail -30 "$STATE/kube-apiserver.log" >&2; exit 1
  fi
  cat >"$STATE/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:$kport", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "$token"}
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
KC
  log "kube-apiserver $KUBE_VERSION ready at https://127.0.0.1:$kport; kubeconfig $STATE/kubeconfig"
}

# end PID...: SIGTERM, then SIGKILL whatever still runs after 3 s (their
# data is thrown away: nothing to flush); prints
# the pids that would not go.
end() {
  local p i
  kill "$@" 2>/dev/null || true
  for i in $(seq 1 15); do
    for p in "$@"; do kill -0 "$p" 2>/dev/null && break; p=; done
    [ -z "$p" ] && return 0
    sleep 0.2
  done
  kill -9 "$@" 2>/dev/null || true
  for i in $(seq 1 20); do
    for p in "$@"; do kill -0 "$p" 2>/dev/null && break; p=; done
    [ -z "$p" ] && return 0
    sleep 0.1
  done
  for p in "$@"; do kill -0 "$p" 2>/dev/null && echo "$p"; done
  return 0
}

stop_kube() {
  local p pids=() left
  for p in kube-apiserver etcd; do
    if [ -f "$STATE/$p.pid" ]; then pids+=("$(cat "$STATE/$p.pid")"); rm -f "$STATE/$p.pid"; fi
  done
  if [ ${#pids[@]} -gt 0 ]; then
    left=$(end "${pids[@]}")
    if [ -n "$left" ]; then log "kube-apiserver or etcd would not stop: pids $left"; fi
  fi
  if [ -f "$STATE/kube.dir" ]; then rm -rf "$(cat "$STATE/kube.dir")"; rm -f "$STATE/kube.dir"; fi
  rm -f "$STATE/kubeconfig" "$STATE/kube.env"
}

# start_minio starts MinIO (built beforehand) and writes the env file; it
# does not wait: wait_minio does.
start_minio() {
  if running && [ -f "$ENVFILE" ]; then
    # shellcheck disable=SC1090
    . "$ENVFILE"
    if wait_http "$ARCHIVER_TEST_S3_ENDPOINT/minio/health/ready" 2; then log "MinIO already running at $ARCHIVER_TEST_S3_ENDPOINT"; return; fi
    stop
  fi
  local minio=$CACHE/minio-$MINIO_VERSION/minio port cport user pass key data
  port=$(free_port); cport=$(free_port)
  user=archiver-test; pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' )
  key=$(head -c 32 /dev/urandom | base64)
  data=$(mktemp -d "${TMPDIR:-/tmp}/archiver-minio.XXXXXX")
  MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_KMS_SECRET_KEY="$KMS_KEY:$key" \
  MINIO_BROWSER=off MINIO_UPDATE=off \
    nohup "$minio" server "$data" --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" \
    >"$STATE/minio.log" 2>&1 &
  echo $! >"$STATE/minio.pid"
  echo "$data" >"$STATE/minio.data"
  cat >"$ENVFILE" <<ENV
export ARCHIVER_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export ARCHIVER_TEST_S3_ACCESS_KEY=$user
export ARCHIVER_TEST_S3_SECRET_KEY=$pass
export ARCHIVER_TEST_KMS_KEY=$KMS_KEY
export ARCHIVER_TEST_MINIO_BIN=$minio
ENV
}

wait_minio() {
  # shellcheck disable=SC1090
  . "$ENVFILE"
  if ! wait_http "$ARCHIVER_TEST_S3_ENDPOINT/minio/health/ready" 60; then
    log "MinIO did not become ready; log follows"; tail -20 "$STATE/minio.log" >&2; return 1
  fi
  log "MinIO ready at $ARCHIVER_TEST_S3_ENDPOINT (KMS key $KMS_KEY); variables in $ENVFILE"
}

# start builds what is missing (once, cached), then starts MinIO, the
# API-server-only Kubernetes and the node side by side.
start() {
  local t0=$SECONDS all=1 fail=0 kpid= npid=
  [ "${ARCHIVER_TESTENV_ONLY:-}" = minio ] && all=0
  mkdir -p "$STATE"
  : >"$STATE/ports.taken"
  command -v curl >/dev/null || { log "curl is required"; exit 1; }
  build_minio >/dev/null
  if [ "$all" = 1 ]; then build_kube >/dev/null; need_etcd; fi
  start_minio
  if [ "$all" = 1 ]; then
    start_kube & kpid=$!
    start_node & npid=$!
  fi
  wait_minio || fail=1
  if [ -n "$kpid" ]; then wait "$kpid" || fail=1; fi
  if [ -n "$npid" ]; then wait "$npid" || fail=1; fi
  if [ "$all" = 1 ] && [ -f "$STATE/kube.env" ]; then
    grep -q ARCHIVER_TEST_KUBECONFIG "$ENVFILE" 2>/dev/null || cat "$STATE/kube.env" >>"$ENVFILE"
  fi
  [ "$fail" = 0 ] || exit 1
  log "test environment up in $((SECONDS - t0))s"
}

stop() {
  if [ -f "$STATE/minio.pid" ]; then
    local left
    left=$(end "$(cat "$STATE/minio.pid")")
    if [ -n "$left" ]; then log "MinIO would not stop: pid $left"; fi
    rm -f "$STATE/minio.pid"
  fi
  if [ -f "$STATE/minio.data" ]; then rm -rf "$(cat "$STATE/minio.data")"; rm -f "$STATE/minio.data"; fi
  rm -f "$ENVFILE"
}

start_node() {
  [ "${ARCHIVER_TESTENV_NODE:-1}" = 0 ] && return
  if [ -f "$STATE/node.dir" ] && [ -f "$STATE/node-kube-apiserver.pid" ] && kill -0 "$(cat "$STATE/node-kube-apiserver.pid")" 2>/dev/null &&
    grep -q ARCHIVER_TEST_NODE=1 "$ENVFILE" 2>/dev/null; then
    log "test node already running"; return
  fi
  sed -i '/ARCHIVER_TEST_NODE_ERROR/d' "$ENVFILE"
  if ! "$ROOT/scripts/testnode.sh" start; then
    # Node tests fail under ARCHIVER_TEST_DISALLOW_SKIP=1 with this reason
    # and skip visibly otherwise; the other tests still run.
    log "the test node did not start (logs: $STATE/node-*.log)"
    "$ROOT/scripts/testnode.sh" stop || true
    echo "export ARCHIVER_TEST_NODE_ERROR='the test node did not start: see $STATE/node-*.log'" >>"$ENVFILE"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) # exits 1 when the node left something behind (it says what)
    rc=0; "$ROOT/scripts/testnode.sh" stop || rc=1; stop_kube; stop; rm -f "$STATE/ports.taken"; exit $rc ;;
  status) if running; then cat "$ENVFILE"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
