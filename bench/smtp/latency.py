#!/usr/bin/env python3
"""Where an SMTP session's time goes, from a packet capture of a benchmark
run: for every connection, the time from each client packet to the
server's reply (by reply) and from each reply to the client's next packet
(the load generator's own time). No Herald code involved, so it measures
Herald and Postfix alike.

    tcpdump -i lo -s 128 -w /tmp/cap.pcap "tcp port PORT" &   # during a run
    bench/smtp/latency.py /tmp/cap.pcap PORT

Reads the classic pcap format (Ethernet or Linux cooked captures, IPv4)
with the standard library only. Not part of make check.
"""
import collections
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic not in (0xA1B2C3D4, 0xA1B23C4D):
            sys.exit(f"{path}: not a little-endian pcap file")
        scale = 1e9 if magic == 0xA1B23C4D else 1e6
        link = struct.unpack("<I", head[20:24])[0]
        off = {1: 14, 113: 16}.get(link)
        if off is None:
            sys.exit(f"{path}: link type {link} not supported")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _ = struct.unpack("<IIII", rec)
            data = f.read(incl)
            yield sec + frac / scale, data[off:]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    port = int(sys.argv[2])
    last = {}
    waits = collections.defaultdict(list)
    for t, ip in packets(sys.argv[1]):
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:]
        if len(tcp) < 20:
            continue
        sport, dport = struct.unpack(">HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        paylen = struct.unpack(">H", ip[2:4])[0] - ihl - doff
        if paylen <= 0:
            continue
        text = tcp[doff:doff + 9].decode("latin-1").replace("\r", " ") \
            .replace("\n", " ")
        if sport == port:
            conn, who = dport, "S"
        elif dport == port:
            conn, who = sport, "C"
        else:
            continue
        prev = last.get(conn)
        if prev is not None and prev[0] != who:
            if who == "S":
                key = f"server: {text[:9]!r} after client {prev[2]!r}"
            else:
                key = f"client: next after server {prev[2]!r}"
            waits[key].append(t - prev[1])
        if who == "C" and prev is not None and prev[0] == "C":
            continue    # a message in several packets: time its first
        last[conn] = (who, t, text[:4])
    rows = sorted(waits.items(), key=lambda kv: -sum(kv[1]))
    for key, v in rows:
        if len(v) < 20:
            continue
        v.sort()
        print(f"{key:48s} n={len(v):6d} mean={sum(v) / len(v) * 1e6:6.0f}us"
              f" p50={v[len(v) // 2] * 1e6:6.0f} p90="
              f"{v[int(len(v) * 0.9)] * 1e6:6.0f} total={sum(v):.2f}s")


if __name__ == "__main__":
    main()
