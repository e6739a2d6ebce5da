#!/bin/bash
# Entry point of a Docker Compose node container (docker-compose.yml: node1, node2): the four node
# components, in the order a node needs them. The runtime must serve its socket before the kubelet
# dials it; the network agent writes the CNI config the runtime reads at each pod start; the proxy
# comes last because Services need nodes and pods to mean anything.
# If any component exits, the others are stopped and the container exits, so Docker's restart
# policy brings the whole node back (like a rebooted VM) instead of leaving it half alive.
set -euo pipefail

NODE_NAME=${NODE_NAME:-$(hostname)}
CLUSTER_DIR=${CLUSTER_DIR:-/etc/minik/cluster}   # written by the certs service (deploy/certs.py)
KUBECONFIG_FILE=$CLUSTER_DIR/$NODE_NAME.kubeconfig
CLUSTER_CIDR=${CLUSTER_CIDR:-10.244.0.0/16}
CLUSTER_DNS=${CLUSTER_DNS:-}
REGISTRY=${REGISTRY:-registry:5000}
SOCKET=/run/minik/runtime.sock
CNI_CONF=/run/minik/cni/minik.conf

log() { echo "node.sh [$NODE_NAME]: $*" >&2; }

# cgroup v2 with a private cgroup namespace (Docker's default there) puts this container's processes
# in the root of its namespace. The kernel's "no internal processes" rule then forbids enabling
# controllers for children, so the runtime could not set pod limits: move everything into a leaf
# first (what kind's entrypoint does). With the host's cgroup namespace this is a no-op.
if [[ -f /sys/fs/cgroup/cgroup.controllers && "$(cat /proc/self/cgroup)" == "0::/" ]]; then
    mkdir -p /sys/fs/cgroup/minik-node
    while read -r pid; do
        echo "$pid" >/sys/fs/cgroup/minik-node/cgroup.procs 2>/dev/null || true
    done </sys/fs/cgroup/cgroup.procs
    log "moved the container's processes to /sys/fs/cgroup/minik-node (cgroup v2, private namespace)"
fi

mkdir -p /run/minik /var/lib/minik /etc/minik/manifests
[[ -r $KUBECONFIG_FILE ]] || { log "missing $KUBECONFIG_FILE (did the certs service run?)"; exit 1; }

pids=()
stop() {
    trap - TERM INT
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait || true
}
trap 'stop; exit 0' TERM INT

minik runtime --root /var/lib/minik/runtime --listen "$SOCKET" \
    --cgroup-parent "minik-$NODE_NAME" --network cni --cni-conf-file "$CNI_CONF" \
    --cluster-cidr "$CLUSTER_CIDR" --registry "$REGISTRY" --insecure-registry "$REGISTRY" \
    --build-lab-images &
pids+=($!)

for _ in $(seq 300); do
    [[ -S $SOCKET ]] && break
    kill -0 "${pids[0]}" 2>/dev/null || { log "the runtime exited before serving $SOCKET"; exit 1; }
    sleep 0.2
done
[[ -S $SOCKET ]] || { log "the runtime did not serve $SOCKET within 60s"; stop; exit 1; }

minik network-agent --kubeconfig "$KUBECONFIG_FILE" --hostname-override "$NODE_NAME" \
    --backend vxlan --cluster-cidr "$CLUSTER_CIDR" --cni-conf-file "$CNI_CONF" &
pids+=($!)

minik kubelet --kubeconfig "$KUBECONFIG_FILE" --node-name "$NODE_NAME" \
    --runtime-endpoint "unix://$SOCKET" --root-dir /var/lib/minik/kubelet \
    --pod-manifest-path /etc/minik/manifests ${CLUSTER_DNS:+--cluster-dns "$CLUSTER_DNS"} &
pids+=($!)

minik proxy --kubeconfig "$KUBECONFIG_FILE" --hostname-override "$NODE_NAME" \
    --cluster-cidr "$CLUSTER_CIDR" &
pids+=($!)

log "runtime, network-agent, kubelet and proxy started (pids ${pids[*]})"
set +e
wait -n "${pids[@]}"
code=$?
log "a component exited with status $code: stopping the node"
stop
exit $((code == 0 ? 1 : code))
