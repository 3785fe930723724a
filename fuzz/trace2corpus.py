#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""trace2corpus.py - turn recorded conformance traces into seed inputs.

    vu-conform --target-file T --json run.json
    fuzz/trace2corpus.py run.json corpus/

reads every case's trace in run.json (the messages vu-conform sent, as hex,
with the fds described) and writes, per case that sent something:

  vhost-user run: corpus/vhost_backend/trace-<case>  (the sequence target's
                  format: every message as an explicit-size MSG op)
                  corpus/vhost_wire/trace-<case>-<n> (request + its reply)
  vfio-user run:  corpus/vfio_server/trace-<case>    (the command sequence)
                  corpus/vfio_wire/trace-<case>-<n>  (command + its reply)

The input formats are described in fuzz/README.md and at the top of each
target. Identical inputs are written once.
"""
import hashlib
import json
import os
import re
import struct
import sys

MAX_OPS = 24          # fuzz/vhost_backend.c, fuzz/vfio_server.c
MAX_WIRE_PER_CASE = 4
# enum fdk of fuzz/vhost_backend.c
FDK = {'eventfd': 1, 'pipe_r': 2, 'pipe_w': 3, 'pkt_r': 4, 'pkt_w': 5,
       'memfd': 6, 'sealed': 8, 'socket': 9, 'null': 11, 'full': 12,
       'widowed_w': 13, 'guest': 14, 'widowed_r': 15}
MEM_REQUESTS = (5, 37, 38)   # SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG
VHOST_PROTO = 0x9f22b        # what vuc-ref-vhost offers


def fd_kind(text, request):
    """The fdk nibble for the first fd a trace line describes."""
    t = re.split(r',\s*(?![^()]*\))', text or '')[0].strip()
    if t.startswith('memfd') and request in MEM_REQUESTS:
        return FDK['guest']
    if t.startswith('memfd(seal'):
        return FDK['sealed']
    if t.startswith('memfd'):
        return FDK['guest'] if request in MEM_REQUESTS else FDK['memfd']
    if t.startswith('eventfd'):
        return FDK['eventfd']
    if t.startswith('pipe(r'):
        if 'widow' in t:
            return FDK['widowed_r']
        return FDK['pkt_r'] if 'packet' in t else FDK['pipe_r']
    if t.startswith('pipe(w'):
        if 'widow' in t:
            return FDK['widowed_w']
        return FDK['pkt_w'] if 'packet' in t else FDK['pipe_w']
    if t.startswith('socket'):
        return FDK['socket']
    if t.startswith('/dev/full'):
        return FDK['full']
    if t.startswith('/dev/null'):
        return FDK['null']
    return FDK['memfd']


def fd_count(text):
    if not text:
        return 0
    # "eventfd, memfd(4096)": commas inside parentheses do not count
    return len(re.split(r',\s*(?![^()]*\))', text))


def write(dirname, name, data, seen):
    digest = hashlib.sha1(data).hexdigest()
    if digest in seen:
        return
    seen.add(digest)
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, name), 'wb') as f:
        f.write(data)


def vhost(cases, out):
    seen = set()
    for case in cases:
        trace = case.get('trace') or []
        name = 'trace-' + case['id'].replace('/', '_')
        seq = bytearray([0])  # net, one queue pair: the target file's
        ops = wire = 0
        for i, ev in enumerate(trace):
            if ev.get('dir') != 'send' or not ev.get('hex'):
                continue
            raw = bytes.fromhex(ev['hex'])
            if len(raw) < 12:
                continue
            req, flags, size = struct.unpack_from('<III', raw)
            if flags & 0x4 or req > 255:
                continue  # an answer on the back-end channel
            payload = raw[12:12 + min(size, 4096)]
            nfds = min(fd_count(ev.get('fds')), 12)
            f = 0x02 | 0x04
            if flags & 0x8:
                f |= 0x01
            if flags & 0x3 != 1:
                f |= 0x08 | (flags & 3) << 4
            if flags & 0x4:
                f |= 0x40
            if flags & ~0xf:
                f |= 0x80
            if ops < MAX_OPS:
                seq += bytes([0, req, f]) + struct.pack('<H', size & 0xffff)
                seq += bytes([nfds | fd_kind(ev.get('fds'), req) << 4])
                seq += payload + bytes(min(size, 4096) - len(payload))
                ops += 1
            # the wire target: the request, then what came back
            nxt = trace[i + 1] if i + 1 < len(trace) else None
            if wire < MAX_WIRE_PER_CASE:
                data = bytes([min(nfds, 15) << 1])
                data += struct.pack('<Q', VHOST_PROTO) + raw
                if nxt and nxt.get('dir') == 'recv' and nxt.get('hex'):
                    data += bytes.fromhex(nxt['hex'])
                write(os.path.join(out, 'vhost_wire'),
                      '%s-%d' % (name, wire), data, seen)
                wire += 1
        if ops:
            write(os.path.join(out, 'vhost_backend'), name, bytes(seq),
                  seen)


def vfio(cases, out):
    seen = set()
    for case in cases:
        trace = case.get('trace') or []
        name = 'trace-' + case['id'].replace('/', '_')
        seq = bytearray([0])  # no DMA answers written up front
        ops = wire = 0
        for i, ev in enumerate(trace):
            if ev.get('dir') != 'send' or not ev.get('hex'):
                continue
            raw = bytes.fromhex(ev['hex'])
            if len(raw) < 16:
                continue
            _, cmd, size, flags, _ = struct.unpack_from('<HHIII', raw)
            if flags & 0xf:
                continue  # a reply of ours (to a DMA_READ / WRITE)
            payload = raw[16:16 + 1024]
            nfds = min(fd_count(ev.get('fds')), 8)
            f = 0x08
            if flags & 0x10:
                f |= 0x01
            if flags & 0x20:
                f |= 0x02
            kind = 0 if 'eventfd' in (ev.get('fds') or '') else 1
            if ops < MAX_OPS and cmd < 20:
                seq += bytes([cmd, f]) + struct.pack('<H', len(payload))
                seq += bytes([nfds | kind << 4]) + payload
                ops += 1
            nxt = trace[i + 1] if i + 1 < len(trace) else None
            if wire < MAX_WIRE_PER_CASE:
                data = bytes([min(nfds, 15) << 3]) + raw
                if nxt and nxt.get('dir') == 'recv' and nxt.get('hex'):
                    data += bytes.fromhex(nxt['hex'])
                write(os.path.join(out, 'vfio_wire'),
                      '%s-%d' % (name, wire), data, seen)
                wire += 1
        if ops:
            write(os.path.join(out, 'vfio_server'), name, bytes(seq), seen)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: trace2corpus.py RUN.json CORPUS_DIR')
    with open(sys.argv[1]) as f:
        run = json.load(f)
    cases = run.get('cases', [])
    if run.get('protocol', '').startswith('vfio') or any(
            c['id'].startswith('vfio-user/') for c in cases):
        vfio([c for c in cases if c['id'].startswith('vfio-user/')],
             sys.argv[2])
    vhost([c for c in cases if c['id'].startswith('vhost-user/')],
          sys.argv[2])


if __name__ == '__main__':
    main()
