"""Does a MOSES pretraining subset contain molecules of the target's validation or test split?
The transfer protocol never shows the target's held-out molecules to pretraining; with an
outside collection that holds only if the two do not share molecules. Compares RDKit canonical
SMILES without stereochemistry (so a stereoisomer counts as the same molecule: the stricter
test) of the MOSES molecules, all of them or the subset that
``load_dataset('MOSES', max_molecules=N, seed=S)`` keeps, with those of every split of the
target.

Usage: GRAPHSSL_MIRROR=../shared/datasets python benchmarks/diag_moses_overlap.py
       [--max-molecules N] [--seed 0] [--target ogbg-molbace]   (default: all of MOSES)
"""
import argparse
import os

from rdkit import Chem, RDLogger

from graphssl.data import load_dataset
from graphssl.data.smiles import read_smiles, subset_indices


def canonical(smiles):
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-molecules", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="ogbg-molbace")
    args = parser.parse_args()
    RDLogger.DisableLog("rdApp.*")
    root = os.environ.get("GRAPHSSL_ROOT", "datasets")
    target = load_dataset(args.target, root=root, mirror=os.environ.get("GRAPHSSL_MIRROR"))
    # OGB keeps each molecule's SMILES in dataset order
    target_smiles = read_smiles(os.path.join(target.root, "mapping", "mol.csv.gz"), "smiles")
    moses = read_smiles(os.path.join(root, "MOSES", "raw", "train.csv"))
    moses = [moses[i] for i in subset_indices(len(moses), args.max_molecules, args.seed)]
    pretraining = {canonical(s) for s in moses} - {None}
    split = target.get_idx_split()
    for part in ("train", "valid", "test"):
        smiles = [canonical(target_smiles[int(i)]) for i in split[part]]
        shared = sum(s in pretraining for s in smiles if s is not None)
        print(f"{args.target} {part}: {len(smiles)} molecules, {shared} of them in the MOSES "
              f"subset ({len(pretraining)} distinct molecules, max_molecules="
              f"{args.max_molecules}, seed={args.seed})")


if __name__ == "__main__":
    main()
