"""Checkpoints of a training run: one file, replaced atomically, that a restarted run resumes from.

A checkpoint holds the run's fingerprint (its full config and key), the finished chunks'
measurements, and for the chunk in progress the networks' training state (parameters, optimizer
state, data order, ...) after a whole number of segments, with the measurements recorded so far.
It is one ``.npz`` file written beside its destination, synced and renamed into place
(:func:`jaxbias.io.atomic_write_bytes`): a kill at any moment leaves the previous checkpoint or the
new one, never a partial file. The state's arrays are stored as the leaves of the state pytree, in
order; the run rebuilds the tree from its own structure, so nothing is pickled. (The state is a
handful of plain arrays per chunk, written by one process; atomic npz files serve, and add no
dependency.)
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from typing import Any

import jax
import numpy as np

from jaxbias.io import atomic_write_bytes, check_writable

__all__ = ["Progress", "Store"]

_FORMAT = 2  # 2: no epoch permutation in the state


@dataclasses.dataclass
class Progress:
    """Where a run stands: chunk ``chunk`` starts at segment ``segment``.

    Attributes:
      chunk: index of the chunk in progress (== number of finished chunks).
      segment: segments of that chunk already run (0 with ``state`` None: the chunk starts afresh).
      state: the chunk's networks' state pytree (host arrays), or None.
      rows: the chunk's measurements so far, one dict per recording segment.
      results: the finished chunks' measurements (name -> array over their networks), or None.
      leaves: ``state``'s leaves as read from a file (``state`` is then None until :meth:`unflatten`).
    """

    chunk: int
    segment: int
    state: Any
    rows: list
    results: dict | None
    leaves: list | None = None

    def unflatten(self, template: Any) -> Any:
        """The saved state in the structure of ``template`` (a pytree of the run's own state)."""
        treedef = jax.tree_util.tree_structure(template)
        if treedef.num_leaves != len(self.leaves):
            raise ValueError(f"checkpoint state has {len(self.leaves)} arrays, the run's state {treedef.num_leaves}: "
                             "the checkpoint belongs to another version of the run")
        return jax.tree_util.tree_unflatten(treedef, self.leaves)

    @property
    def resumable(self) -> bool:
        return self.state is not None or self.leaves is not None


class Store:
    """The checkpoint file of one run (identified by its ``fingerprint``, a JSON string)."""

    def __init__(self, path: str | os.PathLike, fingerprint: str):
        self.path = check_writable(path)
        self.fingerprint = fingerprint

    def save(self, progress: Progress) -> None:
        """Writes ``progress`` atomically (only process 0 writes under ``jax.distributed``)."""
        if jax.process_index() != 0:
            return
        arrays: dict[str, np.ndarray] = {}
        meta = {"format": _FORMAT, "fingerprint": self.fingerprint, "chunk": progress.chunk,
                "segment": progress.segment, "rows": len(progress.rows), "row_keys": [],
                "results": sorted(progress.results) if progress.results else None}
        if progress.state is not None:
            leaves = jax.tree_util.tree_leaves(progress.state)
            meta["n_leaves"] = len(leaves)
            arrays.update({f"state_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)})
        for r, row in enumerate(progress.rows):
            meta["row_keys"].append(sorted(row))
            arrays.update({f"row_{r}_{k}": np.asarray(v) for k, v in row.items()})
        if progress.results:
            arrays.update({f"result_{k}": np.asarray(v) for k, v in progress.results.items()})
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        atomic_write_bytes(buffer.getvalue(), self.path)

    def load(self) -> Progress | None:
        """The saved progress of this run, or None when there is no checkpoint file.

        Raises:
          ValueError: the file is not a jaxbias checkpoint, or belongs to a run with other arguments.
        """
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                stored = {k: f[k] for k in f.files}
            meta = json.loads(bytes(stored.pop("meta")).decode())
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"checkpoint={str(self.path)!r}: not a readable jaxbias training checkpoint ({e}); "
                             "remove it to start afresh") from e
        if meta.get("format") != _FORMAT:
            raise ValueError(f"checkpoint={str(self.path)!r}: format {meta.get('format')!r}, expected {_FORMAT}")
        if meta["fingerprint"] != self.fingerprint:
            raise ValueError(f"checkpoint={str(self.path)!r} belongs to a run with other arguments: "
                             f"{_difference(meta['fingerprint'], self.fingerprint)}; pass another checkpoint path "
                             "or remove the file to start afresh")
        leaves = [stored[f"state_{i}"] for i in range(meta["n_leaves"])] if "n_leaves" in meta else None
        rows = [{k: stored[f"row_{r}_{k}"] for k in keys} for r, keys in enumerate(meta["row_keys"])]
        results = {k: stored[f"result_{k}"] for k in meta["results"]} if meta["results"] else None
        return Progress(meta["chunk"], meta["segment"], None, rows, results, leaves)


def _difference(old: str, new: str) -> str:
    """Which top-level settings differ between two fingerprints."""
    try:
        a, b = json.loads(old), json.loads(new)
        ca, cb = json.loads(a.get("config", "{}")), json.loads(b.get("config", "{}"))
    except (ValueError, AttributeError):
        return "the fingerprints differ"
    keys = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
    if a.get("key") != b.get("key"):
        keys.append("key")
    if a.get("vary") != b.get("vary"):
        keys.append("vary")
    return "differs in " + ", ".join(keys) if keys else "the fingerprints differ"


