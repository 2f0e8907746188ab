"""Writes jaxbias/data/digits.npz from scikit-learn's copy of the UCI optical digits.

Run once, from the repository root, where scikit-learn is installed:

    python scripts/make_digits_data.py

``jaxbias.inputs.digits`` then reads the file with numpy alone, so scikit-learn is not a
dependency of the package. The file holds the 1797 8x8 images of the UCI "Optical Recognition
of Handwritten Digits" test set (Alpaydin & Kaynak 1998, CC BY 4.0; see jaxbias/data/README.md)
as ``sklearn.datasets.load_digits`` returns them, in the same order:

* ``pixels``: ``(1797, 64)`` uint8, values 0..16 (``load_digits().data``, exact integers).
* ``labels``: ``(1797,)`` uint8, digits 0..9 (``load_digits().target``).

The script checks that the uint8 arrays convert back to sklearn's float64 / int64 arrays exactly,
and prints their SHA-256 (the one ``tests/test_inputs.py`` pins).
"""

from __future__ import annotations

import hashlib
import pathlib

import numpy as np
from sklearn.datasets import load_digits

OUT = pathlib.Path(__file__).resolve().parent.parent / "jaxbias" / "data" / "digits.npz"


def main() -> None:
    ref = load_digits()
    pixels = ref.data.astype(np.uint8)
    labels = ref.target.astype(np.uint8)
    if not (np.array_equal(pixels.astype(ref.data.dtype), ref.data) and np.array_equal(labels, ref.target)):
        raise SystemExit("load_digits() returned values that are not integers in 0..255; not written")
    np.savez_compressed(OUT, pixels=pixels, labels=labels)
    digest = hashlib.sha256(pixels.tobytes() + labels.tobytes()).hexdigest()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); sha256(pixels + labels) = {digest}")


if __name__ == "__main__":
    main()
