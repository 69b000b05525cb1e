#!/usr/bin/env python3
"""Writes the malformed sentencepiece ModelProto files of this folder (each must be rejected)."""
import os
import struct


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def piece(text, score=-1.0, ptype=1):
    return ld(1, ld(1, text.encode()) + key(2, 5) + struct.pack("<f", score) + key(3, 0) + varint(ptype))


good_pieces = piece("<unk>", 0.0, 2) + piece("\u2581a", -1.0) + piece("b", -2.0)
trainer = ld(2, key(3, 0) + varint(1) + key(40, 0) + varint(0))

files = {
    "empty.model": b"",
    "truncated_varint.model": good_pieces + b"\x0a\xff\xff",
    "length_past_end.model": good_pieces + key(1, 2) + varint(1000) + b"abc",
    "huge_length.model": key(1, 2) + varint(1 << 62) + b"x" * 8,
    "varint_overflow.model": good_pieces + key(2, 0) + b"\xff" * 11,
    "wrong_wire_pieces.model": key(1, 0) + varint(5),
    "wrong_wire_score.model": ld(1, ld(1, b"a") + key(2, 0) + varint(3)),
    "wrong_wire_trainer.model": good_pieces + key(2, 5) + b"\x00\x00\x00\x00",
    "wrong_wire_charsmap.model": good_pieces + ld(3, key(2, 0) + varint(7)),
    "group_wire.model": good_pieces + key(9, 3) + key(9, 4),
    "invalid_wire_type.model": good_pieces + key(9, 7),
    "field_zero.model": good_pieces + b"\x02\x00",
    "no_pieces.model": trainer,
    "empty_piece.model": good_pieces + piece(""),
    "bad_utf8_piece.model": good_pieces + ld(1, ld(1, b"\xff\xfe") + key(2, 5) + struct.pack("<f", -1.0)),
    "nan_score.model": good_pieces + piece("c", float("nan")),
    "bad_piece_type.model": good_pieces + piece("c", -1.0, 9),
    "bad_model_type.model": good_pieces + ld(2, key(3, 0) + varint(7)),
    "truncated_fixed32.model": ld(1, ld(1, b"a") + key(2, 5) + b"\x00\x00"),
    "nested_length_past_end.model": ld(1, ld(1, b"a") + key(1, 2) + varint(50) + b"zz"),
    "unk_id_out_of_int32.model": good_pieces + ld(2, key(40, 0) + varint(1 << 40)),
    "text_file.model": b"this is not a protobuf, it is a text file\n",
}

here = os.path.dirname(os.path.abspath(__file__))
for name, data in files.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
