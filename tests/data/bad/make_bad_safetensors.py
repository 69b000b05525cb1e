#!/usr/bin/env python3
"""Write the malformed safetensors corpus in safetensors/ (one defect per file).

Every file must be rejected by cf_st_open with its own error message; tests/io/test_safetensors.c
walks the folder. Run from anywhere: python3 tests/data/bad/make_bad_safetensors.py
"""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "safetensors")


def st(header, data=b"\0" * 8, length=None):
    """header (str or bytes) with its u64 length prefix (or a forged one), then data."""
    h = header.encode("utf-8") if isinstance(header, str) else header
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def one(entry, name="a"):
    return '{"%s":%s}' % (name, entry)


OK = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'

CASES = {
    "empty": b"",
    "seven_bytes": b"\x10\0\0\0\0\0\0",
    "header_length_past_eof": st(one(OK), length=1000),
    "header_length_2pow63": st(one(OK), length=1 << 63),
    "header_length_zero": st("", data=b"{}" + b"\0" * 8),
    "header_not_json": st("hello, world"),
    "header_json_array": st('[{"dtype":"F32"}]'),
    "header_json_string": st('"tensors"'),
    "header_truncated_json": st('{"a":{"dtype":"F32","shape":[2'),
    "header_trailing_garbage": st(one(OK) + " xyz"),
    "header_nesting_too_deep": st("[" * 5000 + "]" * 5000),
    "name_not_utf8": st(b'{"\xff\xfe":' + OK.encode() + b"}"),
    "name_overlong_utf8": st(b'{"a\xc0\xaf":' + OK.encode() + b"}"),
    "header_nul_byte": st(b'{"a":' + OK.encode() + b"}\0   "),
    "empty_name": st(one(OK, name="")),
    "entry_not_object": st('{"a":5}'),
    "dtype_missing": st(one('{"shape":[2],"data_offsets":[0,8]}')),
    "dtype_not_string": st(one('{"dtype":32,"shape":[2],"data_offsets":[0,8]}')),
    "dtype_unknown": st(one('{"dtype":"F33","shape":[2],"data_offsets":[0,8]}')),
    "dtype_unsupported_u16": st(one('{"dtype":"U16","shape":[4],"data_offsets":[0,8]}')),
    "shape_missing": st(one('{"dtype":"F32","data_offsets":[0,8]}')),
    "shape_not_array": st(one('{"dtype":"F32","shape":"2","data_offsets":[0,8]}')),
    "shape_dim_string": st(one('{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}')),
    "shape_dim_negative": st(one('{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}')),
    "shape_dim_float": st(one('{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}')),
    "shape_dim_huge": st(one('{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}')),
    "shape_product_overflow": st(one('{"dtype":"F32","shape":[4503599627370496,4503599627370496],"data_offsets":[0,8]}')),
    "shape_rank_too_big": st(one('{"dtype":"F32","shape":[1,1,1,1,1,2],"data_offsets":[0,8]}')),
    "offsets_missing": st(one('{"dtype":"F32","shape":[2]}')),
    "offsets_not_array": st(one('{"dtype":"F32","shape":[2],"data_offsets":"0-8"}')),
    "offsets_three": st(one('{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}')),
    "offsets_negative": st(one('{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}')),
    "offsets_float": st(one('{"dtype":"F32","shape":[2],"data_offsets":[0,7.5]}')),
    "offsets_huge": st(one('{"dtype":"F32","shape":[2],"data_offsets":[0,1e20]}')),
    "offsets_end_before_begin": st(one('{"dtype":"F32","shape":[2],"data_offsets":[8,0]}')),
    "offsets_past_data": st(one('{"dtype":"F32","shape":[2],"data_offsets":[0,800]}')),
    "offsets_size_mismatch": st(one('{"dtype":"F32","shape":[3],"data_offsets":[0,8]}')),
    "tensors_overlap": st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                          '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', data=b"\0" * 12),
    "duplicate_name": st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                         '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'),
    "metadata_not_object": st('{"__metadata__":"format=pt","a":%s}' % OK),
    "metadata_value_not_string": st('{"__metadata__":{"format":1},"a":%s}' % OK),
    "metadata_duplicate_key": st('{"__metadata__":{"format":"pt","format":"np"},"a":%s}' % OK),
    "metadata_twice": st('{"__metadata__":{"format":"pt"},"__metadata__":{"x":"y"},"a":%s}' % OK),
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for old in os.listdir(HERE):
        if old.endswith(".safetensors"):
            os.remove(os.path.join(HERE, old))
    for name, data in CASES.items():
        with open(os.path.join(HERE, name + ".safetensors"), "wb") as f:
            f.write(data)
    print(f"wrote {len(CASES)} files to {HERE}")


if __name__ == "__main__":
    main()
