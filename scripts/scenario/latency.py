#!/usr/bin/python3
"""Detection latency and withdrawal in real time: flowcollector against FastNetMon on the same scenarios and exporters.

For each scenario, exporter and collector: two network namespaces joined by a veth pair; in the first the
collector, the exporter (softflowd NetFlow v9 or IPFIX with one-second timeouts, or pmacctd sFlow sampling 1 in
10) watching the veth, and tcpdump capturing the export on lo; in the second scripts/scenario/traffic.py sends 20 s
of a normal mix, then the attack at 4,000 pps (8,000 spread over 64 hosts for carpet bombing; 8 s, or pulse waves: 5 s on, 10 s off, four times; or a backup ramping up, which
must not alarm), then normal traffic until the rules are withdrawn. Measured:
  - arrival: when the first record of the attack reached the collector's port (the lo capture, decoded with
    `flowcollector decode`);
  - detection: flowcollector's incident openedAt for the victim (the prefix for carpet bombing); FastNetMon's ban
    (its notify script's clock);
  - the attack type each named (flowcollector's vectors too), and any alarm before the attack or during the ramp;
  - withdrawal: from the attack's last packet to flowcollector's nftables rule withdrawn (its withdrawnAt) or
    FastNetMon's unban; for pulse waves also whether a rule came off between the waves (a flap).
FastNetMon runs with the static per-host thresholds of 1,000 pps and 10 Mbit/s, `ban_time 10` and
`unban_only_if_attack_finished`; flowcollector learns for 10 s and drops with nftables at every severity.

usage: latency.py --flowcollector BINARY [--repeat 3] [--scenarios dns_amplification,carpet_bombing,...]
                  [--exporters softflowd-netflow9,softflowd-ipfix,pmacct-sflow] [--collectors flowcollector,fastnetmon]
Prints a Markdown table; --json FILE keeps every run.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VICTIM = "203.0.113.10"
VICTIM6 = "2001:db8::10"
NS_A, NS_B = "fclat-a", "fclat-b"

# What each scenario sends (traffic.py arguments), and what should be named: the type, the vectors of a
# multi-vector attack, and the key (the victim, or the prefix for carpet bombing).
SCENARIOS = {
    "dns_amplification": {"flood": "dns_amplification", "named": "dns_amplification"},
    "ntp_amplification": {"flood": "ntp_amplification", "named": "ntp_amplification"},
    "memcached_amplification": {"flood": "memcached_amplification", "named": "memcached_amplification"},
    "syn_flood": {"flood": "syn_flood", "named": "syn_flood"},
    "udp_flood": {"flood": "udp_flood", "named": "udp_flood"},
    "udp_flood_ipv6": {"flood": "udp_flood", "named": "udp_flood", "victim": VICTIM6},
    # 64 hosts at 125 pps each: every one far under a host's floor (1,000 pps), the /24 over its own (5,000 pps).
    "carpet_bombing": {"flood": "carpet_bombing", "named": "carpet_bombing", "prefix": "203.0.113.0/24", "pps": 8000},
    "multi_vector": {"flood": "multi_vector", "named": "multi_vector", "vectors": ["dns_amplification", "syn_flood"]},
    "pulse_wave": {"flood": "syn_flood", "named": "syn_flood", "pulses": (5, 10, 4)},
    "backup_ramp": {},
}
PORTS = {"softflowd-netflow9": 2055, "softflowd-ipfix": 4739, "pmacct-sflow": 6343}


def sh(*command, check=True):
    return subprocess.run(command, check=check, capture_output=True, text=True)


def netns_setup():
    netns_teardown()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", "veth-lat0", "netns", NS_A, "type", "veth", "peer", "name", "veth-lat1", "netns", NS_B)
    for space, device in ((NS_A, "veth-lat0"), (NS_B, "veth-lat1"), (NS_A, "lo"), (NS_B, "lo")):
        sh("ip", "-n", space, "link", "set", device, "up")


def netns_teardown():
    for space in (NS_A, NS_B):
        sh("ip", "netns", "del", space, check=False)


def start(space, command, log):
    return subprocess.Popen(["ip", "netns", "exec", space, *command], stdout=log, stderr=subprocess.STDOUT)


def stop(process):
    if process and process.poll() is None:
        process.kill()
        process.wait()


def exporter_command(exporter, port, work):
    if exporter == "pmacct-sflow":
        config = os.path.join(work, "pmacctd.conf")
        with open(config, "w") as out:
            out.write(f"daemonize: false\npcap_interface: veth-lat0\nplugins: sfprobe\nsfprobe_receiver: 127.0.0.1:{port}\n"
                      "sfprobe_agentip: 192.0.2.10\nsampling_rate: 10\n")
        return ["pmacctd", "-f", config]
    version = "10" if exporter.endswith("ipfix") else "9"
    return ["softflowd", "-D", "-i", "veth-lat0", "-v", version, "-n", f"127.0.0.1:{port}",
            "-t", "maxlife=1", "-t", "expint=1", "-c", os.path.join(work, "ctl")]


def fastnetmon_command(work, port):
    networks = os.path.join(work, "networks")
    with open(networks, "w") as out:
        out.write("203.0.113.0/24\n2001:db8::/64\n")
    open(os.path.join(work, "whitelist"), "w").close()
    notify = os.path.join(work, "notify.sh")
    with open(notify, "w") as out:
        out.write(f"#!/bin/sh\n{{ date +%s.%N; echo \"$@\"; cat; echo; }} >> {work}/bans.log\n")
    os.chmod(notify, 0o755)
    sflow = port == 6343
    settings = {
        "netflow": "off" if sflow else "on", "sflow": "on" if sflow else "off",
        "netflow_port": str(port), "sflow_port": str(port), "netflow_host": "127.0.0.1", "sflow_host": "127.0.0.1",
        "enable_ban": "on", "enable_ban_ipv6": "on", "ban_time": "10", "unban_only_if_attack_finished": "on", "ban_for_pps": "on", "ban_for_bandwidth": "on", "ban_for_flows": "off",
        "threshold_pps": "1000", "threshold_mbps": "10", "networks_list_path": networks,
        "white_list_path": os.path.join(work, "whitelist"), "notify_script_path": notify,
        "cli_stats_file_path": os.path.join(work, "stats.dat"), "cli_stats_ipv6_file_path": os.path.join(work, "stats6.dat"),
        "enable_api": "off", "prometheus": "off", "disable_usage_report": "on", "monitor_local_ip_addresses": "off",
    }
    lines = []
    with open("/etc/fastnetmon.conf") as handle:
        for line in handle:
            key = line.split("=", 1)[0].strip()
            if not line.startswith("#") and key in settings:
                line = f"{key} = {settings.pop(key)}\n"
            lines.append(line)
    lines.extend(f"{key} = {value}\n" for key, value in settings.items())
    config = os.path.join(work, "fastnetmon.conf")
    with open(config, "w") as out:
        out.writelines(lines)
    return ["fastnetmon", "--configuration_file", config, "--log_file", os.path.join(work, "fastnetmon.log"), "--disable_pid_logic"]


def is_attack_record(record, scenario):
    """Attack sources in traffic.py: reflectors 192.0.2.100-115, attackers 192.0.2.150-165 and 2001:db8:2::/64; the backup 198.51.100.60."""
    source = record["src"]
    if scenario == "backup_ramp":
        return source == "198.51.100.60"
    if scenario == "carpet_bombing":
        return source.startswith("192.0.2.1") and record["dst"].startswith("203.0.113.")
    victim = SCENARIOS[scenario].get("victim", VICTIM)
    return record["dst"] == victim and (source.startswith("192.0.2.1") or source.startswith("2001:db8:2::"))


def first_attack_arrival(binary, capture, scenario):
    decoded = sh(binary, "decode", capture, "--format", "Jsonl", check=False).stdout
    for line in decoded.splitlines():
        record = json.loads(line)
        if is_attack_record(record, scenario):
            return parse_time(record["time"])
    return None


def parse_time(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def flowcollector_config(work):
    path = os.path.join(work, "flowcollector.json")
    with open(path, "w") as out:
        json.dump({"Mitigation": {"Enabled": True, "TrustAnyExporter": True,
                                  "Policy": {"Low": ["nftables"], "Medium": ["nftables"], "High": ["nftables"], "Critical": ["nftables"]}}}, out)
    return path


def flowcollector_results(binary, data, scenario):
    """(opened, name, vectors, reopened, incident id) per alarm, oldest first; the scenario's own key is named by its type."""
    out = sh(binary, "incidents", "--format", "jsonl", "--data-dir", data, "--limit", "1000", check=False).stdout
    spec = SCENARIOS[scenario]
    own = spec.get("prefix") or spec.get("victim", VICTIM)
    alarms = []
    for line in out.splitlines():
        incident = json.loads(line)
        if incident["keyKind"] not in ("destination", "prefix"):
            continue
        name = incident["attackType"] if incident["address"] == own and scenario != "backup_ramp" else "other:" + incident["keyKind"] + "/" + str(incident["address"] or incident["interface"])
        alarms.append({"at": parse_time(incident["openedAt"]), "named": name, "vectors": incident.get("vectors") or [],
                       "vector": incident.get("vector"), "reopened": incident["reopened"], "id": incident["id"]})
    return sorted(alarms, key=lambda a: a["at"])


def flowcollector_withdrawals(binary, data, incident_id):
    """(applied, withdrawn) of each nftables action of the incident."""
    out = sh(binary, "mitigations", "--format", "jsonl", "--data-dir", data, check=False).stdout
    actions = [json.loads(line) for line in out.splitlines()]
    return [(parse_time(a["appliedAt"]), parse_time(a["withdrawnAt"])) for a in actions if a["incidentId"] == incident_id and a["kind"] in ("nftables", "iptables")]


def fastnetmon_events(work):
    """(time, 'ban' or 'unban', attack type with protocol) from the notify script's log."""
    path = os.path.join(work, "bans.log")
    if not os.path.exists(path):
        return []
    events, current = [], None
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            try:
                stamp = float(line)
                current = [stamp, None, ""]
                events.append(current)
                continue
            except ValueError:
                pass
            if current is not None and current[1] is None and line:
                current[1] = line
            elif current is not None:
                current[2] += line + "\n"
    result = []
    for stamp, arguments, details in events:
        if not arguments:
            continue
        action = arguments.split()[-1]
        attack, protocol = "unknown", ""
        for detail in details.splitlines():
            if detail.startswith("Attack type:"):
                attack = detail.split(":", 1)[1].strip()
            elif detail.startswith("Attack protocol:"):
                protocol = detail.split(":", 1)[1].strip()
        result.append((stamp, action, f"{attack} ({protocol})" if protocol else attack))
    return result


def run_once(binary, scenario, exporter, collector, base):
    work = tempfile.mkdtemp(prefix=f"lat-{collector}-", dir=base)
    port = PORTS[exporter]
    if collector == "fastnetmon" and exporter == "softflowd-ipfix":
        port = 2055  # FastNetMon takes IPFIX on its NetFlow port
    spec = SCENARIOS[scenario]
    victim = spec.get("victim", VICTIM)
    logs = open(os.path.join(work, "log.txt"), "w")
    processes = []
    try:
        netns_setup()
        data = os.path.join(work, "data")
        if collector == "flowcollector":
            processes.append(start(NS_A, [binary, "run", "--data-dir", data, "--http", "127.0.0.1:9750", "--config", flowcollector_config(work),
                                          "--netflow-port", "2055", "--ipfix-port", "4739", "--sflow-port", "6343",
                                          "--monitor", "203.0.113.0/24", "--monitor", "2001:db8::/64", "--learning-seconds", "10",
                                          "--set", "ProcNetDev:Mode=off"], logs))
        else:
            processes.append(start(NS_A, fastnetmon_command(work, port), logs))
        time.sleep(3)
        capture = os.path.join(work, "export.pcap")
        processes.append(start(NS_A, ["tcpdump", "-i", "lo", "-U", "-w", capture, "udp", "port", str(port)], logs))
        processes.append(start(NS_A, exporter_command(exporter, port, work), logs))
        time.sleep(2)
        timeline = os.path.join(work, "timeline.json")
        traffic = ["/usr/bin/python3", os.path.join(HERE, "traffic.py"), "--iface", "veth-lat1", "--timeline", timeline,
                   "--normal-seconds", "20", "--victim", victim]
        if scenario == "backup_ramp":
            traffic += ["--flood-seconds", "40", "--ramp-bulk-to", "6000"]
        elif "pulses" in spec:
            on, off, count = spec["pulses"]
            traffic += ["--flood", spec["flood"], "--flood-pps", str(spec.get("pps", 4000)), "--flood-seconds", str(count * on + (count - 1) * off),
                        "--pulse-on", str(on), "--pulse-off", str(off), "--after-seconds", "70"]
        else:
            traffic += ["--flood-seconds", "8", "--flood", spec["flood"], "--flood-pps", str(spec.get("pps", 4000)), "--after-seconds", "30"]
        subprocess.run(["ip", "netns", "exec", NS_B, *traffic], check=True)
        time.sleep(3)
        with open(timeline) as handle:
            timing = json.load(handle)
        flood_start, flood_end = timing["floodStart"], timing.get("floodEnd")
        arrival = first_attack_arrival(binary, capture, scenario)
        result = {"scenario": scenario, "exporter": exporter, "collector": collector, "floodStart": flood_start, "floodEnd": flood_end,
                  "arrival": arrival, "detectedAt": None, "latencyFromArrival": None, "latencyFromStart": None, "named": None,
                  "vectors": None, "reopened": None, "withdrawnAfterEnd": None, "flaps": None}
        if collector == "flowcollector":
            alarms = flowcollector_results(binary, data, scenario)
            early = [a for a in alarms if arrival is None or a["at"] < arrival]
            late = [a for a in alarms if arrival is not None and a["at"] >= arrival]
            result["falseAlarms"] = len(early) + (len(alarms) if scenario == "backup_ramp" else sum(1 for a in late if a["named"].startswith("other:")))
            own = [a for a in late if not a["named"].startswith("other:")]
            if own and scenario != "backup_ramp":
                first = own[0]
                result.update(detectedAt=first["at"], named=first["named"], vectors=first["vectors"] or first["vector"], reopened=first["reopened"])
                actions = flowcollector_withdrawals(binary, data, first["id"])
                withdrawn = [w for _, w in actions if w is not None]
                if withdrawn and flood_end:
                    result["withdrawnAfterEnd"] = max(withdrawn) - flood_end
                    result["flaps"] = sum(1 for w in withdrawn if w < flood_end)
        else:
            events = fastnetmon_events(work)
            bans = [e for e in events if e[1] == "ban"]
            early = [b for b in bans if arrival is None or b[0] < arrival]
            late = [b for b in bans if arrival is not None and b[0] >= arrival]
            result["falseAlarms"] = len(early) + (len(bans) if scenario == "backup_ramp" else 0)
            if late and scenario != "backup_ramp":
                result.update(detectedAt=late[0][0], named=late[0][2], reopened=len(late) - 1)
                unbans = [e[0] for e in events if e[1] == "unban" and e[0] >= late[0][0]]
                if unbans and flood_end:
                    result["withdrawnAfterEnd"] = max(unbans) - flood_end
                    result["flaps"] = sum(1 for u in unbans if u < flood_end)
        if result["detectedAt"] is not None:
            result["latencyFromArrival"] = result["detectedAt"] - arrival
            result["latencyFromStart"] = result["detectedAt"] - flood_start
        return result
    finally:
        for process in reversed(processes):
            stop(process)
        logs.close()
        netns_teardown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowcollector", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--exporters", default="softflowd-netflow9,softflowd-ipfix,pmacct-sflow")
    parser.add_argument("--collectors", default="flowcollector,fastnetmon")
    parser.add_argument("--json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    base = tempfile.mkdtemp(prefix="flowcollector-latency-")
    runs = []
    try:
        for scenario in args.scenarios.split(","):
            for exporter in args.exporters.split(","):
                for collector in args.collectors.split(","):
                    for _ in range(args.repeat):
                        result = run_once(os.path.abspath(args.flowcollector), scenario, exporter, collector, base)
                        print(json.dumps(result), file=sys.stderr, flush=True)
                        runs.append(result)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(runs, out, indent=1)

    print("| scenario | exporter | collector | detected | median s after the first attack record arrived | median s after the attack began | named | withdrawn, s after the attack's end | withdrawn between waves | false alarms |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    keys = []
    for run in runs:
        key = (run["scenario"], run["exporter"], run["collector"])
        if key not in keys:
            keys.append(key)

    def median(values, digits=2):
        values = [v for v in values if v is not None]
        return f"{statistics.median(values):.{digits}f}" if values else "-"

    for key in keys:
        group = [r for r in runs if (r["scenario"], r["exporter"], r["collector"]) == key]
        found = [r for r in group if r["latencyFromArrival"] is not None]
        names = ", ".join(sorted({r["named"] + (f" [{' + '.join(r['vectors']) if isinstance(r['vectors'], list) else r['vectors']}]" if r["vectors"] else "") for r in found})) or "-"
        detected = "n/a (legitimate)" if key[0] == "backup_ramp" else f"{len(found)}/{len(group)}"
        flaps = "-" if "pulses" not in SCENARIOS[key[0]] else str(sum(r["flaps"] or 0 for r in group))
        print(f"| {key[0]} | {key[1]} | {key[2]} | {detected} | {median(r['latencyFromArrival'] for r in found)} | {median(r['latencyFromStart'] for r in found)} | {names} | "
              f"{median((r['withdrawnAfterEnd'] for r in found), 1)} | {flaps} | {sum(r['falseAlarms'] for r in group)} |")


if __name__ == "__main__":
    main()
