"""Fixtures/malformed/: hostile and broken checkpoints (imported by generate.py).

Every file is assembled byte by byte (torch_formats.P, TorchZipWriter, deflate_zeros); none is
ever loaded by Python here, except the three valid ones (base.pt, memo_sparse_indices.pt and the
torch.jit.save output behind torchscript.pt), which are checked with torch.load(weights_only=True)
or made by torch itself.  The hostile pickles are only disassembled (pickletools), never run.
README.md beside them gives, for each file, what is wrong and which check must catch it; it is
written from CASES below, so file list and README cannot drift apart.

Zip files mirror torch.save's layout exactly (same records, alignment, data descriptors, ZIP64
end records), top folder named after the file as torch names it, so that the only thing wrong
with each file is the damage it is named after.
"""

import io
import struct
import tarfile
import zipfile

import torch

from torch_formats import (P, TorchZipWriter, check_disassembles, crc32, deflate_zeros, inflate,
                           normalize_legacy, ordered_dict_ops, split_legacy, tensor_ops)

CMD = "echo pwned > /tmp/lsrconv-pwned"
W_BYTES = struct.pack("<4f", 1.5, -2.0, 0.25, 3.0)  # storage '0': float32 [2, 2]
SERIALIZATION_ID = b"0000000000000000000000000000000000000000"  # 40 digits, as torch writes; never checked

CASES = []  # (file name, what is wrong, which check must catch it)


def case(name, wrong, check):
    CASES.append((name, wrong, check))


def w_tensor(**kw):
    """The one valid tensor: float32 [2, 2] on storage '0' (4 elements, 16 bytes)."""
    args = dict(storage_key="0", numel=4, size=(2, 2), stride=(2, 1))
    args.update(kw)
    key, numel, size, stride = args.pop("storage_key"), args.pop("numel"), args.pop("size"), args.pop("stride")
    return tensor_ops(key, numel, size, stride, **args)


def state_dict_pickle(items):
    return P.proto(2) + ordered_dict_ops(items) + P.stop()


VALID_PICKLE = state_dict_pickle([("w", w_tensor())])


def torch_entries(stem, pkl, storages=(("0", W_BYTES),)):
    """(name, bytes) records in torch.save's order, under the top folder `stem`."""
    names = [("data.pkl", pkl), (".format_version", b"1"), (".storage_alignment", b"64"), ("byteorder", b"little")]
    names += [(f"data/{k}", b) for k, b in storages]
    names += [("version", b"3\n"), (".data/serialization_id", SERIALIZATION_ID)]
    return [(f"{stem}/{n}", b) for n, b in names]


class Corpus:
    def __init__(self, out):
        self.out = out

    def write(self, name, data, wrong, check):
        (self.out / name).write_bytes(data)
        case(name, wrong, check)

    def zip(self, name, pkl, wrong, check, *, storages=(("0", W_BYTES),), disassemble=True, hook=None, finish=None):
        """A torch-layout zip whose data.pkl is `pkl`; hook(writer, name, blob) may write a record
        itself (returning True) to damage it; finish = kwargs for TorchZipWriter.finish."""
        if disassemble:
            check_disassembles(pkl)
        stem = name.rsplit(".", 1)[0]
        w = TorchZipWriter()
        for entry, blob in torch_entries(stem, pkl, storages):
            if not (hook and hook(w, entry, blob)):
                w.add(entry, blob)
        self.write(name, w.finish(**(finish or {})), wrong, check)


# --------------------------------------------------------------------------

def write_pickle_attacks(c):
    run = "nothing runs"
    c.zip("pickle_os_system.pt",
          P.proto(2) + P.glob("os", "system") + P.tuple(P.unicode(CMD)) + P.REDUCE + P.stop(),
          "data.pkl is os.system('echo pwned ...') by GLOBAL + REDUCE",
          f"{run}: the REDUCE of an unknown global gives an inert object, so the top-level object is "
          "not a dict of tensors -> 'no state dict' error (or the global is refused outright)")
    c.zip("pickle_posix_system.pt",
          P.proto(2) + P.glob("posix", "system") + P.tuple(P.unicode(CMD)) + P.REDUCE + P.stop(),
          "as pickle_os_system.pt with GLOBAL 'posix system' (what pickle.dumps(os.system) writes on Linux)",
          f"{run}: inert object -> 'no state dict' (or the global is refused)")
    c.zip("pickle_builtins_eval.pt",
          P.proto(2) + P.glob("builtins", "eval")
          + P.tuple(P.unicode(f"__import__('os').system('{CMD}')")) + P.REDUCE + P.stop(),
          "data.pkl is builtins.eval(\"__import__('os').system(...)\") by GLOBAL + REDUCE",
          f"{run}: inert object -> 'no state dict' (or the global is refused)")
    argv = P.empty_list() + P.mark() + P.short_unicode("sh") + P.short_unicode("-c") + P.short_unicode(CMD) + P.APPENDS
    body = (P.short_unicode("subprocess") + b"\x94" + P.short_unicode("Popen") + b"\x94" + b"\x93" + b"\x94"
            + argv + b"\x85" + P.REDUCE + P.stop())
    c.zip("pickle_stack_global_popen.pt",
          P.proto(4) + b"\x95" + struct.pack("<Q", len(body)) + body,
          "protocol-4 pickle: FRAME, SHORT_BINUNICODE 'subprocess' 'Popen', STACK_GLOBAL, REDUCE of "
          "(['sh', '-c', 'echo pwned ...'],)",
          f"{run}: opcode table: FRAME (0x95) at offset 2 is not a torch opcode -> 'unsupported opcode'; "
          "with protocol-4 opcodes in the table, STACK_GLOBAL gives an inert subprocess.Popen -> 'no state dict'")
    c.zip("pickle_inst_os_system.pt",
          P.proto(2) + P.mark() + P.unicode(CMD) + b"ios\nsystem\n" + P.stop(),
          "INST 'os system' (protocol 0 class call) with the command as argument",
          f"{run}: opcode table: INST ('i', 0x69) at offset {2 + 1 + 5 + len(CMD)} -> 'unsupported opcode'")
    c.zip("pickle_obj_os_system.pt",
          P.proto(2) + P.mark() + P.glob("os", "system") + P.unicode(CMD) + b"o" + P.stop(),
          "OBJ with GLOBAL 'os system' and the command (protocol 1 class call)",
          f"{run}: opcode table: OBJ ('o', 0x6f) at offset {2 + 1 + 11 + 5 + len(CMD)} -> 'unsupported opcode'")
    c.zip("pickle_newobj_popen.pt",
          P.proto(2) + P.glob("subprocess", "Popen")
          + P.tuple(P.empty_list() + P.mark() + P.unicode("sh") + P.unicode("-c") + P.unicode(CMD) + P.APPENDS)
          + P.NEWOBJ + P.stop(),
          "NEWOBJ of GLOBAL 'subprocess Popen' with (['sh', '-c', 'echo pwned ...'],)",
          f"{run}: NEWOBJ of an unknown class gives an inert object -> 'no state dict'")
    c.zip("pickle_evil_value_in_state_dict.pt",
          state_dict_pickle([("w", w_tensor()),
                             ("evil", P.glob("os", "system") + P.tuple(P.unicode(CMD)) + P.REDUCE)]),
          "a valid state dict {'w': tensor} plus an entry 'evil' = os.system('echo pwned ...')",
          f"{run}: state-dict check: entry 'evil' is not a tensor (an inert call of os.system) -> error naming 'evil'")
    c.zip("pickle_storage_class_os_system.pt",
          state_dict_pickle([("w", w_tensor(storage_class=("os", "system")))]),
          "tensor 'w' whose persistent id names GLOBAL 'os system' as its storage class",
          f"{run}: storage-class table: 'os.system' is not a storage class -> error naming tensor 'w'")
    c.zip("pickle_rebuild_os_system.pt",
          state_dict_pickle([("w", w_tensor(rebuild=("os", "system")))]),
          "tensor 'w' rebuilt by GLOBAL 'os system' instead of torch._utils._rebuild_tensor_v2 "
          "(its argument tuple holds a BINPERSID storage)",
          f"{run}: entry 'w' is an inert call of os.system, not a tensor -> error naming 'w'")


def write_pickle_structure(c):
    valid = VALID_PICKLE
    c.zip("pickle_unknown_opcode.pt", P.proto(2) + b"\xff" + P.stop(),
          "byte 0xff (no pickle opcode) at offset 2", "opcode table: 'unknown opcode 0xff at offset 2'",
          disassemble=False)
    c.zip("pickle_no_stop.pt", valid[:-1], "the valid state dict pickle without its final STOP",
          f"pickle VM: data.pkl ends at offset {len(valid) - 1} without STOP; nothing is returned", disassemble=False)
    c.zip("pickle_after_stop.pt",
          valid + P.proto(2) + P.glob("os", "system") + P.tuple(P.unicode(CMD)) + P.REDUCE + P.stop(),
          "a valid pickle, then a second pickle (os.system) after its STOP",
          f"pickle VM: bytes after STOP at offset {len(valid)} (exactly one STOP, at the end)")
    c.zip("pickle_proto_twice.pt", P.proto(2) + P.empty_dict() + P.proto(2) + P.stop(),
          "PROTO again at offset 3", "pickle VM: PROTO only as the first opcode -> error at offset 3")
    c.zip("pickle_stop_empty_stack.pt", P.proto(2) + P.stop(),
          "STOP with nothing on the stack", "pickle VM: STOP needs exactly one object on the stack",
          disassemble=False)
    c.zip("pickle_binget_undefined.pt", P.proto(2) + P.binget(7) + P.stop(),
          "BINGET 7 with nothing stored under memo key 7", "pickle VM: 'memo key 7 not defined' at offset 2",
          disassemble=False)
    c.zip("pickle_setitems_on_list.pt",
          P.proto(2) + P.empty_list() + P.mark() + P.unicode("w") + w_tensor() + P.SETITEMS + P.stop(),
          "SETITEMS applied to a list", "pickle VM: SETITEM(S) only on dicts -> error at the SETITEMS offset")
    c.zip("pickle_append_on_dict.pt", P.proto(2) + P.empty_dict() + w_tensor() + P.APPEND + P.stop(),
          "APPEND applied to a dict", "pickle VM: APPEND(S) only on lists -> error at the APPEND offset")
    c.zip("pickle_setitems_no_mark.pt", P.proto(2) + P.empty_dict() + P.unicode("w") + w_tensor() + P.SETITEMS + P.stop(),
          "SETITEMS with no MARK on the stack", "pickle VM: 'SETITEMS without MARK'", disassemble=False)
    c.zip("pickle_long1_past_end.pt", P.proto(2) + b"\x8a\xff" + b"\x01\x02\x03\x04" + P.stop(),
          "LONG1 declaring 255 bytes with 5 left", "pickle VM length check: LONG1 at offset 2 needs 255 bytes, 5 remain",
          disassemble=False)
    c.zip("pickle_long4_past_end.pt", P.proto(2) + b"\x8b" + struct.pack("<i", 0x7FFFFFF0) + bytes(8) + P.stop(),
          "LONG4 declaring 2147483632 bytes with 9 left",
          "opcode table (LONG4 0x8b is not a torch opcode) at offset 2; with LONG4 in the table: length check, "
          "nothing allocated from the declared length", disassemble=False)
    c.zip("pickle_binunicode_past_end.pt", P.proto(2) + b"X" + struct.pack("<I", 0xFFFFFFF0) + b"abc" + P.stop(),
          "BINUNICODE declaring 4294967280 bytes with 4 left",
          "pickle VM length check: BINUNICODE at offset 2 runs past the end of data.pkl; nothing allocated "
          "from the declared length", disassemble=False)
    c.zip("pickle_binbytes_past_end.pt", P.proto(2) + b"B" + struct.pack("<I", 0xFFFFFF00) + b"abc" + P.stop(),
          "BINBYTES (protocol 3) declaring 4294967040 bytes with 4 left",
          "opcode table (BINBYTES 'B' is not a torch opcode) at offset 2; with BINBYTES in the table: length check",
          disassemble=False)
    c.zip("pickle_binunicode_bad_utf8.pt",
          P.proto(2) + P.empty_dict() + b"X" + struct.pack("<I", 2) + b"\xff\xfe" + w_tensor() + P.SETITEM + P.stop(),
          "a dict key in BINUNICODE that is not UTF-8 (ff fe)", "pickle VM: invalid UTF-8 in BINUNICODE at offset 3",
          disassemble=False)


def write_memo_and_depth(c):
    # valid: every object memoized at indices near 2^32 - 1; 'w_again' fetches the tensor back.
    t = w_tensor()
    pkl = (P.proto(2) + P.glob("collections", "OrderedDict") + P.binput(0xFFFFFFFF) + P.tuple() + P.REDUCE
           + P.binput(0xFFFFFFFE) + P.mark() + P.unicode("w") + P.binput(0xFFFFFFFD) + t + P.binput(0xFFFFFFFC)
           + P.unicode("w_again") + P.binget(0xFFFFFFFC) + P.SETITEMS + P.stop())
    c.zip("memo_sparse_indices.pt", pkl,
          "VALID: LONG_BINPUT indices 0xfffffffc..0xffffffff (torch's weights-only unpickler reads it)",
          "must LOAD: 'w' and 'w_again' are the same float32 [2, 2] tensor; the memo is a dictionary, "
          "nothing is allocated from an index")

    sd = ordered_dict_ops([("w", w_tensor())])
    bomb = P.empty_list() + P.binput(0)
    for i in range(1, 31):
        bomb += P.empty_list() + P.binput(i) + P.mark() + P.binget(i - 1) * 10 + P.APPENDS
    c.zip("memo_amplification.pt",
          P.proto(2) + P.empty_dict() + P.mark() + P.unicode("state_dict") + sd + P.unicode("extra_state") + bomb
          + P.SETITEMS + P.stop(),
          "{'state_dict': valid, 'extra_state': L30} where L_i = [L_(i-1)] * 10 through BINGET: 10^30 "
          "list elements from 800 bytes",
          "object cap when the non-tensor data is rendered (auxiliary JSON): 'object graph larger than N' "
          "(count references, not memo entries); never expanded")

    def with_extra(extra):
        return (P.proto(2) + P.empty_dict() + P.mark() + P.unicode("state_dict") + sd + P.unicode("extra_state")
                + extra + P.SETITEMS + P.stop())

    c.zip("self_containing_list.pt", with_extra(P.empty_list() + P.binput(0) + P.binget(0) + P.APPEND),
          "extra_state is a list that contains itself (BINPUT 0, BINGET 0, APPEND)",
          "cycle check: 'self-containing list' (rendering must not recurse forever)")
    c.zip("self_containing_dict.pt",
          with_extra(P.empty_dict() + P.binput(0) + P.unicode("me") + P.binget(0) + P.SETITEM),
          "extra_state is a dict that contains itself under 'me'",
          "cycle check: 'self-containing dict' (rendering must not recurse forever)")

    n = 65_536
    c.zip("stack_bomb_marks.pt", P.proto(2) + P.mark() * n + P.stop(),
          f"{n} MARKs, then STOP", "MARK depth cap (exceeded long before the STOP)", disassemble=False)
    c.zip("stack_bomb_empty_lists.pt", P.proto(2) + P.empty_list() * n + P.stop(),
          f"{n} EMPTY_LISTs, then STOP", "stack size cap (or: STOP with more than one object on the stack)",
          disassemble=False)
    depth = 10_000
    c.zip("nesting_tuples_10000.pt", with_extra(P.empty_list() + b"\x85" * depth),
          f"extra_state nests a list in {depth} TUPLE1s (stack depth stays 1 while parsing)",
          "nesting-depth cap when rendering or releasing the object (a recursive walk must not overflow the stack)",
          disassemble=False)
    c.zip("nesting_lists_10000.pt", with_extra(P.empty_list() * (depth + 1) + P.APPEND * depth),
          f"extra_state is a list nested {depth} deep (EMPTY_LIST x {depth + 1}, APPEND x {depth})",
          "stack cap or nesting-depth cap", disassemble=False)
    c.zip("nesting_marks_10000.pt", with_extra(P.mark() * depth + b"t" * depth),
          f"extra_state is an empty tuple nested {depth} deep through MARK ... TUPLE",
          "MARK depth cap (or nesting-depth cap)", disassemble=False)


def write_tensor_checks(c):
    c.zip("storage_numel_past_entry.pt", state_dict_pickle([("w", w_tensor(numel=1_000_000))]),
          "storage '0' declares 1000000 float32 elements (4000000 bytes); data/0 holds 16",
          "storage check: numel x element size (4000000) must equal the entry's size (16) -> error naming "
          "tensor 'w' / storage '0'")
    c.zip("tensor_view_past_storage.pt", state_dict_pickle([("w", w_tensor(size=(100,), stride=(1,)))]),
          "tensor 'w' has size (100,) on a 4-element storage",
          "view check: offset + sum((size-1)*stride) = 99 must be < numel 4 -> error naming 'w'")
    c.zip("tensor_offset_overflow.pt",
          state_dict_pickle([("w", w_tensor(offset=2**62, size=(4,), stride=(2**62,)))]),
          "tensor 'w' with storage offset 2^62 and stride 2^62 (the bound overflows Int64)",
          "view check with overflow-reporting arithmetic -> error naming 'w' (no trap, no wrap-around)")
    c.zip("tensor_negative_stride.pt", state_dict_pickle([("w", w_tensor(size=(4,), stride=(-1,)))]),
          "tensor 'w' with stride -1", "view check: strides >= 0 -> error naming 'w'")
    c.zip("tensor_negative_size.pt", state_dict_pickle([("w", w_tensor(size=(-4,), stride=(1,)))]),
          "tensor 'w' with size -4", "view check: sizes >= 0 -> error naming 'w'")
    c.zip("storage_key_missing.pt", state_dict_pickle([("w", w_tensor(storage_key="7"))]),
          "tensor 'w' on storage '7'; the archive has data/0 only",
          "storage check: key '7' names no entry (storage_key_missing/data/7) -> error naming 'w'")
    c.zip("storage_key_traversal.pt", state_dict_pickle([("w", w_tensor(storage_key="../../../etc/passwd"))]),
          "storage key '../../../etc/passwd'", "storage check: keys must match ^[0-9]+$ -> error naming 'w'")
    c.zip("storage_shared_two_dtypes.pt",
          state_dict_pickle([("w", w_tensor()),
                             ("h", w_tensor(numel=8, size=(8,), stride=(1,), storage_class=("torch", "HalfStorage")))]),
          "storage '0' used as FloatStorage by 'w' and as HalfStorage by 'h'",
          "storage check: one storage, one dtype (torch refuses this too) -> error naming 'h'")
    c.zip("rebuild_wrong_arity.pt",
          state_dict_pickle([("w", P.glob("torch._utils", "_rebuild_tensor_v2")
                                   + P.tuple(P.tuple(P.unicode("storage"), P.glob("torch", "FloatStorage"),
                                                     P.unicode("0"), P.unicode("cpu"), P.int(4)) + P.BINPERSID,
                                             P.int(0)) + P.REDUCE)]),
          "_rebuild_tensor_v2 called with 2 arguments (storage, offset)",
          "rebuild check: _rebuild_tensor_v2 takes 6 arguments (7 with metadata) -> error naming 'w'")


def write_zip_damage(c):
    def local_name(w, entry, blob):
        if entry.endswith("/data/0"):
            w.add(entry, blob, local_name=entry[:-1] + "9")
            return True
    c.zip("zip_local_name_mismatch.pt", VALID_PICKLE,
          "data/0's local header names .../data/9, the central directory .../data/0",
          "zip: local and central headers agree (name) -> error naming the entry and its offset", hook=local_name)

    def local_size(w, entry, blob):
        if entry.endswith("/data/0"):
            w.add(entry, blob, descriptor=False, local_sizes=(12, 12))
            return True
    c.zip("zip_local_size_mismatch.pt", VALID_PICKLE,
          "data/0 has no data descriptor; its local header says 12 bytes, the central directory 16",
          "zip: local and central headers agree (sizes) -> error naming the entry", hook=local_size)

    def flip(w, entry, blob):
        if entry.endswith("/data/0"):
            w.add(entry, blob[:5] + bytes([blob[5] ^ 0x40]) + blob[6:], crc=crc32(blob))
            return True
    c.zip("zip_crc_mismatch.pt", VALID_PICKLE,
          "one bit of data/0 flipped after its CRC was computed (central CRC is the original's)",
          "zip: CRC of the stored bytes -> 'CRC mismatch in zip_crc_mismatch/data/0'", hook=flip)

    def traversal(name):
        def hook(w, entry, blob):
            if entry.endswith("/byteorder"):
                w.add(entry, blob)
                w.add(name, b"pwned\n")
                return True
        return hook
    c.zip("zip_path_traversal.pt", VALID_PICKLE, "an extra entry named '../../etc/x'",
          "zip: every entry under the one top folder (and no '..') -> error naming '../../etc/x'",
          hook=traversal("../../etc/x"))
    c.zip("zip_dotdot_under_top.pt", VALID_PICKLE,
          "an extra entry 'zip_dotdot_under_top/../../etc/x' (starts with the top folder, then escapes it)",
          "zip: no '..' component in any entry name -> error naming the entry",
          hook=traversal("zip_dotdot_under_top/../../etc/x"))

    evil = P.proto(2) + P.glob("os", "system") + P.tuple(P.unicode(CMD)) + P.REDUCE + P.stop()

    def duplicate(w, entry, blob):
        if entry.endswith("/byteorder"):
            w.add(entry, blob)
            w.add("zip_duplicate_name/data.pkl", evil)
            return True
    c.zip("zip_duplicate_name.pt", VALID_PICKLE,
          "two entries named zip_duplicate_name/data.pkl: a valid state dict, then os.system (parser differential)",
          "zip: duplicate entry names -> error naming zip_duplicate_name/data.pkl", hook=duplicate)

    def deflated(stream, usize, crc):
        def hook(w, entry, blob):
            if entry.endswith("/data.pkl"):
                w.add(entry, stream, method=8, usize=usize, crc=crc)
                return True
        return hook
    honest = deflate_zeros(260_112)
    n_honest = 1 + 258 * 260_112
    assert len(inflate(honest, n_honest + 1)) == n_honest
    c.zip("zip_bomb_honest.pt", b"", f"data.pkl deflated: {len(honest)} bytes inflate to {n_honest} zero bytes, "
          "sizes and CRC honest",
          "zip: inflated-size cap for data.pkl (must be below 64 MiB; checked against the declared size before "
          "inflating); with a larger cap the pickle VM stops at 0x00 (not an opcode) at offset 0",
          disassemble=False, hook=deflated(honest, n_honest, crc32(bytes(n_honest))))
    small = deflate_zeros(4_064)
    n_small = 1 + 258 * 4_064
    c.zip("zip_bomb_declared_4g.pt", b"",
          f"data.pkl deflated ({len(small)} bytes -> {n_small} zeros) but declared 4294967280 bytes uncompressed",
          "zip: inflated-size cap on the DECLARED size, before anything is allocated or inflated",
          disassemble=False, hook=deflated(small, 0xFFFFFFF0, crc32(bytes(n_small))))
    lying = deflate_zeros(32_513)
    n_lying = 1 + 258 * 32_513
    c.zip("zip_bomb_lying_small.pt", b"",
          f"data.pkl declared 1024 bytes uncompressed but inflates to {n_lying} zeros (CRC is that of all {n_lying})",
          "zip: inflation stops at the declared size and fails ('inflated data longer than the declared 1024 bytes')",
          disassemble=False, hook=deflated(lying, 1024, crc32(bytes(n_lying))))

    def flag(bit=None, method=None):
        def hook(w, entry, blob):
            if entry.endswith("/data/0"):
                r = w.add(entry, blob)
                if bit is not None:
                    r["flags"] |= bit
                    w.buf[r["offset"] + 6:r["offset"] + 8] = struct.pack("<H", r["flags"])
                if method is not None:
                    r["method"] = method
                    w.buf[r["offset"] + 8:r["offset"] + 10] = struct.pack("<H", method)
                return True
        return hook
    c.zip("zip_encrypted.pt", VALID_PICKLE, "data/0 has general-purpose flag bit 0 (encrypted) set",
          "zip: no encryption -> error naming zip_encrypted/data/0", hook=flag(bit=0x0001))
    c.zip("zip_method_bzip2.pt", VALID_PICKLE, "data/0 says compression method 12 (bzip2)",
          "zip: compression 0 or 8 only -> error naming zip_method_bzip2/data/0", hook=flag(method=12))

    def overlap(w, entry, blob):
        # data/0 is a uint8 storage whose bytes hold a complete record for data/1.
        if entry.endswith("/data/0"):
            r0 = w.add(entry, bytes(256))
            start = r0["data_offset"]
            sub = TorchZipWriter()  # laid out at the same absolute offset, so its padding is right
            sub.buf += bytes(start)
            r1 = sub.add("zip_overlapping_entries/data/1", W_BYTES)
            body = bytes(sub.buf[start:])
            body += bytes(256 - len(body))
            w.buf[start:start + 256] = body
            r0["crc"] = crc32(body)
            w.buf[start + 260:start + 264] = struct.pack("<I", r0["crc"])  # data descriptor's CRC
            w.records.append(r1)
            return True
    c.zip("zip_overlapping_entries.pt",
          state_dict_pickle([("b", tensor_ops("0", 256, (256,), (1,), storage_class=("torch", "ByteStorage"))),
                             ("w", w_tensor(storage_key="1", numel=4))]),
          "data/1's local record lies inside data/0's bytes (both headers consistent with the central directory)",
          "zip: no two entries overlap -> error naming zip_overlapping_entries/data/1", hook=overlap)

    c.zip("zip_eocd_count_mismatch.pt", VALID_PICKLE,
          "the classic end record says 5 entries, the ZIP64 end record and the central directory 7",
          "zip: one consistent end-of-central-directory (classic and ZIP64 fields agree)",
          finish={"entry_count": 5})
    c.zip("zip_trailing_bytes.pt", VALID_PICKLE, "16 bytes ('trailing garbage') after the end-of-central-directory record",
          "zip: the end record (comment length 0) must end the file -> 'trailing bytes' (polyglot guard)",
          finish={"trailing": b"trailing garbage"})
    c.zip("zip_two_eocd.pt", VALID_PICKLE,
          "a second, empty end-of-central-directory record (0 entries) after the real one; a reader that "
          "scans back from the end finds the empty one",
          "zip: exactly one end record, ending the file -> error (never an empty archive)",
          finish={"trailing": struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0, 0, 0, 0, 0)})


class TinyScripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.l(x)


def write_torchscript(c):
    m = TinyScripted()
    with torch.no_grad():
        m.l.weight.copy_(torch.tensor([[0.5, -1.0], [2.0, 0.25]]))
        m.l.bias.copy_(torch.tensor([0.125, -0.5]))
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(m), buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist() if not i.filename.endswith(".debug_pkl")]
    assert any(n.endswith("/constants.pkl") for n, _ in entries) and any("/code/" in n for n, _ in entries)
    w = TorchZipWriter()
    for name, blob in entries:
        w.add("torchscript/" + name.split("/", 1)[1], blob)
    c.write("torchscript.pt", w.finish(),
            "torch.jit.save of a scripted Linear(2, 2): constants.pkl, code/__torch__/*.py, data.pkl with "
            "GLOBAL '__torch__...' objects (debug_pkl records left out: they hold absolute source paths)",
            "TorchScript check: an archive with constants.pkl or code/ is refused ('TorchScript archives are not read')")


def write_legacy(c, fresh_legacy):
    a = torch.arange(64, dtype=torch.float32) / 8
    b = torch.arange(64, dtype=torch.float32) / -4
    sd = {"a": a, "b": b}
    data = fresh_legacy(sd)
    spans, start = split_legacy(data)
    assert len(data) == start + 2 * (8 + 256)
    cut = start + 8 + 256 + 8 + 100
    c.write("legacy_truncated.pt", data[:cut],
            f"legacy file cut at byte {cut}: storage '1' declares 64 elements (256 bytes) but 100 remain",
            "legacy reader: each storage's count x element size checked against the bytes left -> error naming "
            "storage '1' (tensor 'b')")
    big = data[:start] + struct.pack("<q", 2**40) + data[start + 8:]
    c.write("legacy_count_past_end.pt", big,
            "storage '0' record count 2^40 (4 TiB of float32) in a 1 KB file",
            "legacy reader: count x 4 checked (overflow-safe) against the bytes left before allocating -> "
            "error naming storage '0'")
    neg = data[:start] + struct.pack("<q", -1) + data[start + 8:]
    c.write("legacy_count_negative.pt", neg, "storage '0' record count -1",
            "legacy reader: counts are non-negative -> error naming storage '0'")
    short = data[:start] + struct.pack("<q", 32) + data[start + 8:start + 8 + 128] + data[start + 8 + 256:]
    c.write("legacy_numel_mismatch.pt", short,
            "storage '0' record holds 32 elements while the pickle's storage tuple says 64",
            "legacy reader: record count must equal the pickle's numel -> error naming storage '0'")

    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        members = {
            "sys_info": P.proto(2) + P.empty_dict() + P.mark() + P.unicode("protocol_version") + P.int(1001)
                        + P.unicode("little_endian") + P.TRUE + P.SETITEMS + P.stop(),
            "pickle": P.proto(2) + P.empty_dict() + P.stop(),
            "storages": P.proto(2) + P.int(0) + P.stop(),
            "tensors": P.proto(2) + P.int(0) + P.stop(),
        }
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(blob), 0, 0o644, 0, 0, "", ""
            tar.addfile(info, io.BytesIO(blob))
    c.write("legacy_tar.pt", tbuf.getvalue(),
            "a pre-0.4 tar checkpoint (members sys_info, pickle, storages, tensors; 'ustar' at offset 257)",
            "format detection: legacy tar checkpoints are refused with a clear message (not parsed)")


def write_readme(out):
    lines = ["# Fixtures/malformed/", "",
             "Hostile and broken checkpoints, written by Fixtures/generate/malformed.py (never loaded by it).",
             "Every zip has torch.save's exact layout (top folder = file name without extension, 64-byte",
             "aligned stored records, data descriptors, ZIP64 end records) and differs from a valid file only",
             "in the damage named. The valid base is `base.pt` ({'w': float32 [2, 2]} on storage '0').",
             "Offsets are byte offsets in data.pkl unless stated otherwise. No file may make lsrconv run a",
             "command (\"nothing runs\": /tmp/lsrconv-pwned must not appear), crash, hang, or allocate more",
             "than a few MB; each must end in one `error:` line (except the two marked VALID).",
             "torch.load(weights_only=True) on these, for comparison: it loads zip_overlapping_entries,",
             "zip_local_size_mismatch, zip_eocd_count_mismatch and zip_trailing_bytes without complaint and",
             "takes the SECOND data.pkl of zip_duplicate_name (the os.system one); Python's zipfile reads",
             "zip_two_eocd as an empty archive.", "",
             "file — what is wrong — which check must catch it", ""]
    for name, wrong, check in CASES:
        lines.append(f"- `{name}` — {wrong} — {check}")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def write_malformed(ctx):
    out = ctx.fresh_dir(ctx.fixtures / "malformed")
    c = Corpus(out)
    c.zip("base.pt", VALID_PICKLE, "VALID: the undamaged base every zip below is derived from",
          "must LOAD: one tensor 'w', float32 [2, 2] = [[1.5, -2], [0.25, 3]]")
    back = torch.load(out / "base.pt", weights_only=True)
    assert list(back) == ["w"] and back["w"].tolist() == [[1.5, -2.0], [0.25, 3.0]]
    write_pickle_attacks(c)
    write_pickle_structure(c)
    write_memo_and_depth(c)
    memo = torch.load(out / "memo_sparse_indices.pt", weights_only=True)
    assert memo["w"] is memo["w_again"] and memo["w"].tolist() == [[1.5, -2.0], [0.25, 3.0]]
    write_tensor_checks(c)
    write_zip_damage(c)
    write_torchscript(c)

    def fresh_legacy(sd):
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=False)
        return normalize_legacy(buf.getvalue(), {str(t.untyped_storage()._cdata): t.element_size() for t in sd.values()})
    write_legacy(c, fresh_legacy)
    names = [n for n, _, _ in CASES]
    assert len(names) == len(set(names))
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    write_readme(out)
    return out
