#!/usr/bin/python3
"""Writes the datagrams the load harness sends, as pcap files of UDP frames to 127.0.0.1.

  netflow5.pcap  2000 NetFlow v5 datagrams of 29 records each (the size routers fill)
  netflow9.pcap  one template datagram, then 2000 NetFlow v9 data datagrams of 25 IPv4 records each
  sflow.pcap     2000 sFlow v5 datagrams of 8 flow samples, each with a 128-byte raw header

Every datagram holds the same number of records, so a collector that only counts records still tells how many
datagrams it received. Addresses come from documentation ranges; the content is fixed by a seed.

usage: make-datagrams.py OUTPUT_DIR
"""
import os
import random
import struct
import sys

DATAGRAMS = 2000
V5_RECORDS = 29
V9_RECORDS = 25
SFLOW_SAMPLES = 8


def udp_frame(payload, source_port=40000, destination_port=2055):
    udp = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp


def write_pcap(path, payloads):
    with open(path, "wb") as handle:
        handle.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, payload in enumerate(payloads):
            frame = udp_frame(payload)
            handle.write(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame)))
            handle.write(frame)


def netflow5(rng, sequence):
    header = struct.pack("!HHIIIIBBH", 5, V5_RECORDS, 3_600_000, 1_700_000_000, 0, sequence * V5_RECORDS, 0, 0, 0)
    records = b""
    for _ in range(V5_RECORDS):
        records += struct.pack(
            "!4s4s4sHHIIIIHHBBBBHHBBH",
            bytes([198, 51, 100, rng.randrange(1, 255)]), bytes([203, 0, 113, rng.randrange(1, 255)]), bytes(4),
            1, 2, rng.randrange(1, 100), rng.randrange(64, 150_000), 3_590_000, 3_599_000,
            rng.randrange(1024, 65535), rng.choice([53, 80, 443, 123]), 0, 0x18, rng.choice([6, 17]), 0, 0, 0, 24, 24, 0)
    return header + records


V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (10, 2), (14, 2), (2, 4), (1, 4), (22, 4), (21, 4)]


def netflow9_template(sequence):
    fields = b"".join(struct.pack("!HH", t, l) for t, l in V9_FIELDS)
    template = struct.pack("!HH", 256, len(V9_FIELDS)) + fields
    flowset = struct.pack("!HH", 0, 4 + len(template)) + template
    return struct.pack("!HHIIII", 9, 1, 3_600_000, 1_700_000_000, sequence, 0) + flowset


def netflow9_data(rng, sequence):
    records = b""
    for _ in range(V9_RECORDS):
        records += struct.pack(
            "!4s4sHHBBHHIIII", bytes([198, 51, 100, rng.randrange(1, 255)]), bytes([203, 0, 113, rng.randrange(1, 255)]),
            rng.randrange(1024, 65535), 443, 6, 0x18, 1, 2, rng.randrange(1, 100), rng.randrange(64, 150_000), 3_590_000, 3_599_000)
    padding = (4 - len(records) % 4) % 4
    flowset = struct.pack("!HH", 256, 4 + len(records) + padding) + records + bytes(padding)
    return struct.pack("!HHIIII", 9, V9_RECORDS, 3_600_000, 1_700_000_000, sequence, 0) + flowset


def sflow(rng, sequence):
    samples = b""
    for s in range(SFLOW_SAMPLES):
        tcp = struct.pack("!HHIIBBHHH", rng.randrange(1024, 65535), 443, 1, 0, 0x50, 0x18, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1400, 0, 0x4000, 64, 6, 0, bytes([198, 51, 100, rng.randrange(1, 255)]), bytes([203, 0, 113, rng.randrange(1, 255)]))
        frame = (b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + bytes(128))[:128]
        header = struct.pack("!IIII", 1, 1418, 4, len(frame)) + frame
        record = struct.pack("!II", 1, len(header)) + header
        body = struct.pack("!IIIIIIII", sequence * SFLOW_SAMPLES + s, 7, 1000, (sequence * SFLOW_SAMPLES + s) * 1000, 0, 7, 9, 1) + record
        samples += struct.pack("!II", 1, len(body)) + body
    return struct.pack("!II4sIIII", 5, 1, bytes([192, 0, 2, 1]), 0, sequence, 3_600_000, SFLOW_SAMPLES) + samples


def main():
    output = sys.argv[1]
    os.makedirs(output, exist_ok=True)
    rng = random.Random(2026)
    write_pcap(os.path.join(output, "netflow5.pcap"), [netflow5(rng, i) for i in range(DATAGRAMS)])
    write_pcap(os.path.join(output, "netflow9.pcap"), [netflow9_template(0)] + [netflow9_data(rng, i + 1) for i in range(DATAGRAMS)])
    write_pcap(os.path.join(output, "sflow.pcap"), [sflow(rng, i) for i in range(DATAGRAMS)])


if __name__ == "__main__":
    main()
