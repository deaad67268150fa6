#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real (exporters, capture, packet generation), only those
# missing. Needs root or sudo when something is missing; does nothing otherwise.
set -euo pipefail

packages=(
    libpcap0.8      # SharpPcap reads and captures through libpcap
    tcpdump         # captures the exports of real exporters on lo
    tshark          # reads incident pcaps back as an operator would
    softflowd       # a real NetFlow v5/v9/IPFIX exporter
    pmacct          # a real sFlow agent (pmacctd with its sfprobe plugin)
    python3-scapy   # builds known test traffic
    iproute2        # network namespaces for router-mode tests
    prometheus      # promtool checks the /metrics exposition
    prometheus-alertmanager  # a real Alertmanager receives the alert channel's alerts
    nftables        # local drop rules, tested in a network namespace
    iptables        # the fallback where nft is missing
    exabgp          # a real BGP speaker for FlowSpec and RTBH (driven through flowcollector exabgp-relay)
    gobgpd          # a real BGP peer whose RIB the tests read
    nats-server     # NATS with JetStream: what fleet nodes publish to
    postgresql      # the fleet's shared store (the tests make their own clusters with initdb)
    clang           # Native AOT links the router-mode binary with it
    zlib1g-dev      # ... and with zlib
)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "missing packages (${missing[*]}) and neither root nor sudo to install them" >&2; exit 1; }
    sudo="sudo"
fi

echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
