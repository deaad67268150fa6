#!/usr/bin/env bash
# The load harness in one command: installs the peers (nfdump, nfdump-sflow, FastNetMon), publishes the Native AOT
# collector, writes the datagrams and runs every collector at rising rates. Needs root (packages, taskset, 32 MiB
# socket buffers) and two cores: the sender runs on CPU 0, the collector under test on CPU 1.
# Extra arguments go to harness.py, e.g. --rates 50000,100000 --formats netflow5
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
for tool in nfcapd sfcapd fastnetmon taskset clang; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nfdump nfdump-sflow fastnetmon util-linux clang zlib1g-dev
fi
# FastNetMon's package starts a service on the ports the harness uses.
systemctl stop fastnetmon 2>/dev/null || true
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
dotnet publish src/Collector -c Release -r linux-x64 -p:PublishAot=true -o "$out/bin" >/dev/null
/usr/bin/python3 scripts/load/make-datagrams.py "$out/datagrams"
/usr/bin/python3 scripts/load/harness.py --flowcollector "$out/bin/flowcollector" --datagrams "$out/datagrams" "$@"
