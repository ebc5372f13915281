"""The service's limits and micro-batching knobs, in one frozen object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeSettings:
    """How much one request may carry and how requests are batched.

    ``max_batch`` texts (summed over requests) go into one model call; 1 turns
    micro-batching off (one request per call, for comparison). The worker waits at
    most ``max_wait_ms`` after the oldest queued request for others to join it; under
    load the queue fills while the model runs, so batches form without waiting.
    ``max_queue`` bounds the texts waiting for the model: past it requests get 503
    with Retry-After. ``batch_size``: windows per forward pass inside one call.
    ``drain_timeout``: seconds shutdown waits for open requests (uvicorn), and again for
    work still queued (the batcher).
    """

    max_body_bytes: int = 1_000_000
    max_texts: int = 64
    max_chars: int = 20_000  # a PubMed abstract is 1-3k characters; a long text holds up everyone queued behind it
    max_labels: int = 32
    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 1024
    batch_size: int = 8  # on a CPU larger forward passes cost more per window (padding, cache), not less
    drain_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_texts", "max_chars", "max_labels", "max_batch", "max_queue", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0 or self.drain_timeout < 0:
            raise ValueError("max_wait_ms and drain_timeout must be >= 0")
        if self.max_queue < self.max_texts:
            # otherwise a request at the size limit could never be queued
            raise ValueError(f"max_queue ({self.max_queue}) must be >= max_texts ({self.max_texts})")
