#!/usr/bin/python3
"""Router-mode footprint: resident memory and CPU of `flowcollector run` over a stretch of time.

Starts the Native AOT binary on its embedded defaults (flow listeners idle, /proc/net/dev read every second),
scrapes /metrics every 15 seconds as Prometheus would, and after a short settling time measures:
  - the largest resident set seen (VmRSS sampled every second) and the kernel's high-water mark (VmHWM);
  - CPU time (user + system, /proc/PID/stat) divided by wall time, as a percentage of one core.

With --peer fastnetmon, the same measurement of FastNetMon community instead (NetFlow and sFlow listeners idle,
its Prometheus endpoint scraped every 15 s), started as the load harness starts it.

With --peer kestrel or --peer idle, BINARY is bench/KestrelProbe published with Native AOT: the slim Kestrel
builder serving a /metrics body of the collector's size (scraped the same way), or the same executable idle; their
difference is what Kestrel would add to router mode.

usage: footprint.py BINARY [--seconds 600] [--settle 10] [--http 127.0.0.1:19751]
       footprint.py --peer fastnetmon [--seconds 600]
       footprint.py PROBE --peer kestrel|idle [--seconds 600]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as handle:
        # Fields after the command name (which may hold spaces) start at the state, field 3.
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", nargs="?", help="the flowcollector executable (Native AOT)")
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--settle", type=int, default=10)
    parser.add_argument("--http", default="127.0.0.1:19751")
    parser.add_argument("--peer", choices=["fastnetmon", "kestrel", "idle"], help="measure this peer instead of BINARY")
    arguments = parser.parse_args()
    if arguments.binary is None and arguments.peer != "fastnetmon":
        parser.error("BINARY is needed")

    data = tempfile.mkdtemp(prefix="flowcollector-footprint-")
    if arguments.peer == "fastnetmon":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "load"))
        from harness import FastNetMon
        peer = FastNetMon(data)
        peer.start("netflow5")
        process = peer.process
        url = "http://127.0.0.1:19209/metrics"
    elif arguments.peer in ("kestrel", "idle"):
        process = subprocess.Popen([arguments.binary, arguments.peer, arguments.http], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://{arguments.http}/metrics" if arguments.peer == "kestrel" else None
    else:
        process = subprocess.Popen([arguments.binary, "run", "--http", arguments.http, "--data-dir", data],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        url = f"http://{arguments.http}/metrics"
    try:
        deadline = time.monotonic() + 15
        while url is not None:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("flowcollector did not serve /metrics")
                time.sleep(0.2)

        time.sleep(arguments.settle)
        start_wall = time.monotonic()
        start_cpu = cpu_seconds(process.pid)
        largest = 0
        scrapes = 0
        next_scrape = start_wall
        metrics_bytes = 0
        while time.monotonic() - start_wall < arguments.seconds:
            if process.poll() is not None:
                raise RuntimeError(f"flowcollector exited with {process.returncode}")
            if url is not None and time.monotonic() >= next_scrape:
                metrics_bytes = len(urllib.request.urlopen(url, timeout=5).read())
                scrapes += 1
                next_scrape += 15
            largest = max(largest, status_kib(process.pid, "VmRSS"))
            time.sleep(1)
        wall = time.monotonic() - start_wall
        cpu = cpu_seconds(process.pid) - start_cpu
        high_water = status_kib(process.pid, "VmHWM")
        interfaces = sum(1 for _ in open("/proc/net/dev")) - 2
        print(f"seconds: {wall:.0f}, scrapes of /metrics: {scrapes} ({metrics_bytes} bytes each), "
              f"interfaces in /proc/net/dev: {interfaces}")
        print(f"largest RSS: {largest / 1024:.1f} MiB, VmHWM (since start): {high_water / 1024:.1f} MiB")
        print(f"CPU: {cpu:.2f} s of {wall:.0f} s = {100 * cpu / wall:.3f} % of one core")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
