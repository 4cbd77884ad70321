"""A small GGUF reader and writer (versions 2 and 3), Python standard library only.

`Gguf.read(path)` parses the header, the metadata and the tensor table and keeps each tensor's
raw bytes; `Gguf.to_bytes()` writes it back (offsets recomputed, data aligned). Mutations edit
`kv` (a list of `(key, type, value)` so duplicate keys can be made) and `tensors` (a list of
`Tensor`), or patch the written bytes directly.
"""

import struct
from dataclasses import dataclass

# Metadata value types (gguf.md).
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
           BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
# ggml tensor types used by the fixtures: id → (block size in values, bytes per block).
TYPES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 8: (32, 34), 30: (1, 2)}
ALIGN = 32


@dataclass
class Tensor:
    name: str
    shape: list  # ne, innermost first
    ty: int
    data: bytes
    offset: int = None  # None: placed by to_bytes; an int forces this relative offset


class _Reader:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def take(self, n):
        out = self.b[self.pos:self.pos + n]
        if len(out) != n:
            raise ValueError("truncated")
        self.pos += n
        return out

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.unpack("<Q")).decode("utf-8")

    def value(self, ty):
        if ty in _SCALAR:
            return self.unpack(_SCALAR[ty])
        if ty == STRING:
            return self.string()
        if ty == ARRAY:
            ety, n = self.unpack("<I"), self.unpack("<Q")
            return (ety, [self.value(ety) for _ in range(n)])
        raise ValueError(f"metadata type {ty}")


class Raw(bytes):
    """A metadata value written as these bytes verbatim (for counts and nesting no value has)."""


def _value_bytes(ty, v):
    if isinstance(v, Raw):
        return bytes(v)
    if ty in _SCALAR:
        return struct.pack(_SCALAR[ty], v)
    if ty == STRING:
        b = v.encode("utf-8") if isinstance(v, str) else v
        return struct.pack("<Q", len(b)) + b
    if ty == ARRAY:
        ety, items = v
        return struct.pack("<IQ", ety, len(items)) + b"".join(_value_bytes(ety, x) for x in items)
    raise ValueError(f"metadata type {ty}")


def tensor_nbytes(shape, ty):
    block, size = TYPES[ty]
    n = 1
    for d in shape:
        n *= d
    return n // block * size


class Gguf:
    def __init__(self, version, kv, tensors):
        self.version, self.kv, self.tensors = version, kv, tensors

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            b = f.read()
        r = _Reader(b)
        assert r.take(4) == b"GGUF"
        version, n_tensors, n_kv = r.unpack("<I"), r.unpack("<Q"), r.unpack("<Q")
        kv = []
        for _ in range(n_kv):
            key, ty = r.string(), r.unpack("<I")
            kv.append((key, ty, r.value(ty)))
        infos = []
        for _ in range(n_tensors):
            name = r.string()
            shape = [r.unpack("<Q") for _ in range(r.unpack("<I"))]
            infos.append((name, shape, r.unpack("<I"), r.unpack("<Q")))
        start = -(-r.pos // ALIGN) * ALIGN
        tensors = [Tensor(n, s, t, b[start + o:start + o + tensor_nbytes(s, t)]) for n, s, t, o in infos]
        return Gguf(version, kv, tensors)

    def get(self, key):
        return next(v for k, _, v in self.kv if k == key)

    def set(self, key, ty, value):
        """Replaces the value (and type) of `key`, or appends it."""
        for i, (k, _, _) in enumerate(self.kv):
            if k == key:
                self.kv[i] = (key, ty, value)
                return
        self.kv.append((key, ty, value))

    def remove(self, key):
        self.kv = [e for e in self.kv if e[0] != key]

    def tensor(self, name):
        return next(t for t in self.tensors if t.name == name)

    def to_bytes(self):
        head, data = self.parts()
        return head + data

    def parts(self):
        """The header (padded to the alignment) and the data section, as written."""
        head = b"GGUF" + struct.pack("<IQQ", self.version, len(self.tensors), len(self.kv))
        for key, ty, v in self.kv:
            kb = key.encode("utf-8") if isinstance(key, str) else key
            head += struct.pack("<Q", len(kb)) + kb + struct.pack("<I", ty) + _value_bytes(ty, v)
        data, offsets = b"", []
        for t in self.tensors:
            data += b"\0" * (-len(data) % ALIGN)
            offsets.append(len(data) if t.offset is None else t.offset)
            data += t.data
        for t, off in zip(self.tensors, offsets):
            nb = t.name.encode("utf-8") if isinstance(t.name, str) else t.name
            head += struct.pack("<Q", len(nb)) + nb + struct.pack("<I", len(t.shape))
            head += b"".join(struct.pack("<Q", d) for d in t.shape) + struct.pack("<IQ", t.ty, off)
        head += b"\0" * (-len(head) % ALIGN)
        return head, data
