"""Byte-level helpers for the PyTorch checkpoint fixtures (imported by generate.py).

Nothing here imports or runs a pickle: pickles are assembled from opcodes and inspected with
pickletools, which only disassembles.

  TorchZipWriter     writes zip archives laid out exactly as torch.save's PyTorchStreamWriter
                     (caffe2/serialize/inline_container.cc + miniz, torch 2.13): entries stored,
                     every record's data 64-byte aligned by an "FB" extra field padded with 'Z',
                     local headers with zero CRC/sizes and flag 0x0808 (data descriptor + UTF-8),
                     a 16-byte data descriptor after each non-empty record (an empty record has
                     flag 0x0800 and no descriptor), a central directory without
                     extras, then a ZIP64 end record, a ZIP64 locator and the classic end record.
                     generate.py checks that it reproduces torch.save's own files byte for byte,
                     and also uses it (with deliberate damage) for Fixtures/malformed/.
  normalize_legacy   makes a legacy (_use_new_zipfile_serialization=False) file deterministic:
                     torch keys its storages by str(storage._cdata), a heap address, so the raw
                     file changes from run to run.  The keys are renamed "0", "1", ... in order of
                     first appearance in the object pickle, and the key list and the storage
                     records are re-sorted as torch sorts them (string order).  Nothing else
                     changes; generate.py checks that torch.load reads the result back exactly.
  P                  a tiny pickle assembler (one function per opcode used).
  deflate_zeros      a hand-built DEFLATE stream (one dynamic-Huffman block) of 1 + 258*k zero
                     bytes, 2 bits per 258 bytes: deterministic on every machine, unlike zlib's
                     output, which may change with the zlib build (zlib vs zlib-ng).
"""

import io
import pickle
import pickletools
import struct
import zlib

ALIGNMENT = 64  # torch.serialization.config.save.storage_alignment default (kFieldAlignment)


# --------------------------------------------------------------------------
# zip, as torch writes it
# --------------------------------------------------------------------------

def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


class TorchZipWriter:
    """Zip archive in PyTorchStreamWriter's layout; every field can be overridden to damage it.

    add() writes one local record and returns a dict describing it (its header offset, data
    offset and the fields that go to the central directory); the caller may edit that dict or
    the buffer before finish() writes the central directory from the dicts.
    """

    def __init__(self):
        self.buf = bytearray()
        self.records = []

    def add(self, name, data, *, method=0, usize=None, crc=None, flags=0x0808, descriptor=True,
            local_name=None, local_sizes=None, align=True):
        """name: archive path; data: the bytes stored (the raw deflate stream for method 8).
        usize/crc: declared uncompressed size and CRC (default: those of `data`).
        descriptor=False writes CRC and sizes into the local header instead (flag bit 3 clear);
        local_sizes=(csize, usize) then overrides the sizes written there.
        local_name: a different name in the local header than in the central directory."""
        offset = len(self.buf)
        lname = (local_name if local_name is not None else name).encode()
        usize = len(data) if usize is None else usize
        crc = crc32(data) if crc is None else crc
        if not data and usize == 0:
            descriptor = False  # miniz writes an empty record without a data descriptor (flag 0x0800)
        if not descriptor:
            flags &= ~0x0008
        if align:
            start = offset + 30 + len(lname) + 4
            pad = (ALIGNMENT - start % ALIGNMENT) % ALIGNMENT
            extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        else:
            extra = b""
        if descriptor:
            lcrc, lcs, lus = 0, 0, 0
        else:
            lcs, lus = local_sizes if local_sizes is not None else (len(data), usize)
            lcrc = crc
        self.buf += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, flags, method, 0, 0, lcrc, lcs, lus,
                                len(lname), len(extra))
        self.buf += lname + extra
        data_offset = len(self.buf)
        self.buf += data
        if descriptor:
            self.buf += struct.pack("<IIII", 0x08074B50, crc, len(data), usize)
        record = {"name": name, "offset": offset, "data_offset": data_offset, "crc": crc,
                  "csize": len(data), "usize": usize, "method": method, "flags": flags}
        self.records.append(record)
        return record

    def finish(self, *, entry_count=None, zip64_entry_count=None, trailing=b""):
        """Central directory + ZIP64 end record + locator + end record (torch always writes
        the ZIP64 pair).  entry_count / zip64_entry_count override the counts written."""
        cd_offset = len(self.buf)
        for r in self.records:
            name = r["name"].encode()
            self.buf += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, r["flags"], r["method"], 0, 0,
                                    r["crc"], r["csize"], r["usize"], len(name), 0, 0, 0, 0, 0, r["offset"])
            self.buf += name
        cd_size = len(self.buf) - cd_offset
        n = len(self.records)
        n64 = n if zip64_entry_count is None else zip64_entry_count
        n32 = n if entry_count is None else entry_count
        zip64_offset = len(self.buf)
        self.buf += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x002D, 0, 0, n64, n64, cd_size, cd_offset)
        self.buf += struct.pack("<IIQI", 0x07064B50, 0, zip64_offset, 1)
        self.buf += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n32, n32, cd_size, cd_offset, 0)
        self.buf += trailing
        return bytes(self.buf)


def zip_entries(data: bytes):
    """(name, bytes) of every entry of a stored zip, in file order (Python's zipfile)."""
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def torch_zip(entries) -> bytes:
    """A zip of (name, bytes) entries in torch's layout."""
    w = TorchZipWriter()
    for name, blob in entries:
        w.add(name, blob)
    return w.finish()


def describe_zip(data: bytes):
    """Facts about a torch zip for the report: names, alignment of every record, CRCs."""
    import zipfile
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for i in z.infolist():
            n, m = struct.unpack("<HH", data[i.header_offset + 26:i.header_offset + 30])
            start = i.header_offset + 30 + n + m
            out.append({"name": i.filename, "size": i.file_size, "method": i.compress_type,
                        "data_offset": start, "aligned64": start % 64 == 0, "crc": f"{i.CRC:08x}",
                        "flags": f"{i.flag_bits:#06x}"})
    return out


# --------------------------------------------------------------------------
# legacy format
# --------------------------------------------------------------------------

def split_legacy(data: bytes):
    """The four leading pickles of a legacy file as (start, end) and the offset after them."""
    f = io.BytesIO(data)
    spans = []
    for _ in range(5):
        start = f.tell()
        for _op in pickletools.genops(f):
            pass
        spans.append((start, f.tell()))
    return spans, f.tell()


def normalize_legacy(data: bytes, element_size_by_key: dict) -> bytes:
    """Renames the heap-address storage keys of a legacy file to "0", "1", ... (see module doc).

    element_size_by_key: old key (str(storage._cdata)) -> element size of the dtype torch saved
    the storage as, needed to find where each raw storage record ends."""
    spans, data_start = split_legacy(data)
    (m0, m1), (p0, p1), (s0, s1), (o0, o1), (k0, k1) = spans
    key_list = [arg for op, arg, _ in pickletools.genops(data[k0:k1]) if op.name == "BINUNICODE"]
    assert pickle.dumps(key_list, protocol=2) == data[k0:k1]
    assert sorted(key_list) == key_list and set(key_list) == set(element_size_by_key), key_list

    # New names by first appearance in the object pickle.
    rename = {}
    obj = data[o0:o1]
    for op, arg, _ in pickletools.genops(obj):
        if op.name == "BINUNICODE" and arg in element_size_by_key and arg not in rename:
            rename[arg] = str(len(rename))
    assert set(rename) == set(key_list)

    # Rewrite the object pickle: only BINUNICODE ops whose text is a key change.
    ops = list(pickletools.genops(obj))
    out = bytearray()
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(obj)
        if op.name == "BINUNICODE" and arg in rename:
            new = rename[arg].encode()
            out += b"X" + struct.pack("<I", len(new)) + new
        else:
            out += obj[pos:end]
    new_obj = bytes(out)

    # Raw storages, in the old list's order: int64 element count, then the bytes.
    records = {}
    pos = data_start
    for key in key_list:
        (count,) = struct.unpack("<q", data[pos:pos + 8])
        size = count * element_size_by_key[key]
        records[rename[key]] = data[pos:pos + 8 + size]
        pos += 8 + size
    assert pos == len(data), (pos, len(data))

    new_keys = sorted(records)  # torch: sorted(serialized_storages.keys()), string order
    # The key list is a list of str: pickling it is what torch does (protocol 2).
    key_pickle = pickle.dumps(new_keys, protocol=2)
    return data[:o0] + new_obj + key_pickle + b"".join(records[k] for k in new_keys)


# --------------------------------------------------------------------------
# pickle assembler
# --------------------------------------------------------------------------

class P:
    """One static method per opcode (pickletools names in the comments)."""

    @staticmethod
    def proto(n):  # PROTO
        return b"\x80" + bytes([n])

    @staticmethod
    def stop():  # STOP
        return b"."

    @staticmethod
    def mark():  # MARK
        return b"("

    @staticmethod
    def glob(module, name):  # GLOBAL
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    @staticmethod
    def unicode(s):  # BINUNICODE
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    @staticmethod
    def short_unicode(s):  # SHORT_BINUNICODE (protocol 4)
        b = s.encode()
        return b"\x8c" + bytes([len(b)]) + b

    @staticmethod
    def int(n):  # BININT1 / BININT2 / BININT / LONG1
        if 0 <= n < 256:
            return b"K" + bytes([n])
        if 0 <= n < 65536:
            return b"M" + struct.pack("<H", n)
        if -2**31 <= n < 2**31:
            return b"J" + struct.pack("<i", n)
        raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(raw)]) + raw

    @staticmethod
    def tuple(*items):  # EMPTY_TUPLE / TUPLE1-3 / MARK ... TUPLE
        n = len(items)
        body = b"".join(items)
        if n == 0:
            return b")"
        if n <= 3:
            return body + {1: b"\x85", 2: b"\x86", 3: b"\x87"}[n]
        return b"(" + body + b"t"

    @staticmethod
    def empty_list():  # EMPTY_LIST
        return b"]"

    @staticmethod
    def empty_dict():  # EMPTY_DICT
        return b"}"

    @staticmethod
    def binput(i):  # BINPUT / LONG_BINPUT
        return b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)

    @staticmethod
    def binget(i):  # BINGET / LONG_BINGET
        return b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)

    NONE = b"N"
    FALSE = b"\x89"
    TRUE = b"\x88"
    REDUCE = b"R"
    BUILD = b"b"
    NEWOBJ = b"\x81"
    BINPERSID = b"Q"
    SETITEM = b"s"
    SETITEMS = b"u"
    APPEND = b"a"
    APPENDS = b"e"


def tensor_ops(storage_key, numel, size, stride, *, offset=0, storage_class=("torch", "FloatStorage"),
               rebuild=("torch._utils", "_rebuild_tensor_v2"), storage_tag=None):
    """Opcodes pushing one tensor exactly as torch.save writes it (protocol 2, no memo):
    rebuild(BINPERSID ('storage', class, key, 'cpu', numel), offset, size, stride, False,
    OrderedDict()).  storage_tag overrides the persistent-id tuple's first field."""
    pid = P.tuple(P.unicode(storage_tag or "storage"), P.glob(*storage_class), P.unicode(storage_key),
                  P.unicode("cpu"), P.int(numel))
    args = P.tuple(pid + P.BINPERSID, P.int(offset), P.tuple(*[P.int(s) for s in size]),
                   P.tuple(*[P.int(s) for s in stride]), P.FALSE,
                   P.glob("collections", "OrderedDict") + P.tuple() + P.REDUCE)
    return P.glob(*rebuild) + args + P.REDUCE


def ordered_dict_ops(items):
    """OrderedDict() then SETITEMS of (key, value-ops) pairs."""
    out = P.glob("collections", "OrderedDict") + P.tuple() + P.REDUCE
    if items:
        out += P.mark() + b"".join(P.unicode(k) + v for k, v in items) + P.SETITEMS
    return out


def check_disassembles(pickle_bytes: bytes):
    """Disassembles without executing (raises on a malformed stream)."""
    pickletools.dis(pickle_bytes, out=io.StringIO())


# --------------------------------------------------------------------------
# deflate
# --------------------------------------------------------------------------

class _BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, value, count):
        """`count` bits of value, least significant first (header fields, extra bits)."""
        self.acc |= value << self.n
        self.n += count
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def code(self, code, length):
        """A Huffman code, most significant bit first (RFC 1951 3.1.1)."""
        for i in range(length - 1, -1, -1):
            self.bits((code >> i) & 1, 1)

    def flush(self):
        if self.n:
            self.out.append(self.acc & 0xFF)
        return bytes(self.out)


def deflate_zeros(repeats: int) -> bytes:
    """Raw DEFLATE stream that inflates to 1 + 258*repeats zero bytes.

    One final dynamic-Huffman block (RFC 1951 3.2.7): literal/length code {285: '0', 0: '10',
    256: '11'}, distance code {0: '0'} (distance 1), so a literal 0 and then each (length 258,
    distance 1) pair costs 2 bits.  The code lengths are sent with the code-length code
    {18: '0', 1: '10', 2: '11'}."""
    w = _BitWriter()
    w.bits(1, 1)  # BFINAL
    w.bits(2, 2)  # BTYPE = dynamic
    w.bits(286 - 257, 5)  # HLIT: 286 literal/length codes
    w.bits(1 - 1, 5)  # HDIST: 1 distance code
    order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
    cl_len = {18: 1, 1: 2, 2: 2}
    hclen = max(i for i, s in enumerate(order) if s in cl_len) + 1
    w.bits(hclen - 4, 4)
    for s in order[:hclen]:
        w.bits(cl_len.get(s, 0), 3)
    cl_code = {18: (0b0, 1), 1: (0b10, 2), 2: (0b11, 2)}

    def zeros(n):  # runs of zero lengths with symbol 18 (11..138, 7 extra bits)
        while n:
            k = min(n, 138)
            assert k >= 11
            w.code(*cl_code[18])
            w.bits(k - 11, 7)
            n -= k

    # literal/length lengths: 0 -> 2, 1..255 -> 0, 256 -> 2, 257..284 -> 0, 285 -> 1; distance 0 -> 1
    w.code(*cl_code[2])
    zeros(255)
    w.code(*cl_code[2])
    zeros(28)
    w.code(*cl_code[1])
    w.code(*cl_code[1])
    # data
    w.code(0b10, 2)  # literal 0
    for _ in range(repeats):
        w.code(0b0, 1)  # length 285 = 258
        w.code(0b0, 1)  # distance code 0 = 1
    w.code(0b11, 2)  # end of block
    return w.flush()


def inflate(stream: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(-15)
    out = d.decompress(stream, limit)
    assert d.eof and not d.unconsumed_tail, "stream did not end where expected"
    return out
