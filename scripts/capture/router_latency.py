#!/usr/bin/python3
"""Router mode: from the first flood packet on the veth to the classified incident.

Two network namespaces joined by a veth pair; in the first the collector runs in router mode (/proc/net/dev of
that namespace, no flow listeners) with mitigation through nftables there; in the second
scripts/scenario/traffic.py sends 3 s of a normal mix, then 5 s of the flood at 4,000 pps to 192.0.2.77, behind
the router. From the collector's log, against the flood's first packet (traffic.py's timeline):
  - opened: the interface incident opened (still `unknown`: counters carry no composition);
  - classified: the packet sample described it (attack type, victim);
  - mitigated: the nftables rule for the victim was applied.
With --ring the interface keeps a pre-attack ring and the sample is taken from it instead of a new capture.

usage: router_latency.py BINARY [--runs 5] [--floods udp_flood,syn_flood,dns_amplification] [--ring] [--json FILE]
BINARY is the Native AOT flowcollector (or a command line, e.g. "dotnet .../flowcollector.dll").
Prints a Markdown table of the median and worst per flood.
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "..", "scenario")
TRAFFIC = os.path.join(SCENARIO, "traffic.py")
sys.path.insert(0, SCENARIO)
from latency import sh  # noqa: E402  (the scenario harness's runner: same errors, same output capture)
VICTIM = "192.0.2.77"
NS_A, NS_B = "fcrouter-a", "fcrouter-b"
CONFIG = {"Mitigation": {"Enabled": True, "Policy": {s: ["nftables"] for s in ("Low", "Medium", "High", "Critical")}}}
LINE = re.compile(r"^(\S+Z) \w+: .*(incident \d+ opened|incident \d+ described by a packet sample|mitigation \d+ for incident \d+: \w+ applied)")


def netns_setup():
    netns_teardown()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", "veth-rt0", "netns", NS_A, "type", "veth", "peer", "name", "veth-rt1", "netns", NS_B)
    sh("ip", "-n", NS_A, "addr", "add", "192.0.2.1/30", "dev", "veth-rt0")
    for space, device in ((NS_A, "veth-rt0"), (NS_B, "veth-rt1"), (NS_A, "lo"), (NS_B, "lo")):
        sh("ip", "-n", space, "link", "set", device, "up")


def netns_teardown():
    for space in (NS_A, NS_B):
        sh("ip", "netns", "del", space, check=False)


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def healthy():
    command = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9750/healthz', timeout=1)"
    return sh("ip", "netns", "exec", NS_A, "/usr/bin/python3", "-c", command, check=False).returncode == 0


def run_once(binary, flood, ring, base):
    netns_setup()
    work = tempfile.mkdtemp(dir=base)
    config = os.path.join(work, "flowcollector.json")
    with open(config, "w") as out:
        json.dump(CONFIG, out)
    arguments = ["run", "--config", config, "--data-dir", os.path.join(work, "data"), "--http", "127.0.0.1:9750",
                 "--netflow-port", "0", "--ipfix-port", "0", "--sflow-port", "0", "--monitor", "192.0.2.0/24",
                 "--set", "ProcNetDev:Mode=on", "--set", "Detection:LearningFloors:Interface:Pps=1500",
                 "--set", "Detection:CooldownSeconds=3"]
    if ring:
        arguments += ["--set", "Capture:Ring:Enabled=true", "--set", "Capture:Ring:Interfaces:0=veth-rt0"]
    log_path = os.path.join(work, "collector.log")
    with open(log_path, "w") as log:
        collector = subprocess.Popen(["ip", "netns", "exec", NS_A, *shlex.split(binary), *arguments], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while not healthy():
            if time.time() > deadline:
                raise SystemExit(f"the collector did not answer /healthz; its log: {log_path}")
            time.sleep(0.2)
        timeline = os.path.join(work, "timeline.json")
        sh("ip", "netns", "exec", NS_B, "/usr/bin/python3", TRAFFIC, "--iface", "veth-rt1", "--timeline", timeline,
           "--normal-seconds", "3", "--flood-seconds", "5", "--normal-pps", "100", "--flood-pps", "4000",
           "--flood", flood, "--victim", VICTIM)
        time.sleep(1)
    finally:
        collector.kill()
        collector.wait()
        netns_teardown()
    with open(timeline) as handle:
        flood_start = json.load(handle)["floodStart"]
    events = {}
    attack_type = "?"
    with open(log_path) as handle:
        for line in handle:
            match = LINE.match(line)
            if not match:
                continue
            kind = match.group(2)
            name = "mitigated" if kind.startswith("mitigation") else "classified" if "described" in kind else "opened"
            events.setdefault(name, parse_time(match.group(1)))
            if name == "classified":
                attack_type = line.split("packet sample: ")[1].split(" on ")[0]
    return {name: events.get(name, float("nan")) - flood_start for name in ("opened", "classified", "mitigated")} | {"type": attack_type}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--floods", default="udp_flood,syn_flood,dns_amplification")
    parser.add_argument("--ring", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("network namespaces need root")

    results = {}
    with tempfile.TemporaryDirectory(prefix="fc-router-latency-") as base:
        for flood in args.floods.split(","):
            runs = [run_once(args.binary, flood, args.ring, base) for _ in range(args.runs)]
            results[flood] = runs
            print(f"{flood}: {runs}", file=sys.stderr)

    print(f"| flood ({'ring' if args.ring else 'capture on breach'}) | named | opened median / worst | classified median / worst | mitigated median / worst |")
    print("| --- | --- | ---: | ---: | ---: |")
    for flood, runs in results.items():
        names = sorted({r["type"] for r in runs})
        cells = []
        for key in ("opened", "classified", "mitigated"):
            values = [r[key] for r in runs]
            cells.append(f"{statistics.median(values):.2f} / {max(values):.2f} s")
        print(f"| {flood} | {', '.join(names)} | {' | '.join(cells)} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
