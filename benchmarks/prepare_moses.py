"""Put the MOSES training molecules (1,584,663 ZINC Clean Leads SMILES) where
``load_dataset('MOSES')`` reads them, without network access beyond the package index: the file
ships gzipped inside the ``molsets`` wheel on PyPI (``moses/dataset/data/train.csv.gz``).

Usage: python benchmarks/prepare_moses.py [ROOT]   (default $GRAPHSSL_ROOT or ./datasets)

Writes ROOT/MOSES/raw/train.csv (atomically) and prints its SHA-256. With network access
``load_dataset('MOSES')`` downloads the same file from the MOSES repository instead.
"""
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "molsets==0.3.1"
MEMBER = "moses/dataset/data/train.csv.gz"


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GRAPHSSL_ROOT", "datasets"))
    target = root / "MOSES" / "raw" / "train.csv"
    if target.exists():
        print(f"{target} already exists")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps",
                            "--quiet", "-d", tmp], check=True)
            wheel = next(Path(tmp).glob("molsets-*.whl"))
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as packed, \
                    gzip.open(packed) as source, open(part, "wb") as out:
                shutil.copyfileobj(source, out)
            os.replace(part, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    lines = sum(1 for _ in open(target)) - 1
    print(f"{target}: {lines} SMILES, sha256 {digest}")


if __name__ == "__main__":
    main()
