#!/usr/bin/python3
"""Load harness: the highest datagram rate each collector holds without loss, over loopback.

For each collector (the floor: a bare recvmmsg receiver that only counts; flowcollector; nfcapd/sfcapd from nfdump;
FastNetMon) and each format (NetFlow v5, NetFlow v9,
sFlow v5) it sends the same datagrams at rising rates, 8 seconds per step, with `flowcollector replay` (sendmmsg)
pinned to one core while the collector is pinned to the other. After each step it waits for the collector to
drain its socket and compares the records the collector counted with the records sent: a step is lossless only
when they are equal. Kernel drops on the collector's port (from /proc/net/udp) are reported beside the loss.

Every collector gets the same 32 MiB receive buffer where it can be told one (FastNetMon 1.2.4 cannot: it keeps
the kernel default, which it logs).

usage: harness.py --flowcollector BINARY --datagrams DIR [--rates 10000,20000,...] [--seconds 8] [--json OUT]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

RATES = [10_000, 20_000, 50_000, 100_000, 150_000, 200_000, 300_000]
RECEIVE_BUFFER = 32 * 1024 * 1024
SENDER_CPU = "0"
COLLECTOR_CPU = "1"

# Records per datagram in the files make-datagrams.py writes, and how many leading datagrams carry templates only.
FORMATS = {
    "netflow5": {"file": "netflow5.pcap", "records": 29, "templates": 0, "loop": 2000, "flow": "netflow"},
    "netflow9": {"file": "netflow9.pcap", "records": 25, "templates": 1, "loop": 2001, "flow": "netflow"},
    "sflow": {"file": "sflow.pcap", "records": 8, "templates": 0, "loop": 2000, "flow": "sflow"},
}

PORTS = {"netflow": 12_055, "sflow": 12_343}


def udp_sockets(port):
    """(bytes queued, kernel drops) summed over the UDP sockets bound to a port, from /proc/net/udp and udp6."""
    queued = drops = 0
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        queued += int(fields[4].split(":")[1], 16)
                        drops += int(fields[-1])
        except FileNotFoundError:
            pass
    return queued, drops


def drained(port):
    """Waits until the collector has read everything the kernel queued for it."""
    wait_for(lambda: udp_sockets(port)[0] == 0, 120, f"the receive queue of port {port} to empty")


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def metric_sum(text, name):
    total = 0.0
    pattern = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+([0-9.eE+-]+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            total += float(match.group(2))
    return total


def wait_for(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def wait_for_port(port):
    wait_for(lambda: any(line.split()[1].endswith(f":{port:04X}")
                         for path in ("/proc/net/udp", "/proc/net/udp6") if os.path.exists(path)
                         for line in list(open(path))[1:]), 15, f"a socket on UDP port {port}")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Floor:
    """floor.c: recvmmsg 64 at a time and count, nothing else; its datagrams count as their records."""
    name = "floor"

    def __init__(self, work):
        self.work = work
        self.binary = os.path.join(work, "floor")
        self.count_file = os.path.join(work, "floor.count")
        self.process = None
        if not os.path.exists(self.binary):
            source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor.c")
            subprocess.run(["clang", "-O2", "-o", self.binary, source], check=True)

    def start(self, fmt):
        self.process = subprocess.Popen(["taskset", "-c", COLLECTOR_CPU, self.binary, str(PORTS[FORMATS[fmt]["flow"]]), self.count_file])
        wait_for_port(PORTS[FORMATS[fmt]["flow"]])

    def datagrams(self):
        with open(self.count_file) as handle:
            return int(handle.read().strip() or 0)

    def measure(self, fmt, send):
        port = PORTS[FORMATS[fmt]["flow"]]
        wait_for(lambda: os.path.exists(self.count_file), 5, "the floor's count")
        before, drops_before = self.datagrams(), udp_sockets(port)[1]
        sent = send()
        drained(port)
        time.sleep(0.5)
        received = self.datagrams() - before
        return sent, expected_records(fmt, received), udp_sockets(port)[1] - drops_before

    def stop(self):
        stop(self.process)
        if os.path.exists(self.count_file):
            os.remove(self.count_file)


class FlowCollector:
    """flowcollector run; records counted by flowcollector_exporter_records_total."""
    name = "flowcollector"

    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.process = None

    def start(self, fmt):
        self.process = subprocess.Popen(
            ["taskset", "-c", COLLECTOR_CPU, self.binary, "run", "--netflow-port", str(PORTS["netflow"]),
             "--ipfix-port", "0", "--sflow-port", str(PORTS["sflow"]), "--http", "127.0.0.1:19750",
             "--data-dir", self.work, "--set", "ProcNetDev:Mode=off",
             "--set", f"Listeners:ReceiveBufferBytes={RECEIVE_BUFFER}", "--set", "Listeners:Address=127.0.0.1"],
            stdout=open(os.path.join(self.work, "flowcollector.log"), "a"), stderr=subprocess.STDOUT)
        wait_for(lambda: scrape("http://127.0.0.1:19750/healthz") is not None, 15, "flowcollector /healthz")

    def records(self):
        return metric_sum(scrape("http://127.0.0.1:19750/metrics"), "flowcollector_exporter_records_total")

    def measure(self, fmt, send):
        port = PORTS[FORMATS[fmt]["flow"]]
        before, drops_before = self.records(), udp_sockets(port)[1]
        sent = send()
        drained(port)
        last = -1
        while True:
            time.sleep(1)
            now = self.records()
            if now == last:
                break
            last = now
        return sent, now - before, udp_sockets(port)[1] - drops_before

    def stop(self):
        stop(self.process)


class Nfcapd:
    """nfcapd (NetFlow) or sfcapd (sFlow) from nfdump; records counted from the summary each prints on exit."""
    name = "nfcapd"

    def __init__(self, work):
        self.work = work
        self.fmt = None

    def start(self, fmt):
        self.fmt = fmt

    def measure(self, fmt, send):
        daemon = "sfcapd" if FORMATS[fmt]["flow"] == "sflow" else "nfcapd"
        directory = tempfile.mkdtemp(dir=self.work)
        log_path = os.path.join(self.work, f"{daemon}.log")
        process = subprocess.Popen(
            ["taskset", "-c", COLLECTOR_CPU, daemon, "-p", str(PORTS[FORMATS[fmt]["flow"]]), "-b", "127.0.0.1",
             "-w", directory, "-B", str(RECEIVE_BUFFER), "-t", "3600"],
            stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        wait_for_port(PORTS[FORMATS[fmt]["flow"]])
        port = PORTS[FORMATS[fmt]["flow"]]
        drops_before = udp_sockets(port)[1]
        sent = send()
        # nfcapd has no live counter: once its socket is drained its exit summary counts the flows.
        drained(port)
        time.sleep(1)
        drops = udp_sockets(port)[1] - drops_before
        stop(process)
        with open(log_path) as handle:
            counted = [int(m.group(1)) for m in re.finditer(r"Flows: (\d+)", handle.read())]
        shutil.rmtree(directory, ignore_errors=True)
        return sent, sum(counted), drops

    def stop(self):
        pass


class FastNetMon:
    """FastNetMon community; records counted by its Prometheus counters."""
    name = "fastnetmon"

    def __init__(self, work):
        self.work = work
        self.process = None

    def start(self, fmt):
        networks = os.path.join(self.work, "networks")
        with open(networks, "w") as handle:
            handle.write("203.0.113.0/24\n")
        open(os.path.join(self.work, "whitelist"), "w").close()
        settings = {
            "netflow": "on", "sflow": "on", "netflow_port": str(PORTS["netflow"]), "sflow_port": str(PORTS["sflow"]),
            "netflow_host": "127.0.0.1", "sflow_host": "127.0.0.1", "enable_api": "off", "enable_ban": "off",
            "enable_ban_ipv6": "off", "networks_list_path": networks,
            "white_list_path": os.path.join(self.work, "whitelist"),
            "cli_stats_file_path": os.path.join(self.work, "stats.dat"),
            "cli_stats_ipv6_file_path": os.path.join(self.work, "stats6.dat"),
            "prometheus": "on", "prometheus_host": "127.0.0.1", "prometheus_port": "19209",
            "disable_usage_report": "on", "monitor_local_ip_addresses": "off",
        }
        lines = []
        with open("/etc/fastnetmon.conf") as handle:
            for line in handle:
                key = line.split("=", 1)[0].strip()
                if not line.startswith("#") and key in settings:
                    line = f"{key} = {settings.pop(key)}\n"
                lines.append(line)
        lines.extend(f"{key} = {value}\n" for key, value in settings.items())
        config = os.path.join(self.work, "fastnetmon.conf")
        with open(config, "w") as handle:
            handle.writelines(lines)
        self.process = subprocess.Popen(
            ["taskset", "-c", COLLECTOR_CPU, "fastnetmon", "--configuration_file", config,
             "--log_file", os.path.join(self.work, "fastnetmon.log"), "--disable_pid_logic"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(lambda: "fastnetmon_total_simple_packets_processed" in scrape("http://127.0.0.1:19209/metrics"),
                 20, "FastNetMon /metrics")
        wait_for_port(PORTS[FORMATS[fmt]["flow"]])

    def records(self, fmt):
        text = scrape("http://127.0.0.1:19209/metrics")
        if fmt == "netflow5":
            return metric_sum(text, "fastnetmon_netflow_v5_total_flows")
        if fmt == "netflow9":
            return metric_sum(text, "fastnetmon_netflow_v9_total_flows")
        # sFlow has no counter of its own: every sample is one "simple packet", as is every flow record.
        return metric_sum(text, "fastnetmon_total_simple_packets_processed") - metric_sum(
            text, "fastnetmon_netflow_ipfix_all_protocols_total_flows")

    def measure(self, fmt, send):
        port = PORTS[FORMATS[fmt]["flow"]]
        before, drops_before = self.records(fmt), udp_sockets(port)[1]
        sent = send()
        drained(port)
        last = -1
        while True:
            time.sleep(1)
            now = self.records(fmt)
            if now == last:
                break
            last = now
        return sent, now - before, udp_sockets(port)[1] - drops_before

    def stop(self):
        stop(self.process)


def sender(binary, datagrams, fmt, rate, seconds):
    spec = FORMATS[fmt]
    port = PORTS[spec["flow"]]

    def send():
        output = subprocess.run(
            ["taskset", "-c", SENDER_CPU, binary, "replay", os.path.join(datagrams, spec["file"]),
             "--to", f"127.0.0.1:{port}", "--rate", str(rate), "--duration", str(seconds), "--json"],
            check=True, capture_output=True, text=True).stdout
        return json.loads(output)

    return send


def expected_records(fmt, datagrams_sent):
    spec = FORMATS[fmt]
    templates = -(-datagrams_sent // spec["loop"]) * spec["templates"]
    return (datagrams_sent - templates) * spec["records"]


def best_lossless(results, collector, fmt):
    """The highest rate a collector held without loss (and the sender reached), 0 when none."""
    rows = [r for r in results if r["collector"] == collector and r["format"] == fmt and r["loss"] == 0 and r["sentPerSecond"] >= 0.98 * r["rate"]]
    return max((r["rate"] for r in rows), default=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowcollector", required=True)
    parser.add_argument("--datagrams", required=True)
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES))
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--collectors", default="floor,flowcollector,nfcapd,fastnetmon")
    parser.add_argument("--formats", default="netflow5,netflow9,sflow")
    parser.add_argument("--json")
    arguments = parser.parse_args()
    rates = [int(r) for r in arguments.rates.split(",")]

    results = []
    work = tempfile.mkdtemp(prefix="flowcollector-load-")
    try:
        for collector_name in arguments.collectors.split(","):
            for fmt in arguments.formats.split(","):
                collector = {
                    "floor": lambda: Floor(work),
                    "flowcollector": lambda: FlowCollector(arguments.flowcollector, work),
                    "nfcapd": lambda: Nfcapd(work),
                    "fastnetmon": lambda: FastNetMon(work),
                }[collector_name]()
                collector.start(fmt)
                try:
                    for rate in rates:
                        report, counted, drops = collector.measure(
                            fmt, sender(arguments.flowcollector, arguments.datagrams, fmt, rate, arguments.seconds))
                        expected = expected_records(fmt, report["datagrams"])
                        loss = 1 - counted / expected if expected else 0.0
                        row = {"collector": collector_name, "format": fmt, "rate": rate,
                               "sentPerSecond": report["datagramsPerSecond"], "datagrams": report["datagrams"],
                               "recordsSent": expected, "recordsCounted": int(counted), "loss": round(loss, 6),
                               "kernelDrops": drops}
                        results.append(row)
                        print(json.dumps(row), flush=True)
                finally:
                    collector.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| collector | format | " + " | ".join(f"{r // 1000}k/s" for r in rates) + " | highest lossless |")
    print("| --- | --- | " + " | ".join("---:" for _ in rates) + " | ---: |")
    for collector_name in arguments.collectors.split(","):
        for fmt in arguments.formats.split(","):
            rows = [r for r in results if r["collector"] == collector_name and r["format"] == fmt]
            cells = []
            best = 0
            for row in rows:
                short = row["sentPerSecond"] < 0.98 * row["rate"]
                cells.append(("0" if row["loss"] == 0 else f"{row['loss'] * 100:.1f} %") + (" (sender short)" if short else ""))
                if row["loss"] == 0 and not short:
                    best = max(best, row["rate"])
            floor = best_lossless(results, "floor", fmt)
            share = f" ({best / floor:.0%} of the floor)" if floor and collector_name != "floor" else ""
            print(f"| {collector_name} | {fmt} | " + " | ".join(cells) + f" | {best:,}{share} |")
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    sys.exit(main())
