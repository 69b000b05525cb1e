"""Loading libcformer and declaring the C functions of include/cformer.h for ctypes."""
import ctypes
import glob
import os

_SONAME = "libcformer.so.0"


class cf_error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 1024)]


class cf_encode_options(ctypes.Structure):
    _fields_ = [
        ("add_special_tokens", ctypes.c_int),
        ("truncation", ctypes.c_int),
        ("max_length", ctypes.c_int64),
        ("stride", ctypes.c_int64),
        ("return_overflowing", ctypes.c_int),
        ("padding", ctypes.c_int),
        ("pad_left", ctypes.c_int),
        ("pad_to_multiple_of", ctypes.c_int64),
    ]


class cf_encoding(ctypes.Structure):
    pass


_I64P = ctypes.POINTER(ctypes.c_int64)
cf_encoding._fields_ = [
    ("n", ctypes.c_size_t),
    ("ids", _I64P),
    ("type_ids", _I64P),
    ("tokens", ctypes.POINTER(ctypes.c_char_p)),
    ("offsets", ctypes.POINTER(ctypes.c_int64 * 2)),
    ("special_mask", _I64P),
    ("attention_mask", _I64P),
    ("word_ids", _I64P),
    ("sequence_ids", _I64P),
    ("n_overflowing", ctypes.c_size_t),
    ("overflowing", ctypes.POINTER(cf_encoding)),
]

STREAM_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)

_P = ctypes.c_void_p
_S = ctypes.c_char_p
_ERR = ctypes.POINTER(cf_error)
_OUT = ctypes.POINTER(ctypes.c_void_p)

# name: (restype, argtypes) for every function the binding calls.
_SIGNATURES = {
    "cf_version": (_S, []),
    "cf_status_name": (_S, [ctypes.c_int]),
    "cf_pipeline_open": (ctypes.c_int, [_S, _S, _S, _OUT, _ERR]),
    "cf_pipeline_free": (None, [_P]),
    "cf_pipeline_run": (ctypes.c_int, [_P, _S, _OUT, _ERR]),
    "cf_pipeline_run_stream": (ctypes.c_int, [_P, _S, STREAM_FN, _P, _OUT, _ERR]),
    "cf_pipeline_task": (_S, [_P]),
    "cf_pipeline_model_dir": (_S, [_P]),
    "cf_result_json": (_S, [_P]),
    "cf_result_free": (None, [_P]),
    "cf_tokenizer_load": (ctypes.c_int, [_S, _OUT, _ERR]),
    "cf_tokenizer_load_legacy": (ctypes.c_int, [_S, _OUT, _ERR]),
    "cf_tokenizer_load_target": (ctypes.c_int, [_S, _OUT, _ERR]),
    "cf_tokenizer_free": (None, [_P]),
    "cf_encode_options_default": (cf_encode_options, []),
    "cf_tokenizer_encode": (ctypes.c_int, [_P, _S, ctypes.POINTER(cf_encode_options), ctypes.POINTER(cf_encoding), _ERR]),
    "cf_tokenizer_encode_pair": (
        ctypes.c_int, [_P, _S, _S, ctypes.POINTER(cf_encode_options), ctypes.POINTER(cf_encoding), _ERR]),
    "cf_tokenizer_encode_batch": (
        ctypes.c_int,
        [_P, ctypes.POINTER(_S), ctypes.POINTER(_S), ctypes.c_size_t, ctypes.POINTER(cf_encode_options),
         ctypes.POINTER(cf_encoding), _ERR]),
    "cf_encoding_free": (None, [ctypes.POINTER(cf_encoding)]),
    "cf_tokenizer_decode": (ctypes.c_int, [_P, _I64P, ctypes.c_size_t, ctypes.c_int, _OUT, _ERR]),
    "cf_tokenizer_token_to_id": (ctypes.c_int64, [_P, _S]),
    "cf_tokenizer_id_to_token": (_S, [_P, ctypes.c_int64]),
    "cf_tokenizer_vocab_size": (ctypes.c_size_t, [_P]),
    "cf_tokenizer_special_token": (_S, [_P, _S]),
    "cf_tokenizer_special_id": (ctypes.c_int64, [_P, _S]),
    "cf_tokenizer_model_max_length": (ctypes.c_int64, [_P]),
    "cf_tokenizer_is_special_id": (ctypes.c_int, [_P, ctypes.c_int64]),
    "cf_tokenizer_num_special_tokens_to_add": (ctypes.c_size_t, [_P, ctypes.c_int]),
}


def _candidates():
    """Where libcformer is looked for, in order."""
    env = os.environ.get("CFORMER_LIBRARY")
    if env:
        yield env
        return
    yield _SONAME  # the system loader: LD_LIBRARY_PATH, ld.so.cache, /usr/lib
    # Imported from the source tree (python/cformer): the tree's build folders, build/ first.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    builds = [p for p in glob.glob(os.path.join(root, "build*", "libcformer.so")) if os.path.exists(p)]
    builds.sort(key=lambda p: (os.path.basename(os.path.dirname(p)) != "build", -os.path.getmtime(p)))
    yield from builds


def load():
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
            continue
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        return lib
    raise ImportError(
        "cformer: cannot load libcformer (set CFORMER_LIBRARY to its path, install the cformer "
        "package, or build the source tree):\n  " + "\n  ".join(tried))


lib = load()
free = ctypes.CDLL(None).free
free.argtypes = [ctypes.c_void_p]
free.restype = None
