"""Decoding: a static graph from lexicon + ARPA n-gram LM + HMMs, searched by a Viterbi beam.

    graph = build_graph(model, read_arpa("lm.arpa"), DecodeConfig(lm_weight=12))
    hyps = decode_utterance(graph, model.gmm.loglik(feats), DecodeConfig())

The graph is the composition H o C o L o G of Kaldi's HCLG, built without determinization:
every LM state (an ARPA context h, from the empty context up to order-1 words) is a
non-emitting node; every n-gram `h w` becomes, for each pronunciation of w, a chain of
emitting HMM states from h to the state of the longest suffix of `h w` that is itself a
context (identical chains into the same node are shared); each context has an epsilon
back-off arc to its longest proper suffix carrying bo(h). With cross-word triphones a node
is (context, the phone before, the right contexts that phone's states were built for): a
word's first phone takes its states from the phone before, its last phone has one chain per
class of right contexts giving the same states, and only words (or silence, or the end)
starting with a phone of that class leave the node. As in Kaldi's G.fst, a word may also be
reached over the back-off arc when its n-gram exists, and the search keeps the better path (in a proper
back-off model that is almost always the explicit n-gram). End of sentence is the final
weight p(</s> | h) with back-off. Optional silence: from each LM state, a silence HMM that
returns to the same state, with log(sil_prob) added.

Scores are natural-log acoustic likelihoods plus lm_weight * ln p_LM plus word_ins_penalty
per word; the beam is in the same units.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from speechlang import log
from speechlang.asr import _kernels
from speechlang.asr.features import check_features
from speechlang.asr.fmllr import FmllrConfig, apply_transform, estimate_speakers, frame_weights
from speechlang.asr.lexicon import SIL_WORD
from speechlang.asr.model import AcousticModel
from speechlang.asr.tree import BOUNDARY, across
from speechlang.errors import ConfigError, DataError
from speechlang.ngram.arpa import BOS, EOS, UNK, ArpaLM
from speechlang.ngram.query import log10_prob

LN10 = math.log(10.0)


@dataclass(frozen=True)
class DecodeConfig:
    lm_weight: float = 10.0  # LM scale (inverse of Kaldi's acoustic scale)
    word_ins_penalty: float = 0.0  # added per word (natural log); negative = fewer words
    beam: float = 160.0  # prune tokens worse than best - beam (log-likelihood units)
    max_active: int = 7000  # at most this many active HMM states per frame
    sil_prob: float = 0.5  # optional silence between words
    nbest: int = 1  # hypotheses per utterance (distinct final LM states)
    restrict_vocab: bool = False  # drop lexicon words the LM lacks instead of mapping to <unk>

    def __post_init__(self):
        if self.lm_weight < 0 or self.beam <= 0 or self.max_active < 1 or self.nbest < 1:
            raise ConfigError("--lm-weight must be >= 0, --beam > 0, --max-active and --nbest >= 1")
        if not 0 < self.sil_prob < 1:
            raise ConfigError("--sil-prob must be in (0, 1)")


@dataclass
class DecodeGraph:
    e_pdf: np.ndarray
    e_loop: np.ndarray
    e_fwd: np.ndarray
    e_next: np.ndarray
    e_word: np.ndarray
    n_arc_start: np.ndarray
    arc_dest: np.ndarray
    arc_w: np.ndarray  # lm_weight * LN10 * arc_lm + arc_const
    final_w: np.ndarray  # lm_weight * LN10 * final_lm where final_ok, else NEG
    start: int
    words: list[str]  # word id -> word (SIL_WORD included)
    contexts: list[tuple[str, ...]]
    arc_lm: np.ndarray  # log10 LM probability or back-off weight of each arc (0: silence)
    arc_const: np.ndarray  # word insertion penalty, or log(sil_prob) into silence
    final_lm: np.ndarray  # log10 p(</s> | context) of each node
    final_ok: np.ndarray  # (N,) bool: the utterance may end in the node
    lm_weight: float

    def reweighted(self, lm_weight: float) -> DecodeGraph:
        """The same graph with the LM scaled by `lm_weight` (structure and arrays shared)."""
        lw = lm_weight * LN10
        return replace(self, arc_w=lw * self.arc_lm + self.arc_const,
                       final_w=np.where(self.final_ok & (self.final_lm > -np.inf), lw * self.final_lm,
                                        _kernels.NEG),
                       lm_weight=lm_weight)

    @property
    def num_states(self) -> int:
        return len(self.e_pdf)


def _vocab(model: AcousticModel, lm: ArpaLM, cfg: DecodeConfig) -> dict[str, str]:
    """Decodable lexicon word -> LM token (itself, or <unk>)."""
    uni = lm.ngrams[0]
    words = model.lexicon.words
    missing = [w for w in words if (w,) not in uni]
    if not missing:
        return {w: w for w in words}
    if cfg.restrict_vocab:
        log.info(f"{len(missing)} lexicon word(s) not in the LM are left out of the search")
        return {w: w for w in words if (w,) in uni}
    if (UNK,) not in uni:
        raise DataError(f"the LM does not cover the lexicon: {len(missing)} word(s) missing, e.g. "
                        f"{', '.join(missing[:5])}, and it has no <unk>; train the LM on text with "
                        "these words, or pass --restrict-vocab to decode with the LM's words only")
    log.warn(f"{len(missing)} lexicon word(s) are not in the LM (e.g. {', '.join(missing[:3])}); "
             "they are scored as <unk> (--restrict-vocab leaves them out)")
    return {w: (w if (w,) in uni else UNK) for w in words}


class _WordStates:
    """HMM states (pdf, phone, state) of pronunciations in context. A word-internal tree sees
    BOUNDARY at both edges of a word: one state sequence per pronunciation. With a cross-word
    tree the first phone depends on the context before (`left`: the phone before, across the
    word boundary, or BOUNDARY) and the last phone on the one after, r, one of `right_values`;
    variants() groups the r that give the same states."""

    def __init__(self, model: AcousticModel, right_values: list[int]):
        self.tree = model.tree
        self.right_values = right_values
        self.phone_cache: dict[tuple[int, int, int], tuple] = {}
        self.class_cache: dict[tuple[int, int], list] = {}

    def phone(self, left: int, c: int, right: int) -> tuple:
        key = (left, c, right)
        if key not in self.phone_cache:
            self.phone_cache[key] = tuple((self.tree.pdf(left, c, right, k), c, k)
                                          for k in range(self.tree.num_states))
        return self.phone_cache[key]

    def right_classes(self, left: int, c: int) -> list[tuple[tuple, frozenset]]:
        """[(states of phone c after `left`, the right contexts r that give them)]."""
        key = (left, c)
        if key not in self.class_cache:
            groups: dict[tuple, list[int]] = {}
            for r in self.right_values:
                groups.setdefault(self.phone(left, c, r), []).append(r)
            self.class_cache[key] = [(st, frozenset(rs)) for st, rs in groups.items()]
        return self.class_cache[key]

    def variants(self, left: int, pron: tuple[int, ...]) -> list[tuple[tuple, frozenset | None]]:
        """[(states of the pronunciation after `left`, right contexts (None: any))]."""
        if not self.tree.cross_word:
            ctx = (BOUNDARY, *pron, BOUNDARY)
            return [(sum((self.phone(ctx[i], ctx[i + 1], ctx[i + 2]) for i in range(len(pron))), ()),
                     None)]
        if len(pron) == 1:
            return self.right_classes(left, pron[0])
        head = self.phone(left, pron[0], pron[1])
        for i in range(1, len(pron) - 1):
            head += self.phone(pron[i - 1], pron[i], pron[i + 1])
        return [(head + tail, rs) for tail, rs in self.right_classes(pron[-2], pron[-1])]


def build_graph(model: AcousticModel, lm: ArpaLM, cfg: DecodeConfig) -> DecodeGraph:
    """Compile the decoding graph (see the module docstring)."""
    if lm.order < 1 or not lm.ngrams[0]:
        raise DataError("the LM is empty")
    if (BOS,) not in lm.ngrams[0]:
        raise DataError("the LM has no <s>; it must be an ARPA model of sentences")
    vocab = _vocab(model, lm, cfg)
    by_token: dict[str, list[str]] = {}
    for w, tok in vocab.items():
        by_token.setdefault(tok, []).append(w)
    # LM states: contexts of length 0..order-1, longest first so back-off arcs go upwards
    ctx = [()]
    for n in range(1, lm.order):
        ctx += [h for h in lm.ngrams[n - 1] if h[-1] != EOS]
    ctx.sort(key=lambda h: -len(h))
    cid = {h: i for i, h in enumerate(ctx)}

    def state_of(seq: tuple[str, ...]) -> int:
        seq = seq[max(0, len(seq) - (lm.order - 1)):]
        while seq not in cid:
            seq = seq[1:]
        return cid[seq]

    words = [SIL_WORD] + sorted(vocab)
    wid = {w: i for i, w in enumerate(words)}
    lex = model.lexicon
    pid = lex.phone_id
    prons = [[tuple(pid[p] for p in pr) for pr in lex.prons[w]] for w in words]
    succ: list[list[tuple[int, float, float, int]]] = [[] for _ in ctx]  # (word, lm, const, dest)
    for n in range(1, lm.order + 1):
        for gram, (lp, _) in lm.ngrams[n - 1].items():
            h, tok = gram[:-1], gram[-1]
            if tok in by_token and h in cid:
                dest = state_of(gram)
                succ[cid[h]] += [(wid[w], lp, cfg.word_ins_penalty, dest) for w in by_token[tok]]
    cross = model.tree.cross_word
    n_ph = model.tree.num_phones

    def edge(phone: int) -> int:
        """A word's first or last phone as the context seen from the neighbouring word."""
        return across(phone, n_ph) if cross else BOUNDARY

    states = _WordStates(model, sorted({edge(p[0]) for ps in prons for p in ps} | {BOUNDARY})
                         if cross else [])
    # non-emitting nodes: (LM context, phone before, right contexts the phone before was built
    # for (None: any)); word-internal trees need one node per context
    start = (cid[(BOS,)] if (BOS,) in cid else state_of((BOS,)), BOUNDARY, None)
    node_id = {start: 0}
    todo = [start]
    node_arcs: dict[tuple, list[tuple[object, float, float]]] = {}  # (chain or node, lm, const)
    e_pdf, e_loop, e_fwd, e_next, e_word = [], [], [], [], []
    chains: dict[tuple, int] = {}
    loop = model.loop_prob

    def node(key) -> tuple:
        if key not in node_id:
            node_id[key] = len(node_id)
            todo.append(key)
        return key

    def chain(seq: tuple, word: int, dest: tuple) -> int:
        """The first emitting state of a chain of states `seq` ending in node `dest`."""
        key = (seq, word, dest)
        if key not in chains:
            chains[key] = first = len(e_pdf)
            for i, (pdf, ph, k) in enumerate(seq):
                a = float(loop[ph, k])
                e_pdf.append(pdf)
                e_loop.append(math.log(a))
                e_fwd.append(math.log(1 - a))
                e_next.append(first + i + 1 if i + 1 < len(seq) else dest)
                e_word.append(word)
        return chains[key]

    def allows(right: frozenset | None, phone: int) -> bool:
        return right is None or phone in right

    sil_entry = math.log(cfg.sil_prob)
    while todo:
        key = todo.pop()
        g, left, right = key
        out = node_arcs[key] = []
        if ctx[g]:  # back-off
            backoff = lm.ngrams[len(ctx[g]) - 1][ctx[g]][1]
            out.append((node((state_of(ctx[g][1:]), left, right)), backoff, 0.0))
        for w, lp, const, dest in [(0, 0.0, sil_entry, g)] + succ[g]:  # silence returns to g
            for pron in prons[w]:
                if allows(right, edge(pron[0])):
                    for seq, rs in states.variants(left, pron):
                        out.append((chain(seq, w, node((dest, edge(pron[-1]), rs))), lp, const))
    # number the nodes longest context first (back-off arcs go to higher numbers)
    keys = sorted(node_id, key=lambda k: (-len(ctx[k[0]]), node_id[k]))
    number = {k: i for i, k in enumerate(keys)}
    e_next = [n if isinstance(n, int) else -1 - number[n] for n in e_next]
    arcs = [node_arcs[k] for k in keys]
    n_arc_start = np.zeros(len(keys) + 1, np.int64)
    n_arc_start[1:] = np.cumsum([len(a) for a in arcs])
    arc_dest = np.array([d if isinstance(d, int) else -1 - number[d] for a in arcs for d, _, _ in a],
                        np.int64)
    arc_lm = np.array([lp for a in arcs for _, lp, _ in a], np.float64)
    arc_const = np.array([c for a in arcs for _, _, c in a], np.float64)
    final_lm = np.array([log10_prob(lm, ctx[g], EOS) for g, _, _ in keys], np.float64)
    final_ok = np.array([allows(r, BOUNDARY) for _, _, r in keys], bool)
    graph = DecodeGraph(np.array(e_pdf, np.int32), np.array(e_loop), np.array(e_fwd),
                        np.array(e_next, np.int64), np.array(e_word, np.int32), n_arc_start,
                        arc_dest, arc_lm, final_lm, number[start], words, [ctx[k[0]] for k in keys],
                        arc_lm, arc_const, final_lm, final_ok, 1.0)  # arc_w, final_w: below
    return graph.reweighted(cfg.lm_weight)


@dataclass
class Hypothesis:
    words: list[str]
    score: float
    times: list[tuple[str, int, int]]  # (word, start frame, end frame exclusive), silence included
    partial: bool = False  # no final state reached; the best path cut at the last frame


def decode_utterance(graph: DecodeGraph, loglik: np.ndarray, cfg: DecodeConfig) -> list[Hypothesis]:
    """Beam search over (T, P) log-likelihoods; up to cfg.nbest hypotheses, best first. When no
    path reached a final state within the beam, the best partial path (`partial=True`)."""
    ll = np.ascontiguousarray(loglik, np.float32)
    if ll.ndim != 2 or ll.shape[0] == 0:
        raise DataError(f"log-likelihood matrix of shape {ll.shape}: expected (frames > 0, pdfs)")
    if len(graph.e_pdf) and graph.e_pdf.max() >= ll.shape[1]:
        raise DataError(f"the graph uses pdf {graph.e_pdf.max()} but only {ll.shape[1]} are scored")
    if not np.isfinite(ll).all():
        raise DataError("log-likelihoods contain NaN or infinity")
    ends, scores, l_word, l_start, l_end, l_prev, part, part_score = _kernels.beam_search(
        ll, graph.e_pdf, graph.e_loop, graph.e_fwd, graph.e_next, graph.e_word,
        graph.n_arc_start, graph.arc_dest, graph.arc_w, graph.final_w, graph.start,
        float(cfg.beam), int(cfg.max_active), int(cfg.nbest))

    def trace(link: int) -> list[tuple[str, int, int]]:
        times = []
        while link >= 0:
            times.append((graph.words[l_word[link]], int(l_start[link]), int(l_end[link])))
            link = l_prev[link]
        return times[::-1]

    out, seen = [], set()
    for e, s in zip(ends, scores, strict=True):
        if s <= _kernels.NEG:
            continue
        times = trace(e)
        ws = [w for w, _, _ in times if w != SIL_WORD]
        if tuple(ws) in seen:
            continue
        seen.add(tuple(ws))
        out.append(Hypothesis(ws, float(s), times))
    if not out and part_score > _kernels.NEG:
        # no path ended in a word end at the last frame: the best partial path, its last word
        # cut off at the end (Kaldi's --allow-partial)
        times = trace(part[1]) + [(graph.words[graph.e_word[part[0]]], int(part[2]), ll.shape[0])]
        out.append(Hypothesis([w for w, _, _ in times if w != SIL_WORD], float(part_score), times,
                              partial=True))
    return out


def decode_dir(feat_dir, model_dir, lm_path, cfg: DecodeConfig, device: str = "auto",
               acoustic_scale: float | None = None, quantize: bool = False,
               transforms: dict | None = None, adabn: bool = False):
    """Decode every utterance of a feature dir at cfg.lm_weight. Yields (utt, hypotheses); the
    last item is a summary dict under the key None (decode_sweep's, for this weight)."""
    for u, by_weight in decode_sweep(feat_dir, model_dir, lm_path, cfg, [cfg.lm_weight], device,
                                     acoustic_scale, quantize, transforms=transforms, adabn=adabn):
        yield u, by_weight[cfg.lm_weight]


def decode_sweep(feat_dir, model_dir, lm_path, cfg: DecodeConfig, lm_weights, device: str = "auto",
                 acoustic_scale: float | None = None, quantize: bool = False,
                 transforms: dict | None = None, adabn: bool = False):
    """Decode every utterance of a feature dir at each LM weight of `lm_weights` (cfg.lm_weight
    is ignored): one graph and one likelihood matrix per utterance serve every weight, as
    Kaldi scores one lattice at many LM weights. Yields (utt, {lm_weight: hypotheses}); the
    last item is (None, {lm_weight: summary}), the summary with timing (real-time factor of
    the likelihoods + that weight's search, as if decoded alone).
    GMM likelihoods: numba on CPU; torch when `device` resolves to a GPU. A DNN model dir
    (speechlang.asr.dnn) gives scaled likelihoods instead (`acoustic_scale`, int8 `quantize`);
    `lm_path` None: the model dir's lm.arpa. `transforms` {speaker: (D, D+1) fMLLR} adapt the
    features of the speakers (utt2spk of the feature dir) they name. `adabn`: a TDNN's
    BatchNorm statistics re-estimated on each speaker's utterances before decoding them
    (unsupervised, speakers from utt2spk; DNNModel.adapt_batchnorm)."""
    from speechlang.accel import resolve_device
    from speechlang.asr import dnn
    from speechlang.asr.featfile import read_feats
    from speechlang.asr.model import read_model
    from speechlang.ngram.arpa import read_arpa

    if not lm_weights or min(lm_weights) < 0:
        raise ConfigError("give one or more LM weights, each >= 0")
    dnn_model = dnn.read_dnn(model_dir, quantize, device) if dnn.is_dnn_dir(model_dir) else None
    model = dnn_model.hmm if dnn_model else read_model(model_dir)
    if dnn_model and dnn_model.meta.get("fmllr") and transforms is None:
        raise ConfigError(f"{model_dir} was trained on fMLLR-adapted features (train-dnn --fmllr): "
                          "decode with --fmllr")
    if adabn:
        dnn.require_batchnorm(dnn_model, model_dir)
    feat_cfg = dnn_model.features if dnn_model else model.features
    feats = read_feats(feat_dir)
    check_features(feats.config, feat_cfg, feat_dir, model_dir)
    if lm_path is None:
        lm_path = f"{model_dir}/lm.arpa"
        if not Path(lm_path).is_file():
            raise ConfigError(f"--lm is needed: {model_dir} holds no lm.arpa")
    lm = read_arpa(lm_path)
    t0 = time.perf_counter()
    graph = build_graph(model, lm, cfg)
    graphs = {w: graph.reweighted(w) for w in lm_weights}
    build_s = time.perf_counter() - t0
    dev = resolve_device(device)
    dev = None if dev.type == "cpu" else dev
    if dnn_model:
        dnn_dev = torch.device("cpu") if quantize or dev is None else dev

        def score(x):
            return dnn_model.loglik(x, acoustic_scale, dnn_dev)
    else:
        def score(x):
            return model.gmm.loglik(x, dev)
    shift = float(feat_cfg.get("frame_shift_ms", 10.0)) / 1000
    transforms = transforms or {}
    utt2spk = feats.datadir().utt2spk if transforms or adabn else {}
    spk_utts: dict[str, list[str]] = {}  # --adabn: each speaker's utterances in this dir
    for u in feats.utts() if adabn else ():
        spk_utts.setdefault(utt2spk[u], []).append(u)

    # the GMMs' input space (LDA/MLLT), also a DNN's trained on the SAT-adapted features
    to_model = model.input if not dnn_model or dnn_model.meta.get("fmllr") else (lambda x: x)

    def adapted(u):
        x = to_model(feats[u])
        return apply_transform(transforms[utt2spk[u]], x) if utt2spk.get(u) in transforms else x

    frames, t_ll, bn_speaker = 0, 0.0, None
    t_search, failed = dict.fromkeys(graphs, 0.0), dict.fromkeys(graphs, 0)
    for u in feats.utts():
        x = adapted(u)
        t1 = time.perf_counter()
        if adabn and utt2spk[u] != bn_speaker:
            bn_speaker = utt2spk[u]
            dnn_model.adapt_batchnorm([adapted(v) for v in spk_utts[bn_speaker]], dnn_dev)
        ll = score(x)
        t_ll += time.perf_counter() - t1
        frames += len(x)
        out = {}
        for w, g in graphs.items():
            t2 = time.perf_counter()
            out[w] = hyps = decode_utterance(g, ll, cfg)
            t_search[w] += time.perf_counter() - t2
            failed[w] += not hyps or hyps[0].partial
        yield u, out
    audio = frames * shift
    if any(failed.values()):
        log.warn(f"{max(failed.values())} utterance(s) reached no final state within the beam "
                 "(partial or empty output); try a larger --beam")
    yield None, {w: {"utts": len(feats), "failed": failed[w], "audio_s": round(audio, 2),
                     "graph_states": graph.num_states, "graph_build_s": round(build_s, 3),
                     "loglik_s": round(t_ll, 3), "search_s": round(t_search[w], 3),
                     "rtf": round((t_ll + t_search[w]) / max(audio, 1e-9), 5), "lm_weight": w}
                 for w in graphs}


def decode_fmllr_dir(feat_dir, model_dir, lm_path, cfg: DecodeConfig, device: str = "auto",
                     si_model_dir=None, fcfg: FmllrConfig = FmllrConfig(sil_weight=0.01),
                     rounds: int = 2, adabn: bool = False):
    """decode_fmllr_sweep at cfg.lm_weight alone; yields like decode_dir."""
    for u, by_weight in decode_fmllr_sweep(feat_dir, model_dir, lm_path, cfg, [cfg.lm_weight], device,
                                           si_model_dir, fcfg, rounds, adabn):
        yield u, by_weight[cfg.lm_weight]


def decode_fmllr_sweep(feat_dir, model_dir, lm_path, cfg: DecodeConfig, lm_weights,
                       device: str = "auto", si_model_dir=None,
                       fcfg: FmllrConfig = FmllrConfig(sil_weight=0.01), rounds: int = 2,
                       adabn: bool = False):
    """Two-pass decoding with unsupervised per-speaker fMLLR (Kaldi's decode_fmllr.sh).

    `model_dir` is a train-sat GMM dir or a DNN dir trained on its adapted features
    (train-dnn --fmllr, which holds the SAT Gaussians). Pass 1 decodes with the
    speaker-independent model (`si_model_dir`, default the SAT model's `si_model`, else the
    model itself with identity transforms; a DNN dir made on the same tree also serves, its
    likelihoods then drive pass 1); its 1-best words are
    force-aligned (same model, same features) and each speaker's transform is estimated from
    those alignments under `model_dir`'s Gaussians (silence frames weighted fcfg.sil_weight).
    With rounds=2 the adapted features are decoded with the model and the transforms
    re-estimated from that output; the last decode uses the final transforms. Speakers come
    from the feature dir's utt2spk; its transcripts are never read. Each LM weight of
    `lm_weights` gets its own passes, transforms and output; pass 1 is one decode_sweep for all
    of them. Yields like decode_sweep; each summary adds `passes`, the fMLLR summaries and the
    real-time factor of all that weight's passes.
    `adabn`: the passes that a TDNN decodes (pass 1 with a DNN `si_model_dir`, the last with
    a train-dnn --fmllr `model_dir`) use AdaBN statistics per speaker (decode_dir's adabn)."""
    from speechlang.asr.align import align_utterance
    from speechlang.asr.dnn import is_dnn_dir
    from speechlang.asr.featfile import read_feats
    from speechlang.asr.model import read_model

    if rounds < 1:
        raise ConfigError("--fmllr-rounds must be >= 1")
    model = read_model(model_dir)
    si_dir = si_model_dir or model.info.get("si_model") or model_dir
    if not Path(si_dir).is_dir():
        raise DataError(f"{si_dir}: the speaker-independent model (first pass) is missing; pass "
                        "--si-model")
    si = read_model(si_dir)
    bn = {d: adabn and is_dnn_dir(d) for d in (si_dir, model_dir)}  # the passes that use AdaBN
    if adabn and not any(bn.values()):
        raise ConfigError("--adabn needs a DNN pass: a TDNN --si-model or a train-dnn --fmllr model")
    if si.gmm.num_pdfs != model.gmm.num_pdfs or si.tree.to_json() != model.tree.to_json():
        raise DataError(f"{si_dir} and {model_dir} have different trees; the first-pass model must "
                        "share the SAT model's tied states")
    if (si.transform is None) != (model.transform is None) or (
            model.transform is not None and not model.transform.same_as(si.transform)):
        raise DataError(f"{si_dir} and {model_dir} have different input transforms (LDA/MLLT); the "
                        "first-pass model must share the SAT model's feature space")
    feats = read_feats(feat_dir)
    for d, m in ((si_dir, si), (model_dir, model)):  # both GMMs align / adapt these features
        check_features(feats.config, m.features, feat_dir, d)
    utt2spk = feats.datadir().utt2spk
    sil = model.lexicon.phone_id[model.lexicon.silence]
    first = list(decode_sweep(feat_dir, si_dir, lm_path, cfg, lm_weights, device, adabn=bn[si_dir]))
    runs = {}
    for w in first[-1][1]:
        cfg_w = replace(cfg, lm_weight=w)
        hyps, summary = {u: by_weight[w] for u, by_weight in first[:-1]}, first[-1][1][w]
        transforms: dict = {}
        est, secs = [], 0.0
        for r in range(rounds):
            if r > 0:
                out = list(decode_dir(feat_dir, model_dir, lm_path, cfg_w, device,
                                      transforms=transforms, adabn=bn[model_dir]))
                hyps, summary = dict(out[:-1]), out[-1][1]
            secs += summary["loglik_s"] + summary["search_s"]
            src = si if r == 0 else model
            t0 = time.perf_counter()
            items = []
            for u in feats.utts():
                x = model.input(feats[u])
                a = transforms.get(utt2spk[u])
                words = hyps[u][0].words if hyps[u] else []
                ali, *_ = align_utterance(src, x if a is None else apply_transform(a, x), words,
                                          cfg.sil_prob)
                if ali is not None:
                    items.append((u, x, ali.pdf, frame_weights(ali.phone, sil, fcfg.sil_weight)))
            transforms, info = estimate_speakers(model.gmm, items, utt2spk, fcfg, transforms)
            secs += time.perf_counter() - t0
            est.append(info)
            log.info(f"fMLLR round {r + 1}{f' (LM weight {w:g})' if len(lm_weights) > 1 else ''}: "
                     f"{info['speakers']} speakers, auxiliary function "
                     f"+{info['auxf_gain_per_frame']} per frame")
        out = list(decode_dir(feat_dir, model_dir, lm_path, cfg_w, device, transforms=transforms,
                              adabn=bn[model_dir]))
        last = out[-1][1]
        out[-1] = (None, dict(last, passes=rounds + 1, fmllr=est, rtf_final=last["rtf"],
                              rtf=round((secs + last["loglik_s"] + last["search_s"])
                                        / max(last["audio_s"], 1e-9), 5)))
        runs[w] = out
    for i, (u, _) in enumerate(first):
        yield u, {w: run[i][1] for w, run in runs.items()}
