"""fMLLR from a fixed first pass, EM iterated on its words (diagnostic).

    python bench/asr_fmllr_em.py FEATS MODEL_DIR LM HYP REF LM_WEIGHT [--steps 1,3] [--only-correct]

MODEL_DIR is a train-sat GMM dir or a train-dnn --fmllr DNN dir (the SAT Gaussians estimate
the transforms). HYP holds the first pass's `UTT WORDS` lines (or the true transcripts, for
an oracle). Each EM step force-aligns those words under the current transforms (silence
frames weighted 0.01, as `asr decode --fmllr`) and re-estimates each speaker's transform
(utt2spk of FEATS); after each step of --steps, FEATS is decoded with MODEL_DIR and the
transforms at LM_WEIGHT and scored against REF (the set, and each synthesizer: the speaker
ids' prefix before `_`). --only-correct keeps only the HYP words that match REF on a
minimum-edit path (an oracle selection). One JSON line per step on stdout.
"""

import argparse
import json

import numpy as np

from speechlang.asr.align import align_utterance
from speechlang.asr.decoder import DecodeConfig, decode_dir
from speechlang.asr.featfile import read_feats
from speechlang.asr.fmllr import FmllrConfig, apply_transform, estimate_speakers, frame_weights
from speechlang.asr.model import read_model
from speechlang.asr.score import edit_ops, read_transcripts


def matched(ref: list[str], hyp: list[str]) -> list[bool]:
    """Per hyp word: True where a minimum-edit path matches it to an equal ref word."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), int)
    d[:, 0], d[0, :] = range(n + 1), range(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    ok, i, j = [False] * m, n, m
    while i > 0 and j > 0:
        if d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            ok[j - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return ok


def wer_by_group(ref: dict, hyps: dict, utt2spk: dict) -> dict:
    """WER (%) of the whole set and of each speaker-id prefix."""
    errs: dict[str, list[int]] = {}
    for u, r in ref.items():
        s, d, i = edit_ops(r, hyps.get(u, []))
        for grp in ("all", utt2spk[u].split("_")[0]):
            e = errs.setdefault(grp, [0, 0])
            e[0] += s + d + i
            e[1] += len(r)
    return {g: round(100 * e / n, 2) for g, (e, n) in errs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("feats")
    ap.add_argument("model_dir")
    ap.add_argument("lm")
    ap.add_argument("hyp")
    ap.add_argument("ref")
    ap.add_argument("lm_weight", type=float)
    ap.add_argument("--steps", default="1,3", help="EM steps after which to decode")
    ap.add_argument("--only-correct", action="store_true")
    args = ap.parse_args()
    steps = sorted(int(s) for s in args.steps.split(","))
    model, feats = read_model(args.model_dir), read_feats(args.feats)
    utt2spk = feats.datadir().utt2spk
    ref, first = read_transcripts(args.ref), read_transcripts(args.hyp)
    sil = model.lexicon.phone_id[model.lexicon.silence]
    fcfg = FmllrConfig(sil_weight=0.01)
    print(json.dumps({"step": 0, "wer": wer_by_group(ref, first, utt2spk)}), flush=True)
    transforms = None
    for step in range(1, steps[-1] + 1):
        items = []
        for u in feats.utts():
            x, words = model.input(feats[u]), first.get(u, [])
            a = (transforms or {}).get(utt2spk[u])
            ali, g, path, _ = align_utterance(model, x if a is None else apply_transform(a, x), words)
            if ali is None:
                continue
            wt = frame_weights(ali.phone, sil, fcfg.sil_weight)
            if args.only_correct:  # word_pos -1 (silence) indexes the appended True
                keep = np.array(matched(ref[u], words) + [True])
                wt = np.where(keep[g.word_pos[path]], wt, 0.0)
            items.append((u, x, ali.pdf, wt))
        transforms, info = estimate_speakers(model.gmm, items, utt2spk, fcfg, transforms)
        if step in steps:
            out = list(decode_dir(args.feats, args.model_dir, args.lm,
                                  DecodeConfig(lm_weight=args.lm_weight), "cpu", transforms=transforms))
            hyps = {u: (h[0].words if h else []) for u, h in out[:-1]}
            print(json.dumps({"step": step, "auxf_gain_per_frame": info["auxf_gain_per_frame"],
                              "wer": wer_by_group(ref, hyps, utt2spk)}), flush=True)


if __name__ == "__main__":
    main()
