"""cformer: Hugging Face transformer pipelines in C, from Python (ctypes; no compiler needed).

    >>> import cformer
    >>> classify = cformer.pipeline("sentiment-analysis", model="path/to/model")
    >>> classify("I love this!")
    [{'label': 'POSITIVE', 'score': 0.99...}]

libcformer is found through $CFORMER_LIBRARY, then the system loader (an installed package or
LD_LIBRARY_PATH), then the build folders of the source tree this package sits in.
"""
from . import _lib as _loader
from .errors import CformerError
from .pipeline import Pipeline, pipeline
from .tokenizer import Encoding, Tokenizer

__version__ = _loader.lib.cf_version().decode()

__all__ = ["pipeline", "Pipeline", "Tokenizer", "Encoding", "CformerError", "__version__"]
