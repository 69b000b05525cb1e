"""cformer.pipeline: the Python pipeline() API on libcformer."""
import ctypes
import json
import os
import queue
import threading

from . import _lib
from .errors import check

_lib_ = _lib.lib


def _payload(task, args, kwargs):
    """The Inference API body {"inputs", "parameters"} for a pipeline call, mapping the Python
    pipeline's calling conventions: question-answering's question=/context= keywords and
    zero-shot's second positional argument (candidate_labels)."""
    params = dict(kwargs)
    if not args and "question" in params and "context" in params:
        inputs = {"question": params.pop("question"), "context": params.pop("context")}
    elif args:
        inputs = args[0]
        if len(args) == 2 and task.startswith("zero-shot"):
            params["candidate_labels"] = args[1]
        elif len(args) > 1:
            raise TypeError(f"{task}: expected one positional input, got {len(args)}")
    elif "inputs" in params:
        inputs = params.pop("inputs")
    else:
        raise TypeError(f"{task}: no inputs given")
    if isinstance(inputs, os.PathLike):
        inputs = os.fspath(inputs)
    body = {"inputs": inputs}
    if params:
        body["parameters"] = params
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


class Pipeline:
    """An open pipeline. Call it like the transformers pipeline; the result is the same Python
    objects (lists, dicts, str, float). Safe to call from several threads."""

    def __init__(self, task, model=None, *, threads=None, dtype=None, tokenizer=None):
        options = {k: v for k, v in (("threads", threads), ("dtype", dtype), ("tokenizer", tokenizer))
                   if v is not None}
        handle = ctypes.c_void_p()
        err = _lib.cf_error()
        status = _lib_.cf_pipeline_open(
            task.encode(), os.fspath(model).encode() if model is not None else None,
            json.dumps(options).encode() if options else None, ctypes.byref(handle), ctypes.byref(err))
        check(_lib_, status, err)
        self._handle = handle
        self._requested = task

    @property
    def task(self):
        """The canonical task name ("sentiment-analysis" -> "text-classification")."""
        return _lib_.cf_pipeline_task(self._handle).decode()

    @property
    def model_dir(self):
        """The model folder that was loaded."""
        return _lib_.cf_pipeline_model_dir(self._handle).decode()

    def __call__(self, *args, **kwargs):
        return self._run(_payload(self._requested, args, kwargs), None)

    def stream(self, *args, **kwargs):
        """Generate text piece by piece: yields str pieces of the new text as they are produced;
        the generator's return value (StopIteration.value) is the full result."""
        payload = _payload(self._requested, args, kwargs)
        pieces = queue.Queue()
        outcome = {}

        def work():
            try:
                outcome["result"] = self._run(payload, pieces.put)
            except BaseException as e:  # handed to the consumer below
                outcome["error"] = e
            pieces.put(None)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while (piece := pieces.get()) is not None:
            yield piece
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _run(self, payload, on_text):
        if self._handle is None:
            raise ValueError("pipeline is closed")
        result = ctypes.c_void_p()
        err = _lib.cf_error()
        if on_text is None:
            status = _lib_.cf_pipeline_run(self._handle, payload, ctypes.byref(result), ctypes.byref(err))
        else:
            pending = bytearray()  # pieces end on whole characters; keep bytes until they decode

            def on_piece(_ctx, text, size):
                pending.extend(ctypes.string_at(text, size))
                try:
                    on_text(pending.decode("utf-8"))
                    pending.clear()
                except UnicodeDecodeError:
                    pass

            callback = _lib.STREAM_FN(on_piece)
            status = _lib_.cf_pipeline_run_stream(self._handle, payload, callback, None, ctypes.byref(result),
                                                  ctypes.byref(err))
        try:
            check(_lib_, status, err)
            return json.loads(_lib_.cf_result_json(result).decode("utf-8"))
        finally:
            _lib_.cf_result_free(result)

    def close(self):
        if getattr(self, "_handle", None) is not None:
            _lib_.cf_pipeline_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __repr__(self):
        return f"cformer.Pipeline(task={self.task!r}, model_dir={self.model_dir!r})"


def pipeline(task, model=None, **load_options):
    """Open `task` on `model` (a folder or a Hub id in the HF cache; None = the task's default).
    load_options: threads=N, dtype="f32", tokenizer=FOLDER."""
    return Pipeline(task, model, **load_options)
