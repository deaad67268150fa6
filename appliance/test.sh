#!/usr/bin/env bash
# Boots the appliance image under qemu as an operator would import it, and checks that it does its job:
#   - first boot from a NoCloud seed (node name, monitored prefix, allowed exporter; an SSH key for `debian`);
#   - /healthz answers on the forwarded port with the seed's node name and the build's version;
#   - over SSH with the seed's key: the seed's settings are in the configuration; the unit's exposure and the data
#     directory's and database's modes are as shipped; with mitigation turned on (FlowSpec), Debian's ExaBGP
#     service, on the package's sample configuration, runs the relay that connects to the collector
#     (flowcollector_exabgp_connected 1), and detection learns for 3 s;
#   - a NetFlow v9 capture of a DNS amplification (softflowd's export) replayed into the forwarded UDP port opens
#     the incident in /api/incidents, and its FlowSpec rule is applied through ExaBGP;
#   - the VM powers off cleanly on an ACPI shutdown;
#   - a second copy booted without a seed offers no login until the serial console's set-up took an SSH key (a
#     wrong one first) and the settings; then /healthz answers with the console's node name and the key logs in;
#     the package's dashboards and rules are in place; `apt remove` keeps the data, `apt purge` removes it.
#   appliance/test.sh [IMAGE.qcow2]   (default: the one appliance/build.sh made)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
version="$("$root/packaging/version.sh")"
image="$(realpath "${1:-$root/artifacts/appliance/flowcollector-$version-amd64.qcow2}")"
collector="$root/artifacts/publish-amd64/flowcollector"
[ -x "$collector" ] || collector="$(command -v flowcollector || true)"
[ -x "$collector" ] || { echo "no flowcollector binary to replay with (run appliance/build.sh)" >&2; exit 1; }
capture="$root/tests/fixtures/pcaps/attacks/dns_amplification.pcap"
boot_timeout="${FLOWCOLLECTOR_BOOT_TIMEOUT:-1200}"

work="$(mktemp -d)"
qemu_pid=""
finish() {
    status=$?
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid"; fi
    if [ "$status" -ne 0 ]; then
        echo "--- the appliance's console (last 60 lines) ---" >&2
        tail -n 60 "$work/console.log" >&2 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap finish EXIT
# shellcheck source=../packaging/test-helpers.sh
. "$root/packaging/test-helpers.sh"
# Waits for qemu to exit after a shutdown, and for the kernel's last word on the console to be a power-down.
wait_powered_off() { # WHAT
    for attempt in $(seq 1 120); do
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 2
    done
    if kill -0 "$qemu_pid" 2>/dev/null; then echo "$1 did not power off within 240 s" >&2; exit 1; fi
    wait "$qemu_pid" || true
    qemu_pid=""
    grep -q "reboot: Power down" "$work/console.log" || { echo "$1 stopped without powering down" >&2; exit 1; }
}

# The image itself stays as built: the VM writes to an overlay.
qemu-img create -q -f qcow2 -b "$image" -F qcow2 "$work/disk.qcow2"

# The NoCloud seed, as an operator writes it: a vfat disk labelled CIDATA.
ssh-keygen -q -t ed25519 -N "" -f "$work/key"
node="appliance-test"
mkdir "$work/seed"
printf 'instance-id: %s\nlocal-hostname: %s\n' "flowcollector-test-$$" "$node" >"$work/seed/meta-data"
cat >"$work/seed/user-data" <<SEED
#cloud-config
ssh_authorized_keys:
  - $(cat "$work/key.pub")
flowcollector:
  node: $node
  monitor: [203.0.113.0/24]
  exporters: [10.0.2.2]
SEED
truncate -s 2M "$work/seed.img"
mkfs.vfat -n CIDATA "$work/seed.img" >/dev/null
mcopy -i "$work/seed.img" "$work/seed/meta-data" "$work/seed/user-data" ::

http_port="$(free_port)"; ssh_port="$(free_port)"; netflow_port="$(free_port)"
accel=tcg
[ -w /dev/kvm ] && accel=kvm
say "booting $image ($accel), HTTP on 127.0.0.1:$http_port, SSH on $ssh_port, NetFlow on UDP $netflow_port"
started=$(date +%s)
qemu-system-x86_64 -accel "$accel" -m 1024 -smp 2 -display none -no-user-config -nodefaults \
    -drive "file=$work/disk.qcow2,if=virtio,format=qcow2" \
    -drive "file=$work/seed.img,if=virtio,format=raw" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$http_port-:9750,hostfwd=tcp:127.0.0.1:$ssh_port-:22,hostfwd=udp:127.0.0.1:$netflow_port-:2055" \
    -device virtio-net-pci,netdev=net0 \
    -serial "file:$work/console.log" \
    -qmp "unix:$work/qmp.sock,server=on,wait=off" &
qemu_pid=$!

health=""
until health="$(curl -fsS --max-time 5 "http://127.0.0.1:$http_port/healthz" 2>/dev/null)"; do
    kill -0 "$qemu_pid" 2>/dev/null || { echo "qemu exited before /healthz answered" >&2; exit 1; }
    [ $(($(date +%s) - started)) -lt "$boot_timeout" ] || { echo "/healthz did not answer within $boot_timeout s" >&2; exit 1; }
    sleep 5
done
say "/healthz answered $(($(date +%s) - started)) s after power-on: $health"
python3 - "$health" "$node" "$version" <<'PY'
import json, sys
health, node, version = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert health["node"] == node, f"node {health['node']!r}, the seed said {node!r}"
assert health["version"] == version, f"version {health['version']!r}, the build is {version!r}"
assert health["mitigation"] == "off", f"mitigation {health['mitigation']!r} on first boot"
PY

ssh_in() {
    ssh -i "$work/key" -p "$ssh_port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -o ConnectTimeout=30 -o BatchMode=yes debian@127.0.0.1 "$@"
}
say "logging in with the seed's key; checking the service as shipped and ExaBGP"
# cloud-init restarts sshd once it has installed the key: wait for a login, then for cloud-init to finish.
for attempt in $(seq 1 60); do
    ssh_in 'cloud-init status --wait >/dev/null || true' 2>/dev/null && break
    [ "$attempt" -lt 60 ] || { echo "no SSH login with the seed's key" >&2; exit 1; }
    sleep 3
done
ssh_in sudo sh -es <<'GUEST'
exposure="$(systemd-analyze security flowcollector.service 2>/dev/null | sed -n 's/.*Overall exposure level for flowcollector.service: \([0-9.]*\).*/\1/p')"
echo "exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 3.0) }'
test "$(stat -c %a:%U /var/lib/flowcollector)" = "700:flowcollector"
test "$(stat -c %a:%U /var/lib/flowcollector/flowcollector.db)" = "600:flowcollector"
test "$(stat -c %a:%G /run/flowcollector)" = "750:flowcollector"
# First boot wrote the seed's settings into the configuration.
flowcollector check-config --config /etc/flowcollector/flowcollector.json >/tmp/check-config
grep -q "exporters heard: 10.0.2.2/32" /tmp/check-config
grep -q "monitored prefixes: 203.0.113.0/24" /tmp/check-config
grep -q "mitigation: off" /tmp/check-config
echo "first boot: $(grep -E 'exporters heard|monitored prefixes' /tmp/check-config | tr -s ' ' | paste -sd';')"
# Mitigation on, announcing through ExaBGP only: the package's ExaBGP sample runs the relay as Debian's exabgp user.
python3 - <<'PY'
import json
path = "/etc/flowcollector/flowcollector.json"
config = json.load(open(path))
# A short learning period, so that the capture's ten seconds of normal traffic calibrate detection before its flood.
config.setdefault("Detection", {})["LearningSeconds"] = 3
config["Mitigation"].update({"Enabled": True, "DryRun": False,
    "Policy": {"Low": [], "Medium": ["flowspec"], "High": ["flowspec"], "Critical": ["flowspec"]}})
json.dump(config, open(path, "w"), indent=2)
PY
systemctl restart flowcollector.service
systemctl start exabgp.service
for attempt in $(seq 1 60); do
    curl -fsS http://127.0.0.1:9750/metrics | grep -qx 'flowcollector_exabgp_connected 1' && break
    sleep 2
done
curl -fsS http://127.0.0.1:9750/metrics | grep '^flowcollector_exabgp_connected'
test "$(stat -c %a:%G /run/flowcollector/exabgp.sock)" = "660:flowcollector"
ps -o user=,args= -C flowcollector
GUEST
grep -qx 'flowcollector_exabgp_connected 1' <<<"$(curl -fsS "http://127.0.0.1:$http_port/metrics")" \
    || { echo "ExaBGP's relay did not connect" >&2; exit 1; }
say "ExaBGP's relay is connected"

say "replaying $(basename "$capture") (NetFlow v9) into UDP $netflow_port"
"$collector" replay "$capture" --port 2055 --to "127.0.0.1:$netflow_port"
incident="$(find_incident "http://127.0.0.1:$http_port" dns_amplification 203.0.113.10 120)" \
    || { echo "no dns_amplification incident on 203.0.113.10 in /api/incidents:" >&2; curl -fsS "http://127.0.0.1:$http_port/api/incidents" >&2; exit 1; }
say "incident: $incident"
# Mitigation is on with FlowSpec for every severity: the rule went to Debian's ExaBGP through the relay.
flowspec=""
for attempt in $(seq 1 30); do
    flowspec="$(curl -fsS "http://127.0.0.1:$http_port/api/mitigations" | python3 -c '
import json, sys
for action in json.load(sys.stdin):
    if action["kind"] == "flowspec" and action["state"] == "applied" and int(action["incidentId"]) == int(sys.argv[1]):
        print(action["rule"])
        break' "${incident%% *}")"
    [ -n "$flowspec" ] && break
    sleep 2
done
[ -n "$flowspec" ] || { echo "no FlowSpec rule applied through ExaBGP:" >&2; curl -fsS "http://127.0.0.1:$http_port/api/mitigations" >&2; exit 1; }
say "FlowSpec through ExaBGP: $flowspec"

say "ACPI shutdown"
python3 - "$work/qmp.sock" <<'PY'
import json, socket, sys
qmp = socket.socket(socket.AF_UNIX)
qmp.connect(sys.argv[1])
reader = qmp.makefile("r")
reader.readline()
for command in ("qmp_capabilities", "system_powerdown"):
    qmp.sendall(json.dumps({"execute": command}).encode() + b"\n")
    reader.readline()
PY
wait_powered_off "the VM"
say "the seeded appliance passed: boot to /healthz, incident, ExaBGP, clean power-off, $(($(date +%s) - started)) s"

# A second appliance without a seed: no login until the console's set-up has an SSH key and the settings.
say "booting a copy without a seed: set-up on the serial console"
qemu-img create -q -f qcow2 -b "$image" -F qcow2 "$work/disk2.qcow2"
http_port="$(free_port)"; ssh_port="$(free_port)"
started=$(date +%s)
qemu-system-x86_64 -accel "$accel" -m 1024 -smp 2 -display none -no-user-config -nodefaults \
    -drive "file=$work/disk2.qcow2,if=virtio,format=qcow2" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$http_port-:9750,hostfwd=tcp:127.0.0.1:$ssh_port-:22" \
    -device virtio-net-pci,netdev=net0 \
    -chardev "socket,id=serial0,path=$work/serial.sock,server=on,wait=off,logfile=$work/console.log" -serial chardev:serial0 \
    -qmp "unix:$work/qmp.sock,server=on,wait=off" &
qemu_pid=$!
python3 - "$work/serial.sock" "$(cat "$work/key.pub")" "$boot_timeout" <<'PY'
import os, socket, sys, time
path, key, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + timeout
while not os.path.exists(path):
    time.sleep(0.5)
console = socket.socket(socket.AF_UNIX)
console.connect(path)
console.settimeout(5)
seen = ""
def wait_for(text):
    global seen
    while text not in seen:
        if time.monotonic() > deadline:
            sys.exit(f"the console never showed {text!r}; it showed:\n{seen[-2000:]}")
        try:
            seen += console.recv(4096).decode(errors="replace")
        except socket.timeout:
            pass
    seen = seen[seen.index(text) + len(text):]
for prompt, answer in (("SSH public key for debian: ", "not a key"), ("SSH public key for debian: ", key),
                       ("Node name [", "console-test"), ("Monitored prefixes", "203.0.113.0/24"),
                       ("Router addresses", "10.0.2.2")):
    wait_for(prompt)
    time.sleep(0.3)
    console.sendall(answer.encode() + b"\r")
wait_for("Configured.")
wait_for("login: ")
print("the console took the key and the settings, then offered a login")
PY
say "console set-up done $(($(date +%s) - started)) s after power-on"
until health="$(curl -fsS --max-time 5 "http://127.0.0.1:$http_port/healthz" 2>/dev/null)" \
    && [ "$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["node"])' "$health")" = console-test ]; do
    [ $(($(date +%s) - started)) -lt "$boot_timeout" ] || { echo "/healthz did not answer as console-test" >&2; exit 1; }
    sleep 3
done
ssh_in 'flowcollector check-config --config /etc/flowcollector/flowcollector.json | grep -E "exporters heard: 10.0.2.2/32|monitored prefixes: 203.0.113.0/24" | wc -l' | grep -qx 2 \
    || { echo "the console's settings are not in the configuration, or no SSH login with its key" >&2; exit 1; }
ssh_in sudo -n true || { echo "the console's user has no sudo" >&2; exit 1; }
say "the console-configured appliance answers as console-test and takes the key"
# The package ships the dashboards and rules; removing it keeps the data, purging removes it.
ssh_in 'test -s /usr/share/flowcollector/grafana/flowcollector-overview.json && test -s /usr/share/flowcollector/prometheus/flowcollector.rules.yml' \
    || { echo "the dashboards or rules are not installed" >&2; exit 1; }
# The fleet service's unit is installed and left for the operator to configure and enable.
[ "$(ssh_in systemctl is-enabled flowcollector-fleet.service 2>/dev/null)" = disabled ] \
    || { echo "flowcollector-fleet.service is not installed, or is enabled without a configuration" >&2; exit 1; }
ssh_in 'sudo apt-get remove -y -qq flowcollector >/dev/null 2>&1 && sudo test -s /var/lib/flowcollector/flowcollector.db && ! systemctl is-active -q flowcollector' \
    || { echo "removing the package did not stop the service, or did not keep its data" >&2; exit 1; }
ssh_in 'sudo apt-get purge -y -qq flowcollector >/dev/null 2>&1 && ! sudo test -e /var/lib/flowcollector && ! test -e /etc/flowcollector/flowcollector.json' \
    || { echo "purging the package left its data or configuration" >&2; exit 1; }
say "the package's dashboards and rules are installed; remove keeps the data, purge removes it"
ssh_in sudo systemctl poweroff || true
wait_powered_off "the second VM"
say "the appliance passed"
