"""GMM-HMM model dirs: reader and writer.

    m = read_model("exp/tri"); ll = m.gmm.loglik(feats)

A model dir holds everything needed to align and decode with it:

    gmm.npz       weights (G,), means (G, D), vars (G, D), start (P+1,) (pdf p owns components
                  start[p]..start[p+1]-1), loop_prob (phones, 3) self-loop probabilities
    tree.json     the state-tying tree (speechlang.asr.tree.Tree.to_json)
    phones.txt    PHONE ID per line; lexicon.txt: the lexicon it was trained with
    model.json    {"format": "speechlang-gmm-hmm", "version": 1, "kind": "mono"|"tri"|"sat",
                   "features": FeatureConfig dict, "silence": "SIL", "num_pdfs", "num_gauss",
                   "input_dim": spliced dimension of transform.npz or null, "train": training
                   config and log}
    trans.npz     SAT models only: the training speakers' fMLLR transforms (speechlang.asr.fmllr)
    transform.npz models trained with --lda-dim only: the input transform (splice, LDA, MLLT;
                  speechlang.asr.lda) that maps the feature dir's features to the GMMs' space
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from speechlang.asr.gmm import GMMSet
from speechlang.asr.lda import InputTransform, read_input_transform, write_input_transform
from speechlang.asr.lexicon import Lexicon, read_lexicon, write_lexicon
from speechlang.asr.tree import Tree
from speechlang.errors import DataError, FormatError
from speechlang.io import atomic_dir, atomic_output

FORMAT, VERSION = "speechlang-gmm-hmm", 1


@dataclass
class AcousticModel:
    kind: str  # mono or tri
    lexicon: Lexicon
    tree: Tree
    gmm: GMMSet
    loop_prob: np.ndarray  # (phones, states)
    features: dict  # FeatureConfig.to_dict()
    info: dict = field(default_factory=dict)
    transform: InputTransform | None = None  # splice + LDA + MLLT; None: the features as they are

    def input(self, feats: np.ndarray) -> np.ndarray:
        """(T, D) features of a feature dir -> (T, gmm.dim) the GMMs' input."""
        return feats if self.transform is None else self.transform(feats)

    @property
    def phone_id(self) -> dict[str, int]:
        return self.lexicon.phone_id


def write_model(m: AcousticModel, path: str | os.PathLike, transforms: dict | None = None) -> None:
    """Write the model dir atomically (a complete dir or nothing); `transforms` {speaker: (D, D+1)}
    go to trans.npz."""
    with atomic_dir(path) as tmp:
        tmp = Path(tmp)
        if transforms is not None:
            from speechlang.asr.fmllr import write_transforms
            write_transforms(tmp / "trans.npz", transforms)
        if m.transform is not None:
            write_input_transform(tmp / "transform.npz", m.transform)
        with atomic_output(tmp / "gmm.npz", "wb") as f:
            np.savez(f, weights=m.gmm.weights, means=m.gmm.means, vars=m.gmm.vars,
                     start=m.gmm.start, loop_prob=m.loop_prob)
        with atomic_output(tmp / "tree.json") as f:
            json.dump(m.tree.to_json(), f)
        with atomic_output(tmp / "phones.txt") as f:
            for i, p in enumerate(m.lexicon.phones):
                f.write(f"{p} {i}\n")
        write_lexicon(m.lexicon, tmp / "lexicon.txt")
        meta = {"format": FORMAT, "version": VERSION, "kind": m.kind, "features": m.features,
                "silence": m.lexicon.silence, "num_pdfs": m.gmm.num_pdfs,
                "num_gauss": m.gmm.num_gauss, "train": m.info,
                "input_dim": None if m.transform is None else m.transform.matrix.shape[1]}
        with atomic_output(tmp / "model.json") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.write("\n")


def read_model(path: str | os.PathLike) -> AcousticModel:
    p = Path(path)
    for name in ("model.json", "gmm.npz", "tree.json", "lexicon.txt"):
        if not (p / name).is_file():
            raise DataError(f"{p}: not a complete model dir ({name} is missing); train one with "
                            "`speechlang asr train-mono` or `train-tri`")
    try:
        meta = json.loads((p / "model.json").read_text(encoding="utf-8"))
        tree = Tree.from_json(json.loads((p / "tree.json").read_text(encoding="utf-8")))
        z = np.load(p / "gmm.npz")
        gmm = GMMSet(z["weights"], z["means"], z["vars"], z["start"].astype(np.int32))
        loop = z["loop_prob"]
    except (json.JSONDecodeError, KeyError, ValueError, OSError) as e:
        raise FormatError(f"{p}: corrupt model dir ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT:
        raise FormatError(f"{p / 'model.json'}: not a speechlang GMM-HMM model")
    lex = read_lexicon(p / "lexicon.txt")
    if gmm.num_pdfs != tree.num_pdfs or len(lex.phones) != tree.num_phones:
        raise FormatError(f"{p}: gmm.npz, tree.json and lexicon.txt do not belong together")
    transform = None
    if meta.get("input_dim") is not None:
        if not (p / "transform.npz").is_file():
            raise DataError(f"{p}: not a complete model dir (transform.npz is missing)")
        transform = read_input_transform(p / "transform.npz")
        if transform.dim != gmm.dim:
            raise FormatError(f"{p}: transform.npz gives {transform.dim} dimensions but the GMMs have {gmm.dim}")
    return AcousticModel(meta["kind"], lex, tree, gmm, loop, meta["features"], meta.get("train", {}),
                         transform)
