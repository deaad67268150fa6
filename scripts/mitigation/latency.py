#!/usr/bin/python3
"""Time from an incident opening to its mitigation being in force (the nftables rule in the kernel, the FlowSpec
route in a BGP peer's RIB) and to its alert reaching a receiver (the first byte of the webhook request).

Everything runs inside one network namespace the script creates: GoBGP (AS 65001, 127.0.0.1) peered with ExaBGP
(AS 65002, 127.0.0.2) whose API process is `flowcollector exabgp-relay`, the collector with nftables, FlowSpec
and RTBH in its policy, and a NetFlow v5 sender. Each round floods a new address with DNS amplification until the
incident opens, then watches (every 5 ms for nft, every 20 ms for GoBGP) until the rule and the route show, stops
the flood and waits until both are withdrawn. A webhook alert channel points at a receiver in this script, which
notes when the first byte of each request arrives.

usage: latency.py --flowcollector BINARY [--rounds 20]
"""
import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime

NS = "fcmitlat"


def sh(*command, check=True):
    return subprocess.run(command, check=check, capture_output=True, text=True)


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Sender(threading.Thread):
    """NetFlow v5 to 127.0.0.1:2055 every 100 ms: a little normal traffic to each host, a flood to the chosen one."""

    def __init__(self, hosts):
        super().__init__(daemon=True)
        self.hosts = hosts
        self.flooded = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sequence = 0
        self.boot = time.monotonic() - 3600

    def record(self, source, destination, protocol, sport, dport, packets, size, uptime):
        return struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton(source), socket.inet_aton(destination),
                           socket.inet_aton("0.0.0.0"), 1, 2, packets, packets * size, uptime - 100, uptime,
                           sport, dport, 0, 0x10 if protocol == 6 else 0, protocol, 0, 0, 0, 0, 0, 0)

    def run(self):
        while True:
            uptime = int((time.monotonic() - self.boot) * 1000) & 0xFFFFFFFF
            records = [self.record("198.51.100.20", host, 6, 40000, 443, 15, 900, uptime) for host in self.hosts]
            if self.flooded:
                records += [self.record(f"192.0.2.{100 + i}", self.flooded, 17, 53, 20000 + i, 100, 1200, uptime) for i in range(8)]
            for start in range(0, len(records), 30):
                chunk = records[start:start + 30]
                now = time.time()
                header = struct.pack("!HHIIIIBBH", 5, len(chunk), uptime, int(now), int((now % 1) * 1e9), self.sequence, 0, 0, 0)
                self.sequence += len(chunk)
                self.sock.sendto(header + b"".join(chunk), ("127.0.0.1", 2055))
            time.sleep(0.1)


class Receiver(threading.Thread):
    """A bare HTTP/1.1 server on 127.0.0.1:19750: notes when each request's first byte arrives, answers 200."""

    def __init__(self):
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 19750))
        self.received = []
        self.lock = threading.Lock()

    def run(self):
        while True:
            connection, _ = self.server.accept()
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection):
        buffer = b""
        while True:
            first = None
            while b"\r\n\r\n" not in buffer:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                first = first or time.time()
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
            while len(buffer) < length:
                buffer += connection.recv(65536)
            body, buffer = buffer[:length], buffer[length:]
            with self.lock:
                self.received.append((first or time.time(), json.loads(body)))
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def first_byte(self, incident, event):
        with self.lock:
            return next((at for at, document in self.received if document["event"] == event and document["incident"]["id"] == incident), None)


def api(path):
    with urllib.request.urlopen(f"http://127.0.0.1:9750{path}", timeout=5) as response:
        return json.load(response)


def nft_has(address):
    out = sh("nft", "-j", "list", "chain", "inet", "flowcollector", "mitigation", check=False).stdout
    return f'"{address}"' in out or address in out


def rib_has(address):
    out = sh("gobgp", "-p", "50151", "global", "rib", "-a", "ipv4-flowspec", "-j", check=False).stdout
    return f"[destination: {address}/32]" in out


def wait(condition, timeout, interval):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return time.time()
        time.sleep(interval)
    return None


def inner(args):
    work = tempfile.mkdtemp(prefix="mitlat-")
    sh("ip", "link", "set", "lo", "up")
    with open(f"{work}/gobgpd.toml", "w") as out:
        out.write('[global.config]\n  as = 65001\n  router-id = "127.0.0.1"\n  port = 1790\n  local-address-list = ["127.0.0.1"]\n'
                  '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "127.0.0.2"\n    peer-as = 65002\n'
                  '  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "ipv4-unicast"\n'
                  '  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "ipv4-flowspec"\n')
    with open(f"{work}/exabgp.conf", "w") as out:
        out.write(f"process flowcollector {{\n  run {args.flowcollector} exabgp-relay --socket {work}/exabgp.sock;\n  encoder text;\n}}\n"
                  "neighbor 127.0.0.1 {\n  router-id 127.0.0.2;\n  local-address 127.0.0.2;\n  local-as 65002;\n  peer-as 65001;\n"
                  "  family { ipv4 unicast; ipv4 flow; }\n  api { processes [ flowcollector ]; }\n}\n")
    with open(f"{work}/flowcollector.json", "w") as out:
        json.dump({
            "Monitor": {"Prefixes": ["203.0.113.0/24"]}, "ProcNetDev": {"Mode": "off"},
            "Listeners": {"AllowedExporters": ["127.0.0.1"]},
            "Detection": {"LearningSeconds": 3, "CooldownSeconds": 2},
            "Mitigation": {"Enabled": True, "AllowlistLocalAddresses": False, "WithdrawGraceSeconds": 0,
                           "Policy": {k: ["nftables", "flowspec", "rtbh"] for k in ("Low", "Medium", "High", "Critical")},
                           "ExaBgp": {"Socket": f"{work}/exabgp.sock", "NextHop": "192.0.2.1"}},
            "Alerts": {"Channels": [{"Name": "bench", "Type": "webhook", "Url": "http://127.0.0.1:19750/hook", "Secret": "benchmark-secret"}]},
        }, out)
    logs = open(f"{work}/log.txt", "w")
    environment = dict(os.environ, **{"exabgp.tcp.port": "1790", "exabgp.tcp.bind": "", "exabgp.daemon.user": "root"})
    processes = [
        subprocess.Popen(["gobgpd", "-f", f"{work}/gobgpd.toml", "--api-hosts", "127.0.0.1:50151", "-p"], stdout=logs, stderr=logs),
        subprocess.Popen(["exabgp", f"{work}/exabgp.conf"], stdout=logs, stderr=logs, env=environment),
        subprocess.Popen([args.flowcollector, "run", "--config", f"{work}/flowcollector.json", "--data-dir", f"{work}/data",
                          "--http", "127.0.0.1:9750", "--netflow-port", "2055", "--ipfix-port", "0", "--sflow-port", "0"], stdout=logs, stderr=logs),
    ]
    try:
        hosts = [f"203.0.113.{10 + i}" for i in range(args.rounds)]
        sender = Sender(hosts)
        sender.start()
        receiver = Receiver()
        receiver.start()
        if wait(lambda: "Establ" in sh("gobgp", "-p", "50151", "neighbor", check=False).stdout, 30, 0.2) is None:
            sys.exit("BGP session did not come up")
        time.sleep(5)
        rounds = []
        for host in hosts:
            sender.flooded = host
            found = [None]

            def opened():
                for incident in api("/api/incidents?open=true"):
                    if incident["keyKind"] == "destination" and incident["address"] == host:
                        found[0] = incident
                        return True
                return False

            if wait(opened, 20, 0.01) is None:
                sys.exit(f"no incident for {host}")
            nft_seen = wait(lambda: nft_has(host), 10, 0.005)
            rib_seen = wait(lambda: rib_has(host), 10, 0.02)
            opened_at = parse_time(found[0]["openedAt"])
            applied = {a["kind"]: parse_time(a["appliedAt"]) for a in api("/api/mitigations?active=true")
                       if a["incidentId"] == found[0]["id"] and a["appliedAt"]}
            alerted = wait(lambda: receiver.first_byte(found[0]["id"], "opened"), 10, 0.01) and receiver.first_byte(found[0]["id"], "opened")
            rounds.append({"host": host, "nftSeen": nft_seen - opened_at, "ribSeen": rib_seen - opened_at,
                           "nftApplied": applied.get("nftables", 0) - opened_at, "flowspecAcked": applied.get("flowspec", 0) - opened_at,
                           "alertFirstByte": alerted - opened_at})
            print(json.dumps(rounds[-1]), file=sys.stderr, flush=True)
            sender.flooded = None
            if wait(lambda: not nft_has(host) and not rib_has(host), 30, 0.1) is None:
                sys.exit(f"mitigation of {host} was not withdrawn")
        print(f"rounds: {len(rounds)}")
        for key, label in (("nftApplied", "incident opened -> nft rule applied (collector's clock)"),
                           ("nftSeen", "incident opened -> rule listed by nft (polled every 5 ms)"),
                           ("flowspecAcked", "incident opened -> ExaBGP acknowledged the FlowSpec announcement"),
                           ("ribSeen", "incident opened -> FlowSpec route in GoBGP's RIB (polled every 20 ms)"),
                           ("alertFirstByte", "incident opened -> first byte of the webhook alert at the receiver")):
            values = sorted(r[key] * 1000 for r in rounds)
            print(f"| {label} | {statistics.median(values):.0f} ms | {values[-1]:.0f} ms |")
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait()
        sh("nft", "delete", "table", "inet", "flowcollector", check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flowcollector", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.flowcollector = os.path.abspath(args.flowcollector)
    if args.inner:
        inner(args)
        return
    if os.geteuid() != 0:
        sys.exit("needs root (a network namespace)")
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "netns", "add", NS)
    try:
        subprocess.run(["ip", "netns", "exec", NS, sys.executable, os.path.abspath(__file__), "--inner",
                        "--flowcollector", args.flowcollector, "--rounds", str(args.rounds)], check=True)
    finally:
        sh("ip", "netns", "del", NS, check=False)


if __name__ == "__main__":
    main()
