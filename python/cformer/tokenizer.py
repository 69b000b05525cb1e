"""cformer.Tokenizer: Hugging Face tokenizers (tokenizer.json or the legacy files) on libcformer."""
import ctypes
import os

from . import _lib
from .errors import check

_lib_ = _lib.lib

_TRUNCATION = {None: 0, False: 0, "do_not_truncate": 0, True: 1, "longest_first": 1, "only_first": 2,
               "only_second": 3}
_PADDING = {None: 0, False: 0, "do_not_pad": 0, True: 1, "longest": 1, "max_length": 2}


class Encoding:
    """One encoded text, with the fields of the tokenizers library's Encoding."""

    __slots__ = ("ids", "type_ids", "tokens", "offsets", "special_tokens_mask", "attention_mask", "word_ids",
                 "sequence_ids", "overflowing")

    def __init__(self, enc):
        n = enc.n
        opt = lambda v: None if v < 0 else v  # -1 is Python's None
        self.ids = enc.ids[:n]
        self.type_ids = enc.type_ids[:n]
        self.tokens = [enc.tokens[i].decode("utf-8") for i in range(n)]
        self.offsets = [(enc.offsets[i][0], enc.offsets[i][1]) for i in range(n)]
        self.special_tokens_mask = enc.special_mask[:n]
        self.attention_mask = enc.attention_mask[:n]
        self.word_ids = [opt(v) for v in enc.word_ids[:n]]
        self.sequence_ids = [opt(v) for v in enc.sequence_ids[:n]]
        self.overflowing = [Encoding(enc.overflowing[i]) for i in range(enc.n_overflowing)]

    def __len__(self):
        return len(self.ids)

    def __repr__(self):
        return f"Encoding(num_tokens={len(self.ids)}, ids={self.ids[:8]}{'...' if len(self.ids) > 8 else ''})"


def _options(add_special_tokens=True, truncation=None, max_length=None, stride=0,
             return_overflowing_tokens=False, padding=None, padding_side="right", pad_to_multiple_of=None):
    opt = _lib_.cf_encode_options_default()
    opt.add_special_tokens = int(bool(add_special_tokens))
    if truncation not in _TRUNCATION or padding not in _PADDING:
        raise ValueError(f"truncation must be one of {sorted(map(str, _TRUNCATION))}, padding one of "
                         f"{sorted(map(str, _PADDING))}")
    if max_length is not None and truncation is None:
        truncation = True  # as transformers: max_length alone truncates
    opt.truncation = _TRUNCATION[truncation]
    opt.max_length = max_length or 0
    opt.stride = stride
    opt.return_overflowing = int(bool(return_overflowing_tokens))
    opt.padding = _PADDING[padding]
    opt.pad_left = int(padding_side == "left")
    opt.pad_to_multiple_of = pad_to_multiple_of or 0
    return opt


class Tokenizer:
    """A model folder's tokenizer. legacy=True ignores tokenizer.json; target=True loads the
    target-language side of a translation folder (Marian's target.spm)."""

    def __init__(self, path, *, legacy=False, target=False):
        load = (_lib_.cf_tokenizer_load_legacy if legacy else
                _lib_.cf_tokenizer_load_target if target else _lib_.cf_tokenizer_load)
        handle = ctypes.c_void_p()
        err = _lib.cf_error()
        check(_lib_, load(os.fspath(path).encode(), ctypes.byref(handle), ctypes.byref(err)), err)
        self._handle = handle

    from_pretrained = classmethod(lambda cls, path, **kw: cls(path, **kw))

    def encode(self, text, pair=None, **options):
        """Encode a text (and optionally its pair). options: add_special_tokens, truncation,
        max_length, stride, return_overflowing_tokens, padding, padding_side, pad_to_multiple_of."""
        opt = _options(**options)
        enc = _lib.cf_encoding()
        err = _lib.cf_error()
        if pair is None:
            status = _lib_.cf_tokenizer_encode(self._handle, text.encode(), ctypes.byref(opt), ctypes.byref(enc),
                                               ctypes.byref(err))
        else:
            status = _lib_.cf_tokenizer_encode_pair(self._handle, text.encode(), pair.encode(), ctypes.byref(opt),
                                                    ctypes.byref(enc), ctypes.byref(err))
        check(_lib_, status, err)
        try:
            return Encoding(enc)
        finally:
            _lib_.cf_encoding_free(ctypes.byref(enc))

    def encode_batch(self, texts, pairs=None, **options):
        """Encode many texts on the library's thread pool; padding applies across the batch."""
        n = len(texts)
        if pairs is not None and len(pairs) != n:
            raise ValueError(f"{n} texts but {len(pairs)} pairs")
        opt = _options(**options)
        c_texts = (ctypes.c_char_p * n)(*[t.encode() for t in texts])
        c_pairs = (ctypes.c_char_p * n)(*[p.encode() for p in pairs]) if pairs is not None else None
        encs = (_lib.cf_encoding * n)()
        err = _lib.cf_error()
        check(_lib_, _lib_.cf_tokenizer_encode_batch(self._handle, c_texts, c_pairs, n, ctypes.byref(opt), encs,
                                                     ctypes.byref(err)), err)
        try:
            return [Encoding(e) for e in encs]
        finally:
            for e in encs:
                _lib_.cf_encoding_free(ctypes.byref(e))

    def decode(self, ids, skip_special_tokens=False):
        ids = list(ids)
        arr = (ctypes.c_int64 * len(ids))(*ids)
        out = ctypes.c_void_p()
        err = _lib.cf_error()
        check(_lib_, _lib_.cf_tokenizer_decode(self._handle, arr, len(ids), int(skip_special_tokens),
                                               ctypes.byref(out), ctypes.byref(err)), err)
        try:
            return ctypes.string_at(out).decode("utf-8")
        finally:
            _lib.free(out)

    def __call__(self, text, pair=None, **options):
        """transformers-style: {"input_ids", "token_type_ids", "attention_mask"}."""
        e = self.encode(text, pair, **options)
        return {"input_ids": e.ids, "token_type_ids": e.type_ids, "attention_mask": e.attention_mask}

    def token_to_id(self, token):
        i = _lib_.cf_tokenizer_token_to_id(self._handle, token.encode())
        return None if i < 0 else i

    def id_to_token(self, i):
        t = _lib_.cf_tokenizer_id_to_token(self._handle, i)
        return None if t is None else t.decode("utf-8")

    @property
    def vocab_size(self):
        """Including added tokens."""
        return _lib_.cf_tokenizer_vocab_size(self._handle)

    def __len__(self):
        return self.vocab_size

    def special_token(self, role):
        """The text of a special token by role ("bos_token", "eos_token", "pad_token", ...), or None."""
        t = _lib_.cf_tokenizer_special_token(self._handle, role.encode())
        return None if t is None else t.decode("utf-8")

    def special_id(self, role):
        i = _lib_.cf_tokenizer_special_id(self._handle, role.encode())
        return None if i < 0 else i

    @property
    def model_max_length(self):
        return _lib_.cf_tokenizer_model_max_length(self._handle) or None

    def num_special_tokens_to_add(self, pair=False):
        return _lib_.cf_tokenizer_num_special_tokens_to_add(self._handle, int(pair))

    def close(self):
        if getattr(self, "_handle", None) is not None:
            _lib_.cf_tokenizer_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()
