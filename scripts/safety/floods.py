#!/usr/bin/python3
"""What forged export floods cost a running collector: memory, the exporter table, series and the tick.

Starts `flowcollector run` (the Native AOT binary) on loopback and sends, each from addresses of its own in
127.0.0.0/8 (every one of them is this machine's, so nothing leaves it):

  templates  40 exporters x 1,024 NetFlow v9 templates of 512 fields each
  pending    4,000 exporters x one 64 KB NetFlow v9 data set for a template never sent
  exporters  4,100 exporters x one header-shaped datagram (NetFlow v5 header, no valid record), then one real
             exporter's valid datagram: is it counted?
  garbage    35,000 NetFlow v5 datagrams from one exporter, a valid header and random records

and reports the collector's resident set (VmRSS) before and after each flood (and, for pending data, again a
minute later), what /metrics says about templates, exporters and series, open incidents and the tick.

usage: floods.py BINARY [--only templates,pending,exporters,garbage] [--json FILE]
"""
import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

V9_HEADER = struct.Struct("!HHIIII")
V5_HEADER = struct.Struct("!HHIIIIBBH")


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def queued(port):
    """Bytes waiting in the kernel's receive queues of the UDP port (all sockets sharing it)."""
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    total += int(fields[4].split(":")[1], 16)
    return total


class Collector:
    def __init__(self, binary, extra):
        self.data = tempfile.mkdtemp(prefix="flowcollector-floods-")
        self.netflow = free_port(socket.SOCK_DGRAM)
        self.http = free_port(socket.SOCK_STREAM)
        arguments = [binary, "run", "--data-dir", self.data, "--netflow-port", str(self.netflow), "--ipfix-port", "0",
                     "--sflow-port", "0", "--http", f"127.0.0.1:{self.http}", "--monitor", "203.0.113.0/24",
                     "--set", "Listeners:Address=127.0.0.1", "--set", "ProcNetDev:Mode=off"] + extra
        self.log = open(os.path.join(self.data, "collector.log"), "w")
        self.process = subprocess.Popen(arguments, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the collector did not answer /healthz")

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def metrics(self):
        values = {}
        text = self.get("/metrics")[1].decode()
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            family = name.split("{", 1)[0]
            values[family] = values.get(family, 0.0) + float(value)
            values[name] = float(value)
        values["__bytes"] = len(text)
        values["__series"] = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        return values

    def drain(self):
        deadline = time.time() + 120
        while queued(self.netflow) > 0 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)

    def rss(self):
        return rss_kib(self.process.pid)

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


def send_from(address, port, datagrams):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        sender.bind((address, 0))
        for datagram in datagrams:
            sender.sendto(datagram, ("127.0.0.1", port))
            # Pace so that the collector's socket buffer never overflows: this measures what is kept, not drops.
            time.sleep(0.0002)


def v9(records_flowsets, sequence=0, source_id=0):
    body = b"".join(records_flowsets)
    return V9_HEADER.pack(9, len(records_flowsets), 3_600_000, int(time.time()), sequence, source_id) + body


def template_flowsets(first_id, count, fields):
    definitions = []
    for template in range(first_id, first_id + count):
        spec = b"".join(struct.pack("!HH", 1 + (i % 80), 4) for i in range(fields))
        definitions.append(struct.pack("!HH", template, fields) + spec)
    body = b"".join(definitions)
    return struct.pack("!HH", 0, 4 + len(body)) + body


def flood_templates(collector):
    per_datagram = 31
    for exporter in range(40):
        address = f"127.2.0.{exporter + 1}"
        datagrams = []
        for first in range(256, 256 + 1024, per_datagram):
            count = min(per_datagram, 256 + 1024 - first)
            datagrams.append(v9([template_flowsets(first, count, 512)], sequence=len(datagrams)))
        send_from(address, collector.netflow, datagrams)


def flood_pending(collector):
    body = bytes(65_400)
    flowset = struct.pack("!HH", 300, 4 + len(body)) + body
    for exporter in range(4_000):
        address = f"127.3.{exporter // 250}.{exporter % 250 + 1}"
        send_from(address, collector.netflow, [v9([flowset])])


def v5(records):
    header = V5_HEADER.pack(5, len(records) // 48, 3_600_000, int(time.time()), 0, 0, 0, 0, 0)
    return header + records


def flood_exporters(collector):
    for exporter in range(4_100):
        address = f"127.4.{exporter // 250}.{exporter % 250 + 1}"
        # A NetFlow v5 header that claims one record and carries none.
        send_from(address, collector.netflow, [V5_HEADER.pack(5, 1, 3_600_000, int(time.time()), 0, 0, 0, 0, 0)])


def real_v5_record():
    return struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("198.51.100.7"), socket.inet_aton("203.0.113.10"),
                       bytes(4), 1, 2, 10, 10_000, 3_599_000, 3_599_900, 40_000, 443, 0, 0x10, 6, 0, 0, 0, 0, 0, 0)


def flood_garbage(collector):
    generator = random.Random(7)
    datagrams = [v5(bytes(generator.getrandbits(8) for _ in range(48 * 30))) for _ in range(200)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.5.0.1", 0))
        for i in range(35_000):
            sender.sendto(datagrams[i % len(datagrams)], ("127.0.0.1", collector.netflow))
            if i % 50 == 0:
                time.sleep(0.001)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--only", default="templates,pending,exporters,garbage")
    parser.add_argument("--json")
    parser.add_argument("--set", action="append", default=[], help="extra --set for the collector")
    arguments = parser.parse_args()
    extra = [item for pair in arguments.set for item in ("--set", pair)]
    results = {}
    for scenario in arguments.only.split(","):
        collector = Collector(arguments.binary, extra)
        try:
            time.sleep(3)
            before = collector.rss()
            started = time.time()
            result = {"rss_before_kib": before}
            if scenario == "templates":
                flood_templates(collector)
            elif scenario == "pending":
                flood_pending(collector)
            elif scenario == "exporters":
                flood_exporters(collector)
            elif scenario == "garbage":
                flood_garbage(collector)
            collector.drain()
            result["flood_seconds"] = round(time.time() - started, 1)
            result["rss_after_kib"] = collector.rss()
            metrics = collector.metrics()
            result["templates_held"] = metrics.get("flowcollector_exporter_templates", 0)
            result["templates_rejected"] = metrics.get("flowcollector_templates_rejected_total", 0)
            result["exporters_rejected"] = metrics.get("flowcollector_exporters_rejected_total", 0)
            result["managed_heap_kib"] = int(metrics.get("dotnet_total_memory_bytes", 0) / 1024)
            result["template_bytes"] = metrics.get("flowcollector_decoder_template_bytes", 0)
            result["pending_bytes"] = metrics.get("flowcollector_decoder_pending_bytes", 0)
            result["metrics_series"] = metrics["__series"]
            result["metrics_bytes"] = metrics["__bytes"]
            if scenario == "pending":
                time.sleep(60)
                result["rss_minute_later_kib"] = collector.rss()
                later = collector.metrics()
                result["data_sets_dropped"] = later.get("flowcollector_exporter_data_sets_dropped_total", 0)
                result["pending_bytes_minute_later"] = later.get("flowcollector_decoder_pending_bytes", 0)
                result["managed_heap_minute_later_kib"] = int(later.get("dotnet_total_memory_bytes", 0) / 1024)
            if scenario == "exporters":
                send_from("127.9.9.9", collector.netflow, [v5(real_v5_record())])
                collector.drain()
                result["real_exporter_records"] = collector.metrics().get('flowcollector_exporter_records_total{exporter="127.9.9.9"}', 0)
            if scenario == "garbage":
                time.sleep(3)
                status, body = collector.get("/api/incidents?open=true&limit=100000")
                incidents = json.loads(body)
                result["open_incidents"] = len(incidents)
                result["largest_pps"] = max([i["peakPps"] for i in incidents], default=0)
                result["tick_seconds"] = collector.metrics().get("flowcollector_tick_duration_seconds", 0)
                status, body = collector.get("/healthz")
                health = json.loads(body)
                result["healthz"] = status
                result["lag_seconds"] = round(time.time() - health["lastSecond"] - 1, 1)
            results[scenario] = result
            print(scenario, json.dumps(result), flush=True)
        finally:
            collector.stop()
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    sys.exit(main())
