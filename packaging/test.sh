#!/usr/bin/env bash
# Tests what appliance/build.sh made, apart from the VM image (appliance/test.sh boots that):
#   - each .deb holds the binary for its architecture, the hardened unit (exposure <= 3.0) and the conffile;
#   - the amd64 container image runs under podman as root, as its non-root user: `flowcollector health` (its health
#     check) answers, and a replayed NetFlow v9 capture of a DNS amplification opens the incident;
#   - arm64, under qemu-aarch64 user emulation: `decode` of the NetFlow v9, IPFIX and sFlow fixtures prints the same
#     JSONL as amd64, and `run` answers /healthz; the arm64 container image, unpacked, runs on the libraries it carries.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
artifacts="$root/artifacts"
version="$("$root/packaging/version.sh")"
fixture="$root/tests/fixtures/pcaps/attacks/dns_amplification.pcap"
decode_fixtures=("$root/tests/fixtures/pcaps/softflowd-ipfix.pcap" "$root/tests/fixtures/pcaps/pmacct-sflow.pcap" "$fixture")
work="$(mktemp -d)"
container=""
cleanup() {
    [ -n "$container" ] && podman rm -f "$container" >/dev/null 2>&1 || true
    [ -n "$container" ] && podman volume rm -f "$container" >/dev/null 2>&1 || true
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=test-helpers.sh
. "$root/packaging/test-helpers.sh"
fail() { echo "FAILED: $*" >&2; exit 1; }
wait_health() { # URL
    for attempt in $(seq 1 120); do curl -fsS --max-time 2 "$1" >/dev/null 2>&1 && return 0; sleep 1; done
    return 1
}

for arch in amd64 arm64; do
    deb="$artifacts/flowcollector_${version}_${arch}.deb"
    say "package $(basename "$deb")"
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb is not for $arch"
    mkdir -p "$work/deb-$arch"
    dpkg-deb -x "$deb" "$work/deb-$arch"
    machine="$(readelf -h "$work/deb-$arch/usr/lib/flowcollector/flowcollector" | sed -n 's/.*Machine: *//p')"
    case "$arch:$machine" in amd64:*X86-64*|arm64:*AArch64*) ;; *) fail "$arch package holds a $machine binary" ;; esac
    exposure="$(systemd-analyze security --offline=true "$work/deb-$arch/lib/systemd/system/flowcollector.service" 2>/dev/null \
        | sed -n 's/.*Overall exposure level for flowcollector.service: \([0-9.]*\).*/\1/p')"
    awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 3.0) }' || fail "the unit's exposure is $exposure, more than 3.0"
    fleet_exposure="$(systemd-analyze security --offline=true "$work/deb-$arch/lib/systemd/system/flowcollector-fleet.service" 2>/dev/null \
        | sed -n 's/.*Overall exposure level for flowcollector-fleet.service: \([0-9.]*\).*/\1/p')"
    awk -v e="$fleet_exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' || fail "the fleet unit's exposure is $fleet_exposure, more than 2.0"
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/flowcollector/flowcollector.json || fail "no conffile"
    say "  $machine binary, unit exposure $exposure (fleet $fleet_exposure), conffile /etc/flowcollector/flowcollector.json"
done

say "container image (amd64) under podman"
# As the README runs it: straight from the OCI archive, no registry.
image="oci-archive:$artifacts/flowcollector-$version-amd64.oci.tar"
# Where the host mixes cgroup v1 and v2 (this CI's sandbox), crun refuses to start; runc with cgroupfs works. The
# limits stay under the sandbox's hard limits, which podman's defaults exceed.
podman_flags=()
if [ -d /sys/fs/cgroup/unified ]; then podman_flags=(--runtime runc --cgroup-manager cgroupfs); fi
http_port="$(free_port)"; netflow_port="$(free_port)"
container="flowcollector-test-$$"
podman "${podman_flags[@]}" run -d --name "$container" --ulimit nofile=16384:16384 --ulimit nproc=4096:4096 \
    -p "127.0.0.1:$http_port:9750" -p "127.0.0.1:$netflow_port:2055/udp" -v "$container:/var/lib/flowcollector" \
    "$image" run --monitor 203.0.113.0/24 --learning-seconds 3 >/dev/null 2>&1
wait_health "http://127.0.0.1:$http_port/healthz" || { podman logs "$container" >&2; fail "/healthz did not answer"; }
podman "${podman_flags[@]}" exec "$container" /usr/bin/flowcollector health >/dev/null || fail "the image's health command failed"
user="$(podman top "$container" user | tail -1 | tr -d ' ')"
[ "$user" = "flowcollector" ] || fail "the collector runs as $user, not flowcollector"
"$artifacts/publish-amd64/flowcollector" replay "$fixture" --port 2055 --to "127.0.0.1:$netflow_port" >/dev/null
find_incident "http://127.0.0.1:$http_port" dns_amplification 203.0.113.10 60 >/dev/null || { curl -fsS "http://127.0.0.1:$http_port/api/incidents" >&2; fail "no incident"; }
# The volume holds the database, written by the image's own user.
stored=""
for attempt in $(seq 1 20); do
    stored="$(podman "${podman_flags[@]}" exec "$container" /usr/bin/flowcollector incidents | grep dns_amplification || true)"
    [ -n "$stored" ] && break
    sleep 1
done
[ -n "$stored" ] || fail "the incident is not in the database on the volume"
say "  /healthz, health check, user $user, dns_amplification on 203.0.113.10, stored on the volume"
podman stop -t 10 "$container" >/dev/null
podman rm "$container" >/dev/null
podman volume rm "$container" >/dev/null
container=""

say "arm64 under qemu-aarch64"
arm64="$artifacts/publish-arm64/flowcollector"
amd64="$artifacts/publish-amd64/flowcollector"
"$amd64" decode "${decode_fixtures[@]}" --format jsonl >"$work/decode-amd64.jsonl"
qemu-aarch64-static -L / "$arm64" decode "${decode_fixtures[@]}" --format jsonl >"$work/decode-arm64.jsonl"
[ -s "$work/decode-amd64.jsonl" ] || fail "amd64 decode printed nothing"
cmp -s "$work/decode-amd64.jsonl" "$work/decode-arm64.jsonl" || { diff "$work/decode-amd64.jsonl" "$work/decode-arm64.jsonl" | head >&2; fail "arm64 decodes differently"; }
say "  decode: $(wc -l <"$work/decode-arm64.jsonl") records, the same JSONL as amd64"

# The arm64 image's own root: its libraries, not the host's multiarch ones, must be enough.
mkdir -p "$work/oci-arm64"
tar -C "$work/oci-arm64" -xf "$artifacts/flowcollector-$version-arm64.oci.tar"
umoci unpack --image "$work/oci-arm64:$version" "$work/bundle-arm64" >/dev/null
rootfs="$work/bundle-arm64/rootfs"
[ "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["process"]["user"]["uid"])' "$work/bundle-arm64/config.json")" = 10001 ] \
    || fail "the arm64 image does not run as its own user"
http_port="$(free_port)"
mkdir -p "$work/arm64-data"
QEMU_LD_PREFIX="$rootfs" qemu-aarch64-static "$rootfs/usr/bin/flowcollector" run --data-dir "$work/arm64-data" \
    --http "127.0.0.1:$http_port" --netflow-port 0 --ipfix-port 0 --sflow-port 0 --set ProcNetDev:Mode=off >"$work/arm64.log" 2>&1 &
wait_health "http://127.0.0.1:$http_port/healthz" || { cat "$work/arm64.log" >&2; fail "arm64 /healthz did not answer"; }
version_seen="$(curl -fsS "http://127.0.0.1:$http_port/healthz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')"
[ "$version_seen" = "$version" ] || fail "arm64 reports version $version_seen"
kill %1
wait %1 || true
say "  run: /healthz answered (version $version_seen) on the arm64 image's own libraries"
say "packages, container image and arm64 build passed"
