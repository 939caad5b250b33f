"""npu_torch: the NPU as a PyTorch device (PrivateUse1, "privateuseone").

    import torch, npu_torch
    x = torch.randn(3, 4).to("privateuseone")   # or npu_torch.device()
    y = torch.relu(x @ x.T)                      # runs on the NPU
    torch.npu.synchronize()

Importing loads the C++ extension (libnpu_torch_ext.so, beside this file
in the build tree) and registers the module as ``torch.npu``.
"""

import contextlib
import os

import torch

__all__ = [
    "device", "device_count", "current_device", "set_device", "synchronize",
    "is_available", "Stream", "Event", "current_stream", "default_stream",
    "set_stream", "stream", "memory_stats", "memory_allocated",
    "max_memory_allocated", "memory_reserved", "reset_peak_memory_stats",
    "empty_cache", "fallback_counts", "fallback_reset",
]

_here = os.path.dirname(os.path.abspath(__file__))
_lib = os.environ.get("NPU_TORCH_LIB", os.path.join(_here, "libnpu_torch_ext.so"))
torch.ops.load_library(_lib)
_ops = torch.ops.npu

DEVICE_TYPE = "privateuseone"


def _index(dev=None):
    if dev is None:
        return _ops.current_device()
    if isinstance(dev, int):
        return dev
    if isinstance(dev, str):
        dev = torch.device(dev)
    if isinstance(dev, torch.device):
        if dev.type != DEVICE_TYPE:
            raise ValueError(f"not an NPU device: {dev}")
        return _ops.current_device() if dev.index is None else dev.index
    raise TypeError(f"cannot interpret {dev!r} as an NPU device")


def device(index=None):
    """torch.device of NPU ``index`` (the current one by default)."""
    return torch.device(DEVICE_TYPE, _index(index))


def device_count():
    return int(_ops.device_count())


def is_available():
    return device_count() > 0


def current_device():
    return int(_ops.current_device())


def set_device(dev):
    _ops.set_device(_index(dev))


def synchronize(dev=None):
    """Waits for all work of every stream of the device."""
    _ops.synchronize(_index(dev))


class Stream:
    """An NPU stream (an in-order queue on a hardware queue)."""

    def __init__(self, device=None, priority=1, _id=None):
        self.device_index = _index(device)
        self.id = int(_ops.stream_new(self.device_index, priority)) if _id is None else _id

    @property
    def device(self):
        return torch.device(DEVICE_TYPE, self.device_index)

    def synchronize(self):
        _ops.stream_synchronize(self.device_index, self.id)

    def query(self):
        return bool(_ops.stream_query(self.device_index, self.id))

    def record_event(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def wait_event(self, event):
        event.wait(self)

    def wait_stream(self, other):
        self.wait_event(other.record_event())

    def __eq__(self, other):
        return (isinstance(other, Stream) and other.device_index == self.device_index
                and other.id == self.id)

    def __hash__(self):
        return hash((self.device_index, self.id))

    def __repr__(self):
        return f"<npu_torch.Stream device={self.device_index} id={self.id}>"


def current_stream(device=None):
    d = _index(device)
    return Stream(d, _id=int(_ops.stream_current(d)))


def default_stream(device=None):
    return Stream(_index(device), _id=0)


def set_stream(s):
    _ops.stream_set(s.device_index, s.id)


@contextlib.contextmanager
def stream(s):
    """Makes s the current stream of its device inside the block."""
    if s is None:
        yield
        return
    prev = current_stream(s.device_index)
    set_stream(s)
    try:
        yield s
    finally:
        set_stream(prev)


class Event:
    """An NPU event: record on a stream, wait, query, synchronize, time."""

    def __init__(self, enable_timing=False, device=None):
        self.device_index = _index(device)
        self.enable_timing = enable_timing
        self._h = int(_ops.event_new(self.device_index, enable_timing))

    def record(self, s=None):
        s = current_stream(self.device_index) if s is None else s
        _ops.event_record(self._h, s.device_index, s.id)

    def wait(self, s=None):
        s = current_stream(self.device_index) if s is None else s
        _ops.event_wait(self._h, s.device_index, s.id)

    def query(self):
        return bool(_ops.event_query(self._h))

    def synchronize(self):
        _ops.event_synchronize(self._h)

    def elapsed_time(self, end):
        """Milliseconds of device time from this event to end."""
        return float(_ops.event_elapsed_ms(self._h, end._h))

    def __del__(self):
        try:
            _ops.event_destroy(self._h)
        except Exception:
            pass


def memory_stats(device=None):
    names, values = _ops.memory_stats(_index(device))
    return dict(zip(names, values))


def memory_allocated(device=None):
    return memory_stats(device)["allocated_bytes.all.current"]


def max_memory_allocated(device=None):
    return memory_stats(device)["allocated_bytes.all.peak"]


def memory_reserved(device=None):
    return memory_stats(device)["reserved_bytes.all.current"]


def reset_peak_memory_stats(device=None):
    _ops.reset_peak_memory_stats(_index(device))


def empty_cache(device=None):
    """Returns the idle chunks of the device's memory pool to the system."""
    _ops.empty_cache(_index(device))


def fallback_counts():
    """{operator name: calls} of the operators that ran on the CPU (the boxed
    fallback, and the kernels' CPU paths, named npu_cpu_path::...)."""
    names, values = _ops.fallback_counts()
    return dict(zip(names, values))


def fallback_reset():
    _ops.fallback_reset()


import sys as _sys  # noqa: E402

# torch 1.13 knows no "npu" device type (torch.device("npu") raises), so
# _register_device_module() takes the backend's own type name: the module
# becomes torch.privateuseone. torch.npu is the same module, set alongside.
_me = _sys.modules[__name__]
if getattr(torch, DEVICE_TYPE, None) is not _me:
    torch._register_device_module(DEVICE_TYPE, _me)
if getattr(torch, "npu", None) is None:
    torch.npu = _me
    _sys.modules["torch.npu"] = _me
