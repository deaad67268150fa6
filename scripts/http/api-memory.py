#!/usr/bin/python3
"""Memory of a collector answering large /api/incidents requests.

Creates a data directory whose database holds N closed incidents (the collector creates the schema on a first
start; the rows are then inserted with sqlite3), starts BINARY on it, and reports the resident set before, the
largest seen while CONCURRENT clients each ask for /api/incidents?limit=100000 at once, and the kernel's high-water
mark (VmHWM). BINARY is the Native AOT executable, or a command line such as "dotnet .../flowcollector.dll".

usage: api-memory.py BINARY [--incidents 32000] [--concurrent 64] [--http 127.0.0.1:19752]
"""
import argparse
import concurrent.futures
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def start(command, data, http):
    process = subprocess.Popen(command + ["run", "--data-dir", data, "--http", http, "--netflow-port", "0", "--ipfix-port", "0",
                                          "--sflow-port", "0", "--set", "ProcNetDev:Mode=off"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://{http}/healthz", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the collector did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--incidents", type=int, default=32000)
    parser.add_argument("--concurrent", type=int, default=64)
    parser.add_argument("--http", default="127.0.0.1:19752")
    arguments = parser.parse_args()
    command = shlex.split(arguments.binary)
    data = tempfile.mkdtemp(prefix="flowcollector-api-memory-")
    try:
        first = start(command, data, arguments.http)
        first.terminate()
        first.wait()
        with sqlite3.connect(f"{data}/flowcollector.db") as database:
            now = (int(time.time()) - 3600) * 1000
            database.executemany(
                "INSERT INTO incidents (id, key, key_kind, node, address, attack_type, confidence, severity, opened_at, closed_at, updated_at,"
                " first_second, peak_pps, peak_bps, current_pps, current_bps, threshold, threshold_metric, top_source_ports, top_sources,"
                " reopened, close_reason) VALUES (?, ?, 'destination', 'edge-1', ?, 'dns_amplification', 0.9, 'high', ?, ?, ?, ?, 1e6, 8e9, 0, 0,"
                " 1e4, 'pps', '[{\"protocol\":\"udp\",\"port\":53,\"pps\":900000}]', '[{\"address\":\"198.51.100.7\",\"pps\":100000}]', 0, 'calm')",
                [(i, f"destination/203.0.113.{i % 250}", f"203.0.113.{i % 250}", now, now + 60_000, now + 60_000, now // 1000) for i in range(1, arguments.incidents + 1)])
        process = start(command, data, arguments.http)
        time.sleep(3)
        before = status_kib(process.pid, "VmRSS")
        largest = [before]
        done = threading.Event()

        def sample():
            while not done.is_set():
                largest[0] = max(largest[0], status_kib(process.pid, "VmRSS"))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        url = f"http://{arguments.http}/api/incidents?limit=100000"
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(arguments.concurrent) as pool:
            sizes = list(pool.map(lambda _: len(urllib.request.urlopen(url, timeout=300).read()), range(arguments.concurrent)))
        elapsed = time.monotonic() - started
        done.set()
        sampler.join()
        hwm = status_kib(process.pid, "VmHWM")
        process.terminate()
        process.wait()
        print(f"{arguments.incidents} incidents, {arguments.concurrent} concurrent requests of limit=100000: "
              f"{sizes[0]:,} bytes each, {elapsed:.1f} s; resident {before / 1024:.1f} MiB before, "
              f"largest {largest[0] / 1024:.1f} MiB, VmHWM {hwm / 1024:.1f} MiB")
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
