"""A small safetensors reader and writer, Python standard library only.

Layout: 8-byte little-endian header length N, N bytes of JSON
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the data.
`read(path)` gives `(header dict, data bytes)`; `write(tensors, metadata)` packs a list of
`(name, dtype, shape, raw bytes)` contiguously in that order.
"""

import json
import struct


def read(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def tensors(path):
    """The tensors of a file as `[(name, dtype, shape, raw bytes)]`, in data order."""
    header, data = read(path)
    items = [(k, v) for k, v in header.items() if k != "__metadata__"]
    items.sort(key=lambda kv: kv[1]["data_offsets"][0])
    return [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in items]


def header_bytes(header_json):
    """A file's first bytes for header text `header_json` (padded with spaces to 8 bytes)."""
    h = header_json.encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h


def write(items, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return header_bytes(json.dumps(header)) + data


def f32(values):
    return struct.pack(f"<{len(values)}f", *values)
