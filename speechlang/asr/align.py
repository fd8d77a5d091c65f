"""Forced alignment of transcripts with a GMM-HMM: per-frame states, word and phone CTMs.

    ali, words, phones = align_utterance(model, feats, ["one", "two"])
    align_dir("exp/feats/train", "exp/mono", "exp/mono_ali")
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from speechlang import log
from speechlang.asr.alignfile import UttAlignment, write_alignments, write_ctm
from speechlang.asr.featfile import read_feats
from speechlang.asr.features import check_features
from speechlang.asr.hmm import Graph, forward_backward, utterance_graph, viterbi
from speechlang.asr.lexicon import map_transcripts
from speechlang.asr.model import AcousticModel, read_model
from speechlang.errors import DataError
from speechlang.io import atomic_dir


def training_graph(model: AcousticModel, words: list[str], sil_prob: float = 0.5) -> Graph:
    lex = model.lexicon
    return utterance_graph(words, lex.prons, lex.phone_id, lex.silence, model.tree,
                           model.loop_prob, sil_prob)


def graph_loglik(model: AcousticModel, feats: np.ndarray, g: Graph) -> np.ndarray:
    """(T, S) emission log-likelihoods of the graph's states, computing only the pdfs it uses."""
    pdfs, inverse = np.unique(g.pdf, return_inverse=True)
    ll = model.gmm.loglik(feats, pdfs=pdfs)
    return np.ascontiguousarray(ll[:, inverse], dtype=np.float32)


def align_utterance(model: AcousticModel, feats: np.ndarray, words: list[str],
                    sil_prob: float = 0.5) -> tuple[UttAlignment | None, Graph, np.ndarray, float]:
    """Viterbi alignment: (alignment or None when no path fits, graph, state path, log score)."""
    g = training_graph(model, words, sil_prob)
    path, score = viterbi(graph_loglik(model, feats, g), g)
    if not math.isfinite(score):
        return None, g, path, score
    ali = UttAlignment(g.pdf[path], g.phone[path], g.hmm_state[path], g.ctx_left[path],
                       g.ctx_right[path])
    return ali, g, path, score


def posteriors(model: AcousticModel, feats: np.ndarray, words: list[str], sil_prob: float = 0.5):
    """Baum-Welch: (graph, state posteriors (T, S), log-likelihood)."""
    g = training_graph(model, words, sil_prob)
    gamma, total = forward_backward(graph_loglik(model, feats, g), g)
    return g, gamma, total


def ctm_rows(utt: str, words: list[str], g: Graph, path: np.ndarray, model: AcousticModel,
             shift: float) -> tuple[list, list]:
    """Word and phone CTM rows from a state path (silence words left out, SIL phones kept)."""
    wrows, prows = [], []
    t_n = len(path)
    t = 0
    while t < t_n:
        inst = g.instance[path[t]]
        e = t
        while e + 1 < t_n and g.instance[path[e + 1]] == inst:
            e += 1
        prows.append((utt, t * shift, (e + 1 - t) * shift, model.lexicon.phones[g.phone[path[t]]]))
        t = e + 1
    t = 0
    while t < t_n:
        pos = g.word_pos[path[t]]
        e = t
        while e + 1 < t_n and g.word_pos[path[e + 1]] == pos:
            e += 1
        if pos >= 0:
            wrows.append((utt, t * shift, (e + 1 - t) * shift, words[pos]))
        t = e + 1
    return wrows, prows


def align_dir(feat_dir: str | os.PathLike, model_dir: str | os.PathLike, out_dir: str | os.PathLike,
              oov_word: str | None = None, sil_prob: float = 0.5) -> dict:
    """Align every utterance of a feature dir; write ali.npz, ali.json, words.ctm, phones.ctm."""
    model = read_model(model_dir)
    feats = read_feats(feat_dir)
    check_features(feats.config, model.features, feat_dir, model_dir)
    text = map_transcripts(feats.datadir().text, model.lexicon, oov_word, f"{feat_dir}/text")
    shift = float(model.features.get("frame_shift_ms", 10.0)) / 1000
    utts, alis, wrows, prows, failed = [], [], [], [], []
    total = 0.0
    prog = log.Progress("align", total=len(feats), unit="utt")
    for u in feats.utts():
        x = model.input(feats[u])
        ali, g, path, score = align_utterance(model, x, text[u], sil_prob)
        prog.update(1)
        if ali is None:
            failed.append(u)
            continue
        total += score
        utts.append(u)
        alis.append(ali)
        w, p = ctm_rows(u, text[u], g, path, model, shift)
        wrows += w
        prows += p
    prog.close()
    if failed:
        log.warn(f"{len(failed)} utterance(s) could not be aligned (too short for the transcript), "
                 f"e.g. {failed[0]}")
    if not utts:
        raise DataError(f"{feat_dir}: no utterance could be aligned")
    with atomic_dir(out_dir) as tmp:
        tmp = Path(tmp)
        write_alignments(tmp, utts, alis, {"num_pdfs": model.gmm.num_pdfs, "model": str(model_dir),
                                           "frame_shift_s": shift, "phones": model.lexicon.phones,
                                           "silence": model.lexicon.silence,
                                           "cross_word": model.tree.cross_word})
        write_ctm(tmp / "words.ctm", wrows)
        write_ctm(tmp / "phones.ctm", prows)
    frames = sum(len(a.pdf) for a in alis)
    return {"utts": len(utts), "failed": len(failed), "frames": frames,
            "avg_loglik_per_frame": round(total / max(frames, 1), 4)}

