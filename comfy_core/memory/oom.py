"""Recognising out-of-memory errors from every backend torch can raise them from."""

from __future__ import annotations

import torch

# Messages of OOM errors raised as plain RuntimeError (MPS, cuDNN/cuBLAS workspaces, CPU).
_OOM_MESSAGES = (
    "out of memory",
    "CUDNN_STATUS_ALLOC_FAILED",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "DefaultCPUAllocator: can't allocate memory",
)


def is_oom(exc: BaseException) -> bool:
    """True for torch.OutOfMemoryError and backend RuntimeErrors that mean the same."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    if isinstance(exc, RuntimeError):
        message = str(exc)
        return any(text.lower() in message.lower() for text in _OOM_MESSAGES)
    return False
