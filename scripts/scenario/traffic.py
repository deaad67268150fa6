#!/usr/bin/python3
"""Scenario traffic for detection tests: a normal mix, then a flood starting at a known second.

Frames are built once with scapy and sent on a raw socket, each at its own time measured from one absolute start
(tcpreplay at 1x drifted about 8 % late here, which moves the flood's start). Run it inside a network namespace
the test created; nothing leaves it. Writes a JSON timeline to --timeline:
  {"start": epoch, "floodStart": epoch, "end": epoch, "sent": {"normal": n, "flood": n}, "lateMax": seconds}

usage: traffic.py --iface IFACE --timeline FILE [--normal-seconds 20] [--flood-seconds 8]
                  [--normal-pps 300] [--flood-pps 4000] [--flood dns_amplification] [--victim 203.0.113.10]
"""
import argparse
import json
import socket
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

CLIENTS = [f"198.51.100.{i}" for i in range(20, 36)]
REFLECTORS = [f"192.0.2.{i}" for i in range(100, 116)]
ATTACKERS = [f"192.0.2.{i}" for i in range(150, 166)]

# Reflection protocols by their source port, with a typical response size.
AMPLIFICATION = {
    "dns_amplification": (53, 1200),
    "ntp_amplification": (123, 468),
    "memcached_amplification": (11211, 1400),
    "ssdp_amplification": (1900, 320),
    "cldap_amplification": (389, 1400),
    "chargen_amplification": (19, 1000),
    "snmp_amplification": (161, 1400),
    "ws_discovery_amplification": (3702, 1200),
}


def frame(ip_layer):
    return bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / ip_layer)


def normal_frames(victim):
    """One second's worth of shapes of ordinary traffic to a server: web, DNS answers, a little ICMP."""
    frames = []
    for i, client in enumerate(CLIENTS):
        frames.append(frame(IP(src=client, dst=victim) / TCP(sport=40000 + i, dport=443, flags="A") / Raw(b"\x00" * 846)))
        frames.append(frame(IP(src=client, dst=victim) / TCP(sport=40000 + i, dport=443, flags="PA") / Raw(b"\x00" * 400)))
        frames.append(frame(IP(src=client, dst=victim) / UDP(sport=50000 + i, dport=4500) / Raw(b"\x00" * 200)))
    frames.append(frame(IP(src="198.51.100.53", dst=victim) / UDP(sport=53, dport=33000) / Raw(b"\x00" * 120)))
    frames.append(frame(IP(src="198.51.100.40", dst=victim) / TCP(sport=41000, dport=443, flags="S")))
    frames.append(frame(IP(src="198.51.100.41", dst=victim) / ICMP(type=8) / Raw(b"\x00" * 56)))
    return frames


def flood_frames(kind, victim):
    if kind in AMPLIFICATION:
        port, size = AMPLIFICATION[kind]
        return [frame(IP(src=r, dst=victim) / UDP(sport=port, dport=20000 + i) / Raw(b"\x00" * size)) for i, r in enumerate(REFLECTORS)]
    if kind == "udp_flood":
        return [frame(IP(src=a, dst=victim) / UDP(sport=10000 + i, dport=30000 + i) / Raw(b"\x00" * 512)) for i, a in enumerate(ATTACKERS)]
    if kind == "syn_flood":
        return [frame(IP(src=a, dst=victim) / TCP(sport=10000 + i, dport=443, flags="S")) for i, a in enumerate(ATTACKERS)]
    if kind == "icmp_flood":
        return [frame(IP(src=a, dst=victim) / ICMP(type=8) / Raw(b"\x00" * 1000)) for a in ATTACKERS]
    raise SystemExit(f"unknown flood {kind}")


def paced(sock, frames, rate, start, seconds, late):
    """Sends frames round-robin at `rate` per second from `start` for `seconds`; returns how many went out."""
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0.0005:
            time.sleep(delay)
        elif delay < 0:
            late[0] = max(late[0], -delay)
        sock.send(frames[i % len(frames)])
    return total


def ramp(sock, normal, bulk, normal_pps, peak_pps, start, seconds, late):
    """Normal traffic at its rate plus a bulk transfer whose rate grows linearly from 0 to `peak_pps`."""
    sent = 0
    normal_due = bulk_due = start
    end = start + seconds
    while True:
        now = time.time()
        if now >= end:
            return sent
        elapsed = max(now - start, 0.0)
        bulk_rate = max(peak_pps * elapsed / seconds, 1.0)
        due = min(normal_due, bulk_due)
        if due - now > 0.0005:
            time.sleep(due - now)
        elif due < now:
            late[0] = max(late[0], now - due)
        if normal_due <= bulk_due:
            sock.send(normal[sent % len(normal)])
            normal_due += 1 / normal_pps
        else:
            sock.send(bulk)
            bulk_due += 1 / bulk_rate
        sent += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iface", required=True)
    parser.add_argument("--timeline", required=True)
    parser.add_argument("--normal-seconds", type=float, default=20)
    parser.add_argument("--flood-seconds", type=float, default=8)
    parser.add_argument("--normal-pps", type=float, default=300)
    parser.add_argument("--flood-pps", type=float, default=4000)
    parser.add_argument("--flood", default="dns_amplification")
    parser.add_argument("--victim", default="203.0.113.10")
    parser.add_argument("--ramp-bulk-to", type=float, default=0,
                        help="instead of a flood: a backup (full-size TCP segments) ramping from 0 to this rate over --flood-seconds")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    normal = normal_frames(args.victim)
    flood = flood_frames(args.flood, args.victim)

    # Normal traffic and the flood interleave during the attack: one combined schedule per phase.
    late = [0.0]
    start = float(int(time.time()) + 1)
    sent_normal = paced(sock, normal, args.normal_pps, start, args.normal_seconds, late)
    flood_start = start + args.normal_seconds
    if args.ramp_bulk_to > 0:
        bulk = frame(IP(src="198.51.100.60", dst=args.victim) / TCP(sport=873, dport=45000, flags="A") / Raw(b"\x00" * 1400))
        sent_mixed = ramp(sock, normal, bulk, args.normal_pps, args.ramp_bulk_to, flood_start, args.flood_seconds, late)
        with open(args.timeline, "w") as out:
            json.dump({"start": start, "floodStart": flood_start, "end": time.time(),
                       "sent": {"normal": sent_normal, "ramp": sent_mixed}, "lateMax": late[0]}, out)
        return
    mixed = []
    ratio = max(1, round(args.flood_pps / args.normal_pps))
    for i in range(len(flood) * ratio):
        mixed.append(flood[i % len(flood)])
        if i % ratio == 0:
            mixed.append(normal[(i // ratio) % len(normal)])
    sent_mixed = paced(sock, mixed, args.flood_pps + args.normal_pps, flood_start, args.flood_seconds, late)
    end = time.time()
    with open(args.timeline, "w") as out:
        json.dump({"start": start, "floodStart": flood_start, "end": end,
                   "sent": {"normal": sent_normal, "flood": sent_mixed}, "lateMax": late[0]}, out)


if __name__ == "__main__":
    main()
