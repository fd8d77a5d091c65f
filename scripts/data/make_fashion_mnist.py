"""Fashion-MNIST for CNN image classification: OUT/images/fashion-mnist/*-idx?-ubyte.gz, baselines.json.

    python scripts/data/make_fashion_mnist.py OUT

Copied byte for byte from Debian `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/, and
/usr/share/doc/dataset-fashion-mnist/benchmark/baselines.json); each IDX file is checked against the
sha256 prefix the corpus README lists.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

from common import log

SOURCE = Path("/usr/share/datasets/fashion-mnist")
BASELINES = Path("/usr/share/doc/dataset-fashion-mnist/benchmark/baselines.json")
SHA256 = {"train-images-idx3-ubyte.gz": "b0564c3eedabfbf8", "train-labels-idx1-ubyte.gz": "0ae29f65d86684f3",
          "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84d", "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44"}


def build(out: Path, source: Path = SOURCE) -> None:
    dst = out / "images" / "fashion-mnist"
    dst.mkdir(parents=True, exist_ok=True)
    for name, prefix in SHA256.items():
        src = source / name
        if not src.is_file():
            raise SystemExit(f"make_data: {src} missing; install the Debian package dataset-fashion-mnist")
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        if not digest.startswith(prefix):
            raise SystemExit(f"make_data: {src}: sha256 {digest[:16]}... is not the documented {prefix}...")
        shutil.copyfile(src, dst / name)
    if BASELINES.is_file():
        shutil.copyfile(BASELINES, dst / "baselines.json")
    log(f"fashion-mnist: {len(SHA256)} IDX files copied and checked")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    build(ap.parse_args().out)


if __name__ == "__main__":
    main()
