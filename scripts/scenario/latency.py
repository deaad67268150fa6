#!/usr/bin/python3
"""Detection latency in real time: flowcollector against FastNetMon on the same scenarios and exporters.

For each scenario, exporter and collector: two network namespaces joined by a veth pair; in the first the
collector, the exporter (softflowd NetFlow v9 or IPFIX, or pmacctd sFlow, sampling every packet) watching the veth,
and tcpdump capturing the export on lo; in the second scripts/scenario/traffic.py sends 20 s of a normal mix and
then 8 s of the attack (or a backup ramping up, which must not alarm). Measured:
  - arrival: when the first record of the attack reached the collector's port (the lo capture, decoded with
    `flowcollector decode`);
  - detection: flowcollector's incident openedAt for the victim; FastNetMon's ban (its notify script's clock);
  - the attack type each named, and any alarm that came before the attack or during the ramp.
FastNetMon runs with the static per-host thresholds of 1,000 pps and 10 Mbit/s; flowcollector learns for 10 s.

usage: latency.py --flowcollector BINARY [--repeat 3] [--scenarios dns_amplification,syn_flood,...]
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
NS_A, NS_B = "fclat-a", "fclat-b"
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
                      "sfprobe_agentip: 192.0.2.10\nsampling_rate: 1\n")
        return ["pmacctd", "-f", config]
    version = "10" if exporter.endswith("ipfix") else "9"
    return ["softflowd", "-D", "-i", "veth-lat0", "-v", version, "-n", f"127.0.0.1:{port}",
            "-t", "maxlife=1", "-t", "expint=1", "-c", os.path.join(work, "ctl")]


def fastnetmon_command(work, port):
    networks = os.path.join(work, "networks")
    with open(networks, "w") as out:
        out.write("203.0.113.0/24\n")
    open(os.path.join(work, "whitelist"), "w").close()
    notify = os.path.join(work, "notify.sh")
    with open(notify, "w") as out:
        out.write(f"#!/bin/sh\n{{ date +%s.%N; echo \"$@\"; cat; echo; }} >> {work}/bans.log\n")
    os.chmod(notify, 0o755)
    sflow = port == 6343
    settings = {
        "netflow": "off" if sflow else "on", "sflow": "on" if sflow else "off",
        "netflow_port": str(port), "sflow_port": str(port), "netflow_host": "127.0.0.1", "sflow_host": "127.0.0.1",
        "enable_ban": "on", "enable_ban_ipv6": "off", "ban_for_pps": "on", "ban_for_bandwidth": "on", "ban_for_flows": "off",
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


def first_attack_arrival(binary, capture):
    decoded = sh(binary, "decode", capture, "--format", "Jsonl", check=False).stdout
    for line in decoded.splitlines():
        record = json.loads(line)
        # Attack sources in traffic.py: reflectors 192.0.2.100-115, attackers 192.0.2.150-165; the backup 198.51.100.60.
        if record["dst"] == VICTIM and (record["src"].startswith("192.0.2.1") or record["src"] == "198.51.100.60"):
            return parse_time(record["time"])
    return None


def parse_time(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def flowcollector_results(binary, data):
    out = sh(binary, "incidents", "--format", "jsonl", "--data-dir", data, "--limit", "1000", check=False).stdout
    alarms = []
    for line in out.splitlines():
        incident = json.loads(line)
        if incident["keyKind"] == "destination" and incident["address"] == VICTIM:
            alarms.append((parse_time(incident["openedAt"]), incident["attackType"]))
        elif incident["keyKind"] in ("destination", "prefix"):
            alarms.append((parse_time(incident["openedAt"]), "other:" + incident["key"]))
    return sorted(alarms)


def fastnetmon_results(work):
    path = os.path.join(work, "bans.log")
    if not os.path.exists(path):
        return []
    alarms, current = [], None
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            try:
                stamp = float(line)
                current = [stamp, None, ""]
                alarms.append(current)
                continue
            except ValueError:
                pass
            if current is not None and current[1] is None and line:
                current[1] = line
            elif current is not None:
                current[2] += line + "\n"
    result = []
    for stamp, arguments, details in alarms:
        if arguments and arguments.split()[-1] == "ban":
            attack, protocol = "unknown", ""
            for detail in details.splitlines():
                if detail.startswith("Attack type:"):
                    attack = detail.split(":", 1)[1].strip()
                elif detail.startswith("Attack protocol:"):
                    protocol = detail.split(":", 1)[1].strip()
            result.append((stamp, f"{attack} ({protocol})" if protocol else attack))
    return result


def run_once(binary, scenario, exporter, collector, base):
    work = tempfile.mkdtemp(prefix=f"lat-{collector}-", dir=base)
    port = PORTS[exporter]
    if collector == "fastnetmon" and exporter == "softflowd-ipfix":
        port = 2055  # FastNetMon takes IPFIX on its NetFlow port
    logs = open(os.path.join(work, "log.txt"), "w")
    processes = []
    try:
        netns_setup()
        data = os.path.join(work, "data")
        if collector == "flowcollector":
            processes.append(start(NS_A, [binary, "run", "--data-dir", data, "--http", "127.0.0.1:9750",
                                          "--netflow-port", "2055", "--ipfix-port", "4739", "--sflow-port", "6343",
                                          "--monitor", "203.0.113.0/24", "--learning-seconds", "10",
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
                   "--normal-seconds", "20", "--victim", VICTIM]
        if scenario == "backup_ramp":
            traffic += ["--flood-seconds", "40", "--ramp-bulk-to", "6000"]
        else:
            traffic += ["--flood-seconds", "8", "--flood", scenario, "--flood-pps", "4000"]
        subprocess.run(["ip", "netns", "exec", NS_B, *traffic], check=True)
        time.sleep(6)
        with open(timeline) as handle:
            flood_start = json.load(handle)["floodStart"]
        arrival = first_attack_arrival(binary, capture)
        alarms = flowcollector_results(binary, data) if collector == "flowcollector" else fastnetmon_results(work)
        before = [a for a in alarms if arrival is None or a[0] < arrival]
        after = [a for a in alarms if arrival is not None and a[0] >= arrival]
        detected = after[0] if after and scenario != "backup_ramp" else None
        return {
            "scenario": scenario, "exporter": exporter, "collector": collector,
            "floodStart": flood_start, "arrival": arrival,
            "detectedAt": detected[0] if detected else None,
            "latencyFromArrival": detected[0] - arrival if detected else None,
            "latencyFromStart": detected[0] - flood_start if detected else None,
            "named": detected[1] if detected else None,
            "falseAlarms": len(before) + (len(alarms) if scenario == "backup_ramp" else 0),
        }
    finally:
        for process in reversed(processes):
            stop(process)
        logs.close()
        netns_teardown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowcollector", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenarios", default="dns_amplification,ntp_amplification,syn_flood,udp_flood,backup_ramp")
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

    print("| scenario | exporter | collector | detected | median s after the first attack record arrived | median s after the attack began | named | false alarms |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- | ---: |")
    keys = []
    for run in runs:
        key = (run["scenario"], run["exporter"], run["collector"])
        if key not in keys:
            keys.append(key)
    for key in keys:
        group = [r for r in runs if (r["scenario"], r["exporter"], r["collector"]) == key]
        found = [r for r in group if r["latencyFromArrival"] is not None]
        arrival = f"{statistics.median(r['latencyFromArrival'] for r in found):.2f}" if found else "-"
        begin = f"{statistics.median(r['latencyFromStart'] for r in found):.2f}" if found else "-"
        names = ", ".join(sorted({r["named"] for r in found})) or "-"
        detected = "n/a (legitimate)" if key[0] == "backup_ramp" else f"{len(found)}/{len(group)}"
        print(f"| {key[0]} | {key[1]} | {key[2]} | {detected} | {arrival} | {begin} | {names} | {sum(r['falseAlarms'] for r in group)} |")


if __name__ == "__main__":
    main()
