#!/usr/bin/python3
"""Scenario traffic for detection tests: a normal mix, then a flood starting at a known second.

Frames are built once with scapy and sent on a raw socket, each at its own time measured from one absolute start
(tcpreplay at 1x drifted about 8 % late here, which moves the flood's start). Run it inside a network namespace
the test created; nothing leaves it. Writes a JSON timeline to --timeline:
  {"start": epoch, "floodStart": epoch, "floodEnd": epoch, "end": epoch, "pulses": [[on, off], ...],
   "sent": {"normal": n, "flood": n}, "lateMax": seconds}

Floods: every reflection in AMPLIFICATION (answers as large as real ones: DNS and memcached answers are fragmented,
so an exporter sees one packet with the reflection's port and fragments without ports), udp_flood, syn_flood,
icmp_flood, carpet_bombing (a UDP flood spread over 64 addresses of the victim's /24, each under a host's floor),
multi_vector (DNS amplification and a SYN flood on one host at once). --pulse-on/--pulse-off send the flood in
bursts (pulse waves). A victim with a colon is IPv6: the normal mix and the flood are IPv6 too.

usage: traffic.py --iface IFACE --timeline FILE [--normal-seconds 20] [--flood-seconds 8]
                  [--normal-pps 300] [--flood-pps 4000] [--flood dns_amplification] [--victim 203.0.113.10]
                  [--pulse-on 5 --pulse-off 10]
"""
import argparse
import json
import socket
import time

from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, fragment6, IPv6ExtHdrFragment
from scapy.layers.l2 import Ether
from scapy.packet import Raw

CLIENTS = [f"198.51.100.{i}" for i in range(20, 36)]
REFLECTORS = [f"192.0.2.{i}" for i in range(100, 116)]
ATTACKERS = [f"192.0.2.{i}" for i in range(150, 166)]
CLIENTS6 = [f"2001:db8:100::{i:x}" for i in range(0x20, 0x30)]
ATTACKERS6 = [f"2001:db8:2::{i:x}" for i in range(0x50, 0x60)]
CARPET_HOSTS = 64

# Reflection protocols by their source port, with a typical response size (payload bytes). DNS ANY and memcached
# answers are larger than an Ethernet MTU and arrive fragmented.
AMPLIFICATION = {
    "dns_amplification": (53, 3200),
    "ntp_amplification": (123, 468),
    "memcached_amplification": (11211, 8000),
    "ssdp_amplification": (1900, 320),
    "cldap_amplification": (389, 1400),
    "chargen_amplification": (19, 1000),
    "snmp_amplification": (161, 1400),
    "ws_discovery_amplification": (3702, 1200),
}


def frame(ip_layer):
    return bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / ip_layer)


def frames(ip_layer):
    """The frames of one IP packet, fragmented as a router would at an MTU of 1,500 bytes."""
    if IPv6 in ip_layer:
        if len(ip_layer) <= 1500:
            return [frame(ip_layer)]
        packet = ip_layer[IPv6]
        return [frame(f) for f in fragment6(IPv6(src=packet.src, dst=packet.dst) / IPv6ExtHdrFragment(id=len(packet) & 0xFFFF) / packet.payload, 1500)]
    return [frame(f) for f in fragment(ip_layer, fragsize=1480)] if len(ip_layer) > 1500 else [frame(ip_layer)]


def normal_frames(victim):
    """One second's worth of shapes of ordinary traffic to a server: web, DNS answers, a little ICMP."""
    if ":" in victim:
        ip, clients, dns, syn, ping = IPv6, CLIENTS6, "2001:db8:100::53", "2001:db8:100::40", "2001:db8:100::41"
        echo = ICMPv6EchoRequest()
    else:
        ip, clients, dns, syn, ping = IP, CLIENTS, "198.51.100.53", "198.51.100.40", "198.51.100.41"
        echo = ICMP(type=8)
    result = []
    for i, client in enumerate(clients):
        result.append(frame(ip(src=client, dst=victim) / TCP(sport=40000 + i, dport=443, flags="A") / Raw(b"\x00" * 846)))
        result.append(frame(ip(src=client, dst=victim) / TCP(sport=40000 + i, dport=443, flags="PA") / Raw(b"\x00" * 400)))
        result.append(frame(ip(src=client, dst=victim) / UDP(sport=50000 + i, dport=4500) / Raw(b"\x00" * 200)))
    result.append(frame(ip(src=dns, dst=victim) / UDP(sport=53, dport=33000) / Raw(b"\x00" * 120)))
    result.append(frame(ip(src=syn, dst=victim) / TCP(sport=41000, dport=443, flags="S")))
    result.append(frame(ip(src=ping, dst=victim) / echo / Raw(b"\x00" * 56)))
    return result


def flood_frames(kind, victim):
    if ":" in victim:
        if kind == "udp_flood":
            return [frame(IPv6(src=a, dst=victim) / UDP(sport=10000 + i, dport=30000 + i) / Raw(b"\x00" * 512)) for i, a in enumerate(ATTACKERS6)]
        if kind == "syn_flood":
            return [frame(IPv6(src=a, dst=victim) / TCP(sport=10000 + i, dport=443, flags="S")) for i, a in enumerate(ATTACKERS6)]
        raise SystemExit(f"no IPv6 flood {kind}")
    if kind in AMPLIFICATION:
        port, size = AMPLIFICATION[kind]
        return [f for i, r in enumerate(REFLECTORS) for f in frames(IP(src=r, dst=victim, id=1000 + i) / UDP(sport=port, dport=20000 + i) / Raw(b"\x00" * size))]
    if kind == "udp_flood":
        return [frame(IP(src=a, dst=victim) / UDP(sport=10000 + i, dport=30000 + i) / Raw(b"\x00" * 512)) for i, a in enumerate(ATTACKERS)]
    if kind == "syn_flood":
        return [frame(IP(src=a, dst=victim) / TCP(sport=10000 + i, dport=443, flags="S")) for i, a in enumerate(ATTACKERS)]
    if kind == "icmp_flood":
        return [frame(IP(src=a, dst=victim) / ICMP(type=8) / Raw(b"\x00" * 1000)) for a in ATTACKERS]
    if kind == "carpet_bombing":
        network = victim.rsplit(".", 1)[0]
        return [frame(IP(src=ATTACKERS[h % len(ATTACKERS)], dst=f"{network}.{20 + h}") / UDP(sport=10000 + h, dport=30000 + h) / Raw(b"\x00" * 512))
                for h in range(CARPET_HOSTS)]
    if kind == "multi_vector":
        # As many reflected packets as SYNs: both vectors strong, one attack.
        reflected = flood_frames("dns_amplification", victim)
        syns = flood_frames("syn_flood", victim)
        return [f for pair in zip(reflected, syns * (len(reflected) // len(syns) + 1)) for f in pair]
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
    parser.add_argument("--pulse-on", type=float, default=0, help="pulse waves: seconds of flood in each wave (0: one flood)")
    parser.add_argument("--pulse-off", type=float, default=0, help="pulse waves: seconds of normal traffic between waves")
    parser.add_argument("--after-seconds", type=float, default=0, help="normal traffic after the flood")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    normal = normal_frames(args.victim)

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
    flood = flood_frames(args.flood, args.victim)
    mixed = []
    ratio = max(1, round(args.flood_pps / args.normal_pps))
    for i in range(len(flood) * ratio):
        mixed.append(flood[i % len(flood)])
        if i % ratio == 0:
            mixed.append(normal[(i // ratio) % len(normal)])
    pulses = []
    sent_flood = 0
    at = flood_start
    on = args.pulse_on if args.pulse_on > 0 else args.flood_seconds
    while at < flood_start + args.flood_seconds - 1e-6:
        length = min(on, flood_start + args.flood_seconds - at)
        sent_flood += paced(sock, mixed, args.flood_pps + args.normal_pps, at, length, late)
        pulses.append([at, at + length])
        at += length
        if args.pulse_on > 0 and at < flood_start + args.flood_seconds - 1e-6:
            gap = min(args.pulse_off, flood_start + args.flood_seconds - at)
            sent_normal += paced(sock, normal, args.normal_pps, at, gap, late)
            at += gap
    flood_end = pulses[-1][1] if pulses else flood_start
    if args.after_seconds > 0:
        sent_normal += paced(sock, normal, args.normal_pps, at, args.after_seconds, late)
    end = time.time()
    with open(args.timeline, "w") as out:
        json.dump({"start": start, "floodStart": flood_start, "floodEnd": flood_end, "end": end, "pulses": pulses,
                   "sent": {"normal": sent_normal, "flood": sent_flood}, "lateMax": late[0]}, out)


if __name__ == "__main__":
    main()
