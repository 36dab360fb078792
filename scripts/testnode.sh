#!/usr/bin/env bash
# A real single-node Kubernetes for archiver's end-to-end tests, on loopback:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet with
# containerd and runc (cgroupfs), the Debian CNI bridge, the real
# snapshot-controller, csi-snapshotter and csi-provisioner, and the test CSI
# driver (tools/testcsi). Binaries are built once into the cache; images are
# packed from this checkout and imported offline. Called by scripts/testenv.sh:
#   scripts/testnode.sh build   # build (once, cached) what the node needs
#   scripts/testnode.sh start   # start it, append its variables to .testenv/env
#   scripts/testnode.sh stop    # remove every process, mount, bridge and cgroup it made
#   scripts/testnode.sh restart-kubelet [SECONDS]  # crash kubelet and start it again (fault tests)
# Without root, containerd or cgroups, start fails with the reason; testenv.sh
# then writes ARCHIVER_TEST_NODE_ERROR so node tests fail (CI) or skip visibly.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.2}
SNAPSHOTTER_VERSION=v8.6.0 # same as github.com/kubernetes-csi/external-snapshotter/client/v8 in go.mod
PROVISIONER_VERSION=v5.3.0
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/archiver-testenv
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${ARCHIVER_TESTENV_STATE:-$ROOT/.testenv}
ENVFILE=$STATE/env
KUBE=$CACHE/kube-$KUBE_VERSION
SNAP=$CACHE/external-snapshotter-$SNAPSHOTTER_VERSION
PROV=$CACHE/external-provisioner-$PROVISIONER_VERSION
CGROUP=archiver-testnode # our cgroup root in every hierarchy
BRIDGE=arch-test0

log() { printf 'testnode: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

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
  die "no free port found"
}

wrapped() { # dir module version pin ldflags pkgs...
  local dir=$1; shift
  rm -rf "$dir.tmp"
  "$ROOT/scripts/build-wrapped.sh" "$1" "$2" "$3" "$dir.tmp" "$4" "${@:5}" >&2
  mv "$dir.tmp" "$dir"
}

build() {
  if [ ! -x "$KUBE/kubelet" ]; then
    log "building Kubernetes $KUBE_VERSION (apiserver, controller-manager, scheduler, kubelet, kubectl) into $KUBE (once; 15-30 minutes)"
    local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
    wrapped "$KUBE" k8s.io/kubernetes "$KUBE_VERSION" "v0.${KUBE_VERSION#v1.}" \
      "-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl
  fi
  if [ ! -x "$SNAP/csi-snapshotter" ]; then
    log "building snapshot-controller and csi-snapshotter $SNAPSHOTTER_VERSION into $SNAP (once; about 5 minutes)"
    wrapped "$SNAP" github.com/kubernetes-csi/external-snapshotter/v8 "$SNAPSHOTTER_VERSION" "$SNAPSHOTTER_VERSION" "" \
      github.com/kubernetes-csi/external-snapshotter/v8/cmd/snapshot-controller github.com/kubernetes-csi/external-snapshotter/v8/cmd/csi-snapshotter
  fi
  if [ ! -x "$PROV/csi-provisioner" ]; then
    log "building csi-provisioner $PROVISIONER_VERSION into $PROV (once; about 5 minutes)"
    wrapped "$PROV" github.com/kubernetes-csi/external-provisioner/v5 "$PROVISIONER_VERSION" "$PROVISIONER_VERSION" "" \
      github.com/kubernetes-csi/external-provisioner/v5/cmd/csi-provisioner
  fi
}

# image_key: a hash of everything the node's images and the test CSI driver
# are built from: the Go toolchain, go.mod and go.sum (every dependency at
# its pinned version), and the content of every file of this module the
# three programs compile or embed. Content, never time: an image is reused
# only while it is exactly what this checkout would build.
IMAGE_PKGS="./cmd/archiver ./tools/testimages ./tools/testcsi"
IMAGE_RECIPE=1 # bump when the build commands in images() change
image_key() {
  ( cd "$ROOT" || exit 1
    echo "recipe $IMAGE_RECIPE"; go version; go env GOOS GOARCH GOFLAGS GOEXPERIMENT
    sha256sum go.mod go.sum
    # shellcheck disable=SC2086
    go list -deps -f '{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}' $IMAGE_PKGS | sed '/^$/d' | sort -u | sed "s|^$ROOT/||" | xargs -r sha256sum
  ) | sha256sum | cut -c1-24
}

# images: $N/bin/testcsi and $N/images/*.tar (archiver, pause, primary),
# from $CACHE/images/<image_key> when there, else built and stored there.
# The cache keeps the three most recently used keys.
images() {
  local key dir
  key=$(image_key) || { echo "image_key failed" >&2; return 1; }
  dir=$CACHE/images/$key
  if [ ! -f "$dir/done" ]; then
    echo "building the node's images (key $key)"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin" "$dir.tmp/images"
    ( cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$dir.tmp/bin/archiver" ./cmd/archiver &&
      CGO_ENABLED=0 go build -trimpath -o "$dir.tmp/bin/testimages" ./tools/testimages &&
      CGO_ENABLED=0 go build -trimpath -o "$dir.tmp/bin/testcsi" ./tools/testcsi &&
      "$dir.tmp/bin/testimages" pack -out "$dir.tmp/images" -archiver "$dir.tmp/bin/archiver" ) || return 1
    rm -f "$dir.tmp/bin/testimages"
    touch "$dir.tmp/done"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
  else
    echo "the node's images from the cache (key $key)"
  fi
  touch "$dir"
  ls -1dt "$CACHE"/images/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
  mkdir -p "$N/bin" "$N/images"
  ln -sf "$dir/bin/testcsi" "$dir/bin/archiver" "$N/bin/" && ln -sf "$dir"/images/*.tar "$N/images/"
}

need_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  [ -x /usr/sbin/runc ] || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  [ ${#missing[@]} = 0 ] && return
  log "installing ${missing[*]} from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; }
}

# bg NAME CMD...: start a process in the background, its log and pid in $STATE.
bg() {
  local name=$1; shift
  setsid nohup "$@" >"$STATE/node-$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/node-$name.pid"
}

# wait_for WHAT SECONDS CMD...: poll until CMD succeeds, or fail with the logs.
wait_for() {
  local what=$1 secs=$2; shift 2
  local i
  for i in $(seq 1 $((secs * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for p in "$STATE"/node-*.pid; do
      [ -f "$p" ] || continue
      if ! kill -0 "$(cat "$p")" 2>/dev/null; then
        local n; n=$(basename "$p" .pid)
        log "$n exited while waiting for $what; its log ends:"; tail -25 "$STATE/$n.log" >&2; return 1
      fi
    done
    sleep 0.25
  done
  log "$what not ready after ${secs}s"
  return 1
}

cert() { # name CN O [ext]: a client or server certificate signed by the test CA
  local d=$N/pki name=$1 cn=$2 o=$3 ext=${4:-}
  openssl ecparam -name prime256v1 -genkey -noout -out "$d/$name.key" 2>/dev/null
  local subj="/CN=$cn"; [ -n "$o" ] && subj="/O=$o/CN=$cn"
  openssl req -new -key "$d/$name.key" -subj "$subj" -out "$d/$name.csr" 2>/dev/null
  if [ -n "$ext" ]; then
    printf '%s\n' "$ext" >"$d/$name.ext"
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 7 -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
  else
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 7 -out "$d/$name.crt" 2>/dev/null
  fi
}

kubeconfig() { # name: kubeconfig for the client certificate $name
  cat >"$N/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: node
  cluster: {server: "https://127.0.0.1:$APIPORT", certificate-authority: "$N/pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$N/pki/$1.crt", client-key: "$N/pki/$1.key"}
contexts:
- name: node
  context: {cluster: node, user: $1}
current-context: node
KC
}

start() {
  [ "$(id -u)" = 0 ] || die "the test node needs root (kubelet, containerd, mounts)"
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "no cgroups: containers cannot run here"
  if [ -f "$STATE/node.dir" ]; then log "a node is already recorded in $STATE; stopping it first"; stop; fi
  need_packages
  build
  mkdir -p "$STATE"
  N=$(mktemp -d "${TMPDIR:-/tmp}/archiver-node.XXXXXX")
  echo "$N" >"$STATE/node.dir"
  local t0=$SECONDS
  NODE=$(hostname)
  NODEIP=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [ -n "$NODEIP" ] || NODEIP=$(hostname -I | awk '{print $1}')
  [ -n "$NODEIP" ] || die "no non-loopback address for the node (kubelet refuses a loopback node IP)"
  mkdir -p "$N"/{pki,bin,images,etcd,cni/net.d,cni/ipam,containerd/root,containerd/state,runc,kubelet,csi,logs}
  local EPORT PPORT KLPORT KLHPORT KCMPORT SCHPORT
  APIPORT=$(free_port); EPORT=$(free_port); PPORT=$(free_port); KLPORT=$(free_port); KLHPORT=$(free_port)
  KCMPORT=$(free_port); SCHPORT=$(free_port)

  # Images from this checkout, packed offline (built while the certificates
  # are made), or taken from the cache when their inputs are unchanged.
  images >"$STATE/node-images.out" 2>&1 &
  local imgpid=$!

  # Certificates: one CA for clients and the serving certificate.
  openssl ecparam -name prime256v1 -genkey -noout -out "$N/pki/ca.key" 2>/dev/null # P-256 keys throughout: instant where each RSA key took ~0.5 s
  openssl req -x509 -new -key "$N/pki/ca.key" -subj "/CN=archiver-test-ca" -days 7 -out "$N/pki/ca.crt" 2>/dev/null
  cert apiserver kube-apiserver "" "subjectAltName=IP:127.0.0.1,IP:$NODEIP,DNS:localhost,DNS:$NODE,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
  cert admin archiver-test-admin system:masters
  cert kubelet "system:node:$NODE" system:nodes
  cert apiserver-kubelet kube-apiserver-kubelet-client system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  openssl ecparam -name prime256v1 -genkey -noout -out "$N/pki/sa.key" 2>/dev/null
  openssl ec -in "$N/pki/sa.key" -pubout -out "$N/pki/sa.pub" 2>/dev/null
  local token; token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  echo "$token,archiver-test-admin,1,system:masters" >"$N/pki/tokens.csv"
  for c in admin kubelet controller-manager scheduler; do kubeconfig "$c"; done

  bg etcd etcd --data-dir "$N/etcd" --listen-client-urls "http://127.0.0.1:$EPORT" --advertise-client-urls "http://127.0.0.1:$EPORT" \
    --listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
    --initial-cluster "default=http://127.0.0.1:$PPORT"
  bg kube-apiserver "$KUBE/kube-apiserver" --etcd-servers="http://127.0.0.1:$EPORT" --bind-address=127.0.0.1 --secure-port="$APIPORT" \
    --advertise-address=127.0.0.1 --endpoint-reconciler-type=none --service-cluster-ip-range=10.0.0.0/24 \
    --tls-cert-file="$N/pki/apiserver.crt" --tls-private-key-file="$N/pki/apiserver.key" --client-ca-file="$N/pki/ca.crt" \
    --token-auth-file="$N/pki/tokens.csv" --service-account-key-file="$N/pki/sa.pub" --service-account-signing-key-file="$N/pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --kubelet-client-certificate="$N/pki/apiserver-kubelet.crt" --kubelet-client-key="$N/pki/apiserver-kubelet.key" \
    --kubelet-preferred-address-types=Hostname,InternalIP --enable-priority-and-fairness=false
  local K="$KUBE/kubectl --kubeconfig $N/admin.kubeconfig"
  wait_for "kube-apiserver" 90 $K get --raw /readyz || exit 1
  log "kube-apiserver ready at https://127.0.0.1:$APIPORT ($((SECONDS - t0))s)"

  bg kube-controller-manager "$KUBE/kube-controller-manager" --kubeconfig="$N/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$N/controller-manager.kubeconfig" --authorization-kubeconfig="$N/controller-manager.kubeconfig" \
    --leader-elect=false --use-service-account-credentials=true --service-account-private-key-file="$N/pki/sa.key" \
    --root-ca-file="$N/pki/ca.crt" --cluster-signing-cert-file="$N/pki/ca.crt" --cluster-signing-key-file="$N/pki/ca.key" \
    --bind-address=127.0.0.1 --secure-port="$KCMPORT" --controllers='*'
  bg kube-scheduler "$KUBE/kube-scheduler" --kubeconfig="$N/scheduler.kubeconfig" \
    --authentication-kubeconfig="$N/scheduler.kubeconfig" --authorization-kubeconfig="$N/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$SCHPORT"

  wait "$imgpid" || { log "building the images failed:"; cat "$STATE/node-images.out" >&2; exit 1; }

  # containerd: its own root, state and socket; the sandbox image is ours.
  local SOCK=$N/containerd/containerd.sock
  cat >"$N/containerd/config.toml" <<TOML
version = 2
root = "$N/containerd/root"
state = "$N/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$N/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "archiver.test/pause:test"
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "$N/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni/net.d"
TOML
  cat >"$N/cni/net.d/10-archiver-test.conflist" <<CNI
{"cniVersion": "0.4.0", "name": "archiver-test", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$N/cni/ipam", "ranges": [[{"subnet": "10.88.77.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "loopback"}]}
CNI
  bg containerd containerd --config "$N/containerd/config.toml"
  wait_for containerd 30 ctr -a "$SOCK" version || exit 1
  local ipids=()
  for img in "$N"/images/*.tar; do
    ctr -a "$SOCK" -n k8s.io images import "$img" >/dev/null &
    ipids+=($!)
  done
  for p in "${ipids[@]}"; do wait "$p" || die "ctr images import failed"; done
  log "containerd ready, images imported ($((SECONDS - t0))s)"

  # kubelet: cgroupfs on our own cgroup root, loopback ports, its own root dir.
  for h in /sys/fs/cgroup/*/; do
    case $h in */unified/) continue ;; esac
    mkdir -p "$h$CGROUP"
  done
  # A new cpuset cgroup starts with no CPUs or memory nodes: give ours the root's.
  if [ -d /sys/fs/cgroup/cpuset/$CGROUP ]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >/sys/fs/cgroup/cpuset/$CGROUP/cpuset.cpus
    cat /sys/fs/cgroup/cpuset/cpuset.mems >/sys/fs/cgroup/cpuset/$CGROUP/cpuset.mems
  fi
  cat >"$N/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KLPORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KLHPORT
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP
failCgroupV1: false
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$N/pki/ca.crt"}
authorization: {mode: Webhook}
clusterDNS: []
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1%", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
containerRuntimeEndpoint: unix://$SOCK
staticPodPath: ""
serializeImagePulls: false
registerNode: true
resolvConf: /etc/resolv.conf
podLogsDir: $N/pod-logs
YAML
  bg kubelet "$KUBE/kubelet" --config="$N/kubelet/config.yaml" --kubeconfig="$N/kubelet.kubeconfig" --root-dir="$N/kubelet" \
    --hostname-override="$NODE" --node-ip="$NODEIP" --cert-dir="$N/kubelet/pki"
  wait_for "node $NODE Ready" 90 bash -c "$K get node $NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True" || exit 1
  log "node $NODE Ready ($((SECONDS - t0))s)"

  # Storage: CRDs of the snapshotter version, the test CSI driver, the real sidecars.
  local crd
  crd=$(cd "$ROOT" && go mod download -json "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/config/crd
  $K apply -f "$crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml" -f "$crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml" \
    -f "$crd/snapshot.storage.k8s.io_volumesnapshots.yaml" >/dev/null
  # kubectl wait fails at once on a CRD that has no conditions yet: retry.
  wait_for "snapshot CRDs established" 30 $K wait --for condition=established --timeout=5s crd/volumesnapshots.snapshot.storage.k8s.io \
    crd/volumesnapshotcontents.snapshot.storage.k8s.io crd/volumesnapshotclasses.snapshot.storage.k8s.io || exit 1
  local CSISOCK=$N/csi/csi.sock
  bg testcsi "$N/bin/testcsi" --root "$N/csi" --endpoint "$CSISOCK" --registration-dir "$N/kubelet/plugins_registry" --node-id "$NODE"
  bg snapshot-controller "$SNAP/snapshot-controller" --kubeconfig="$N/admin.kubeconfig" --leader-election=false
  bg csi-snapshotter "$SNAP/csi-snapshotter" --kubeconfig="$N/admin.kubeconfig" --csi-address="$CSISOCK" --leader-election=false --extra-create-metadata=true
  bg csi-provisioner "$PROV/csi-provisioner" --kubeconfig="$N/admin.kubeconfig" --csi-address="$CSISOCK" --leader-election=false \
    --extra-create-metadata=true --feature-gates=Topology=true
  $K apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: ebs.csi.aws.com}
spec: {attachRequired: false, podInfoOnMount: false, fsGroupPolicy: File, volumeLifecycleModes: [Persistent]}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: gp3
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: ebs.csi.aws.com
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: ebs-delete
  annotations: {snapshot.storage.kubernetes.io/is-default-class: "true"}
driver: ebs.csi.aws.com
deletionPolicy: Delete
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: ebs-retain}
driver: ebs.csi.aws.com
deletionPolicy: Retain
YAML
  wait_for "CSI driver registered with kubelet" 60 bash -c "$K get csinode $NODE -o jsonpath='{.spec.drivers[*].name}' | grep -q ebs.csi.aws.com" || exit 1
  wait_for "default ServiceAccount" 60 $K get serviceaccount default -n default || exit 1
  cat >>"$ENVFILE" <<ENV
export ARCHIVER_TEST_NODE=1
export ARCHIVER_TEST_NODE_KUBECONFIG=$N/admin.kubeconfig
export ARCHIVER_TEST_NODE_KUBECTL=$KUBE/kubectl
export ARCHIVER_TEST_NODE_NAME=$NODE
export ARCHIVER_TEST_NODE_API_PORT=$APIPORT
export ARCHIVER_TEST_NODE_CONTAINERD=$SOCK
export ARCHIVER_TEST_NODE_CSI_ROOT=$N/csi
export ARCHIVER_TEST_NODE_STORAGE_CLASS=gp3
export ARCHIVER_TEST_NODE_STATE=$STATE
export ARCHIVER_TEST_IMAGE_ARCHIVER=archiver.test/archiver:test
export ARCHIVER_TEST_IMAGE_PRIMARY=archiver.test/primary:test
ENV
  log "node ready: Kubernetes $KUBE_VERSION, containerd, CSI (snapshot-controller, csi-snapshotter, csi-provisioner, testcsi) in $((SECONDS - t0))s; kubeconfig $N/admin.kubeconfig"
}

stop() {
  [ -f "$STATE/node.dir" ] || return 0
  N=$(cat "$STATE/node.dir")
  local t0=$SECONDS pids
  # Every process of the node: those it started, and every process in its
  # cgroups (the containers, their shims).
  pids=$(cat "$STATE"/node-*.pid /sys/fs/cgroup/*/$CGROUP/cgroup.procs /sys/fs/cgroup/*/$CGROUP/*/cgroup.procs \
    /sys/fs/cgroup/*/$CGROUP/*/*/cgroup.procs /sys/fs/cgroup/*/$CGROUP/*/*/*/cgroup.procs 2>/dev/null | sort -un | tr '\n' ' ' || true)
  local K="$KUBE/kubectl --kubeconfig $N/admin.kubeconfig --request-timeout=5s"
  # Workloads first, through the API, so kubelet unmounts and CSI unpublishes.
  if [ -f "$STATE/node-kube-apiserver.pid" ] && kill -0 "$(cat "$STATE/node-kube-apiserver.pid")" 2>/dev/null; then
    $K delete cronjobs,jobs,deployments,pods --all -A --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 1 40); do
      [ -z "$($K get pods -A -o name 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  local p
  for p in kubelet csi-provisioner csi-snapshotter snapshot-controller testcsi kube-scheduler kube-controller-manager; do
    if [ -f "$STATE/node-$p.pid" ]; then kill "$(cat "$STATE/node-$p.pid")" 2>/dev/null || true; fi
  done
  # Containers kubelet left: kill them through runc (our own runc root).
  if [ -d "$N/runc" ]; then
    for c in $(runc --root "$N/runc" list -q 2>/dev/null); do
      runc --root "$N/runc" kill "$c" KILL 2>/dev/null || true
      runc --root "$N/runc" delete --force "$c" 2>/dev/null || true
    done
  fi
  for p in containerd kube-apiserver etcd; do
    if [ -f "$STATE/node-$p.pid" ]; then kill "$(cat "$STATE/node-$p.pid")" 2>/dev/null || true; fi
  done
  # containerd's shims outlive it: stop those serving our socket (by pid).
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $N/containerd/containerd.sock" 2>/dev/null || true); do
    kill "$p" 2>/dev/null || true
  done
  sleep 1
  for p in "$STATE"/node-*.pid; do
    [ -f "$p" ] || continue
    kill -9 "$(cat "$p")" 2>/dev/null || true
    rm -f "$p"
  done
  # Mounts below our directory, deepest first.
  local m
  for _ in 1 2 3; do
    m=$(awk -v d="$N" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    [ -z "$m" ] && break
    for x in $m; do umount "$x" 2>/dev/null || umount -l "$x" 2>/dev/null || true; done
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE" 2>/dev/null || true; fi
  rm -f /var/lib/cni/results/archiver-test-* # libcni's result cache (not configurable in containerd 1.6)
  # kubelet's cgroups, below our own root, deepest first.
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$CGROUP" ] || continue
    find "$h$CGROUP" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$N" 2>/dev/null || { sleep 1; rm -rf "$N" || log "could not remove $N"; }
  rm -f "$STATE/node.dir"
  if [ -f "$ENVFILE" ]; then sed -i '/ARCHIVER_TEST_NODE\|ARCHIVER_TEST_IMAGE_/d' "$ENVFILE"; fi
  local left
  for _ in $(seq 1 20); do # a SIGKILLed process may take a moment to go
    left=$(leftovers "$N" "$pids")
    [ -z "$left" ] && break
    sleep 0.25
  done
  if [ -n "$left" ]; then
    log "node stopped, but it left:"; printf '  %s\n' "$left" >&2; return 1
  fi
  log "node stopped in $((SECONDS - t0))s; nothing left: no process, mount, network namespace, bridge, cgroup or directory of it"
}

# leftovers DIR PIDS: what a stopped node left behind, one line each:
# processes (those it started, and any whose command line names DIR, such
# as containerd's shims and the containers' processes), mounts below DIR,
# network namespaces (under DIR, or CNI's in /run/netns), the bridge, our
# cgroups, libcni's result cache and DIR itself.
leftovers() {
  local dir=$1 pids=$2 p h
  for p in $pids; do
    if kill -0 "$p" 2>/dev/null; then echo "process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-150)"; fi
  done
  pgrep -af -- "$dir/" 2>/dev/null | sed 's/^/process /' | cut -c1-160 || true
  awk -v d="$dir" 'index($5, d) == 1 {print "mount " $5}' /proc/self/mountinfo
  ls /run/netns 2>/dev/null | grep '^cni-' | sed 's|^|network namespace /run/netns/|' || true
  if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge $BRIDGE"; fi
  for h in /sys/fs/cgroup/*/; do
    if [ -d "$h$CGROUP" ]; then echo "cgroup $h$CGROUP"; fi
  done
  ls -d /var/lib/cni/results/archiver-test-* 2>/dev/null | sed 's/^/CNI result /' || true
  if [ -e "$dir" ]; then echo "directory $dir"; fi
}

# restart_kubelet [SECONDS]: the fault tests' kubelet restart. Kill kubelet
# with SIGKILL (a crash: the containers keep running under containerd), leave
# it down for SECONDS (default 5), start it again with the same arguments and
# log, and wait until it serves again.
restart_kubelet() {
  [ -f "$STATE/node.dir" ] && [ -f "$STATE/node-kubelet.pid" ] || die "no test node in $STATE"
  N=$(cat "$STATE/node.dir")
  local pid down=${1:-5} args=()
  pid=$(cat "$STATE/node-kubelet.pid")
  kill -0 "$pid" 2>/dev/null || die "kubelet ($pid) is not running"
  mapfile -d '' args <"/proc/$pid/cmdline"
  [ "${args[0]}" = "$KUBE/kubelet" ] || die "pid $pid is not the test node's kubelet: ${args[0]}"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  log "kubelet ($pid) killed; down for ${down}s"
  sleep "$down"
  setsid nohup "${args[@]}" >>"$STATE/node-kubelet.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$STATE/node-kubelet.pid"
  local port
  port=$(sed -n 's/^healthzPort: //p' "$N/kubelet/config.yaml")
  wait_for "kubelet serving again" 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 && grep -qx ok <&3" || exit 1
  log "kubelet restarted ($pid)"
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  restart-kubelet) restart_kubelet "${2:-5}" ;;
  *) echo "usage: $0 build|start|stop|restart-kubelet [SECONDS]" >&2; exit 2 ;;
esac
