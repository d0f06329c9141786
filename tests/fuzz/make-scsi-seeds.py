#!/usr/bin/env python3
"""Seeds for fuzz-virtio-scsi: well-formed guest RAM images (the layout
fuzz-virtio-scsi.c expects) holding real requests: READ(10), WRITE(10),
INQUIRY VPD, REPORT LUNS on each queue, a TMF and an AN query on the
control queue, an event buffer. Usage: make-scsi-seeds.py DIR"""
import os
import struct
import sys

NEXT, WRITE = 1, 2


def ram_image(chains_by_queue, payloads, cdb_size=32, sense_size=96, flags=0):
    ram = bytearray(64 << 10)
    for q, chains in chains_by_queue.items():
        base = 0x1000 * q
        d = 0
        heads = []
        for chain in chains:
            heads.append(d)
            for i, (addr, length, write) in enumerate(chain):
                last = i == len(chain) - 1
                f = (0 if last else NEXT) | (WRITE if write else 0)
                struct.pack_into("<QIHH", ram, base + 16 * d, addr, length, f, 0 if last else d + 1)
                d += 1
        struct.pack_into("<HH", ram, base + 0x100, 0, len(heads))
        for i, h in enumerate(heads):
            struct.pack_into("<H", ram, base + 0x104 + 2 * i, h)
    for addr, data in payloads:
        ram[addr:addr + len(data)] = data
    return struct.pack("<IIB", cdb_size, sense_size, flags) + bytes(ram)


def cmd(lun, cdb, cdb_size=32):
    return bytes([1, 0, 0x40, lun, 0, 0, 0, 0]) + struct.pack("<QBBB", 7, 0, 0, 0) + cdb.ljust(cdb_size, b"\0")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "read10": ({2: [[(0x8000, 51, 0), (0x9000, 108, 1), (0xa000, 1024, 1)]]},
                   [(0x8000, cmd(0, bytes([0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0])))]),
        "write10": ({2: [[(0x8000, 51, 0), (0xa000, 512, 0), (0x9000, 108, 1)]]},
                    [(0x8000, cmd(0, bytes([0x2a, 0, 0, 0, 0, 3, 0, 0, 1, 0])))]),
        "vpd-luns": ({2: [[(0x8000, 51, 0), (0x9000, 108, 1), (0xa000, 255, 1)],
                          [(0x8100, 51, 0), (0x9100, 108, 1), (0xb000, 64, 1)]]},
                     [(0x8000, cmd(0, bytes([0x12, 1, 0x83, 0, 255, 0]))),
                      (0x8100, cmd(2, bytes([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0])))]),
        "control": ({0: [[(0x8000, 24, 0), (0x9000, 1, 1)], [(0x8100, 16, 0), (0x9100, 8, 1)]],
                     1: [[(0xc000, 16, 1)]]},
                    [(0x8000, struct.pack("<II", 0, 5) + bytes([1, 0, 0x40, 0, 0, 0, 0, 0]) + struct.pack("<Q", 7)),
                     (0x8100, struct.pack("<I", 1) + bytes([1, 0, 0x40, 0, 0, 0, 0, 0]) + struct.pack("<I", 0xff))]),
    }
    for name, (chains, payloads) in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(ram_image(chains, payloads))


main()
