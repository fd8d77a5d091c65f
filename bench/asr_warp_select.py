"""Per-speaker VTLN warp selection for a hybrid DNN, by the network's confidence (diagnostic).

    python bench/asr_warp_select.py DNN_DIR 'feats/test_{w}' OUT LM_WEIGHT... [--no-adabn]

`feats/test_{w}` names one feature dir per warp factor w of the grid (0.80, 0.82, ..., 1.20;
each from `asr features --vtln-warp w`, the DNN's feature settings otherwise). For each
speaker (utt2spk) and warp: AdaBN on the speaker's warped features (TDNNs; --no-adabn: off),
then the criterion C(w) = mean over the speaker's frames of max_s log p(s | x_t^w). The warp
with the largest C is kept, and the speaker is decoded with it (AdaBN again) at each LM
weight (LM: DNN_DIR/lm.arpa): OUT_lmw<weight> holds `UTT WORDS` lines, OUT.json the
choices and the criteria.
A hybrid gives no likelihood of x, so this stands in for Kaldi's maximum-likelihood warp.
"""

import argparse
import json

import numpy as np
import torch

from speechlang.asr import dnn
from speechlang.asr.decoder import DecodeConfig, build_graph, decode_utterance
from speechlang.asr.featfile import read_feats
from speechlang.ngram.arpa import read_arpa

WARPS = [f"{0.80 + 0.02 * i:.2f}" for i in range(21)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dnn_dir")
    ap.add_argument("feats", help="feature dir pattern with {w}")
    ap.add_argument("out")
    ap.add_argument("lm_weights", nargs="+", type=float)
    ap.add_argument("--no-adabn", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = dnn.read_dnn(a.dnn_dir)
    log_prior = np.log(model.priors)
    feats = {w: read_feats(a.feats.format(w=w)) for w in WARPS}
    ref = feats["1.00"]
    utt2spk = ref.datadir().utt2spk
    spk_utts: dict[str, list[str]] = {}
    for u in ref.utts():
        spk_utts.setdefault(utt2spk[u], []).append(u)

    def adapt(w, utts):
        if not a.no_adabn:
            model.adapt_batchnorm([feats[w][u] for u in utts])

    choice, crit = {}, {}
    for spk, utts in spk_utts.items():
        c = []
        for w in WARPS:
            adapt(w, utts)
            best = [(model.loglik(feats[w][u], 1.0) + log_prior).max(1) for u in utts]
            c.append(float(np.concatenate(best).mean()))
        crit[spk], choice[spk] = c, WARPS[int(np.argmax(c))]
        print(spk, choice[spk], flush=True)
    with open(a.out + ".json", "w") as f:
        json.dump({"warps": WARPS, "choice": choice, "criterion": crit}, f, indent=1)
    lm = read_arpa(f"{a.dnn_dir}/lm.arpa")
    for lmw in a.lm_weights:
        cfg = DecodeConfig(lm_weight=lmw)
        graph = build_graph(model.hmm, lm, cfg)
        with open(f"{a.out}_lmw{lmw:g}", "w") as f:
            for spk, utts in spk_utts.items():
                w = choice[spk]
                adapt(w, utts)
                for u in utts:
                    hyps = decode_utterance(graph, model.loglik(feats[w][u]), cfg)
                    f.write(" ".join([u] + (hyps[0].words if hyps else [])) + "\n")


if __name__ == "__main__":
    main()
