"""cformer.Tokenizer against every tokenizer fixture (fixtures/tokenizers/<name>/cases.json, found
by walking ${CFORMER_FIXTURES}): each case's encoding fields and decodes must equal the
reference's exactly (ids, tokens, offsets, type_ids, masks, word/sequence ids, decode with and
without special tokens), truncation cases with their overflowing windows, and the target side
of translation folders."""
import pytest

from conftest import read_json, walk_cases

FIELDS = ("ids", "tokens", "offsets", "type_ids", "special_tokens_mask", "attention_mask", "word_ids",
          "sequence_ids")


def tokenizer_cases(kind):
    for folder in walk_cases("cases.json"):
        doc = read_json(folder / "cases.json")
        for i, case in enumerate(doc.get(kind) or []):
            yield pytest.param(folder, case, id=f"{folder.name}#{i}")


_tokenizers = {}


def tokenizer(cformer, folder, target=False):
    key = (str(folder), target)
    if key not in _tokenizers:
        _tokenizers[key] = cformer.Tokenizer(folder, target=target)
    return _tokenizers[key]


def expect_encoding(tok, enc, want, where):
    for field in FIELDS:
        if field in want:
            got = getattr(enc, field)
            if field == "offsets":
                got = [list(o) for o in got]
            assert got == want[field], f"{where}: {field}"
    if "decode" in want:
        assert tok.decode(enc.ids) == want["decode"], f"{where}: decode"
    if "decode_skip_special" in want:
        assert tok.decode(enc.ids, skip_special_tokens=True) == want["decode_skip_special"], f"{where}: decode"


@pytest.mark.parametrize("folder,case", list(tokenizer_cases("cases")))
def test_case(cformer_module, folder, case):
    tok = tokenizer(cformer_module, folder)
    enc = tok.encode(case["input"], case.get("pair"))
    expect_encoding(tok, enc, case, folder.name)


@pytest.mark.parametrize("folder,case", list(tokenizer_cases("truncation_cases")))
def test_truncation_case(cformer_module, folder, case):
    tok = tokenizer(cformer_module, folder)
    call = case["call"]
    enc = tok.encode(case["input"], case.get("pair"), truncation=call.get("truncation", True),
                     max_length=call.get("max_length"), stride=call.get("stride", 0),
                     return_overflowing_tokens=call.get("return_overflowing_tokens", False))
    expect_encoding(tok, enc, case, folder.name)
    want_over = case.get("overflowing", [])
    assert len(enc.overflowing) == len(want_over), f"{folder.name}: overflowing windows"
    for i, (got, want) in enumerate(zip(enc.overflowing, want_over)):
        expect_encoding(tok, got, want, f"{folder.name} overflowing {i}")


@pytest.mark.parametrize("folder,case", [p for p in tokenizer_cases("cases") if "target_ids" in p.values[1]])
def test_target_side(cformer_module, folder, case):
    tok = tokenizer(cformer_module, folder, target=True)
    enc = tok.encode(case["input"], case.get("pair"))
    assert enc.ids == case["target_ids"]
    if "target_decode_skip_special" in case:
        assert tok.decode(enc.ids, skip_special_tokens=True) == case["target_decode_skip_special"]


def test_batch_equals_single_and_pads(cformer_module):
    folder = next(f for f in walk_cases("cases.json") if (f / "tokenizer.json").is_file())
    tok = tokenizer(cformer_module, folder)
    texts = ["Hello world, this is a longer sentence.", "Short.", ""]
    batch = tok.encode_batch(texts, padding="longest")
    longest = max(len(tok.encode(t)) for t in texts)
    for text, enc in zip(texts, batch):
        assert len(enc) == longest
        assert [i for i, m in zip(enc.ids, enc.attention_mask) if m] == tok.encode(text).ids


def test_vocabulary_lookups(cformer_module):
    folder = next(iter(walk_cases("cases.json")))
    tok = tokenizer(cformer_module, folder)
    assert len(tok) > 0
    enc = tok.encode("hello")
    for i, t in zip(enc.ids, enc.tokens):
        assert tok.id_to_token(i) == t
        assert tok.token_to_id(t) == i
    assert tok.token_to_id("\x00no such token\x00") is None
    assert tok.id_to_token(len(tok) + 1000) is None


def test_bad_folder_is_a_clear_error(cformer_module, tmp_path):
    with pytest.raises(cformer_module.CformerError) as e:
        cformer_module.Tokenizer(tmp_path)
    assert str(tmp_path) in e.value.message
