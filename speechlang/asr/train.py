"""GMM-HMM training: monophones from a flat start, tied triphones from monophone alignments.

    train_mono("exp/feats/train", "lexicon.txt", "exp/mono", MonoConfig())
    train_tri("exp/feats/train", "exp/mono_ali", "exp/tri", TriConfig(states=500, gaussians=4000))

Monophones (Kaldi's train_mono.sh): every pdf starts as one Gaussian with the global mean
and variance; the first statistics come from an equal alignment (the frames divided evenly
among the states of SIL, the words' first pronunciations, SIL); then each iteration
realigns (Viterbi, or forward-backward with --baum-welch), re-estimates weights, means,
variances (floored at var_floor times the global variance, and at MIN_VARIANCE) and
self-loop probabilities, and splits Gaussians until the total reaches the target (linearly
over the first iterations).
Triphones (train_deltas.sh): decision-tree tying of word-internal triphone states on the
monophone alignments, one Gaussian per leaf from the tree statistics, then Viterbi
iterations with realignment and splitting up to --gaussians. With --lda-dim (Kaldi's
train_lda_mllt.sh) the triphones are trained on spliced statics projected by LDA (the input
alignment's pdfs as classes) and MLLT re-estimated at --mllt-iters (speechlang.asr.lda);
the tree is built in that space and the model dir keeps the transform.
Speaker-adaptive training (train_sat.sh, without rebuilding the tree): from the triphone
model and its alignments, per-speaker fMLLR transforms (speechlang.asr.fmllr) are estimated
at the iterations `fmllr_iters`, and the model is re-estimated on the transformed features,
with realignment on those features every few iterations.
"""


from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from speechlang import log
from speechlang.accel import set_seed
from speechlang.asr.align import align_utterance, posteriors
from speechlang.asr.alignfile import cross_word_contexts, read_alignments
from speechlang.asr.featfile import FeatureArchive, read_feats
from speechlang.asr.fmllr import FmllrConfig, apply_transform, estimate_speakers, frame_weights
from speechlang.asr.gmm import GMMSet, GMMStats, reestimate, split
from speechlang.asr.lda import InputTransform, LdaStats, MlltStats, estimate_lda, estimate_mllt, splice
from speechlang.asr.lexicon import Lexicon, map_transcripts, read_lexicon
from speechlang.asr.model import AcousticModel, read_model, write_model
from speechlang.asr.tree import (
    BOUNDARY,
    build_tree,
    cross_word_questions,
    mono_tree,
    questions_from_data,
    read_questions,
)
from speechlang.errors import ConfigError, DataError
from speechlang.io import check_writable

NUM_STATES = 3
MIN_VARIANCE = 1e-6  # absolute variance floor, far below the relative one: a constant dimension is no error


@dataclass(frozen=True)
class MonoConfig:
    iters: int = 25  # EM iterations after the equal-alignment pass
    gaussians: int = 1000  # target total number of Gaussians
    inc_iters: int = 15  # Gaussians grow linearly to the target over these iterations
    var_floor: float = 0.01  # variance floor as a fraction of the global variance
    baum_welch: bool = False  # forward-backward statistics instead of Viterbi alignments
    sil_prob: float = 0.5  # probability of optional silence between words
    oov_word: str | None = None  # map words missing from the lexicon to this word
    seed: int = 0

    def __post_init__(self):
        if self.iters < 1 or self.gaussians < 1 or not 0 < self.var_floor < 1:
            raise ConfigError("--iters and --gaussians must be >= 1, --var-floor in (0, 1)")
        if not 0 < self.sil_prob < 1:
            raise ConfigError("--sil-prob must be in (0, 1)")


@dataclass(frozen=True)
class SatConfig:
    iters: int = 8
    fmllr_iters: tuple[int, ...] = (0, 2, 4, 6)  # re-estimate the transforms at these iterations
    realign_every: int = 2  # realign on the adapted features every N iterations
    gaussians: int = 0  # target total Gaussians; 0: keep the starting model's number
    fmllr_sweeps: int = 20  # row-by-row update sweeps per estimation
    sil_weight: float = 0.0  # weight of silence frames in the fMLLR statistics
    min_count: float = 50.0  # speakers with fewer frames keep the identity
    var_floor: float = 0.01
    sil_prob: float = 0.5
    oov_word: str | None = None
    seed: int = 0

    def __post_init__(self):
        if self.iters < 1 or self.realign_every < 1 or self.gaussians < 0:
            raise ConfigError("--iters and --realign-every must be >= 1, --gaussians >= 0")
        if not self.fmllr_iters or min(self.fmllr_iters) != 0:
            raise ConfigError("--fmllr-iters must include iteration 0")


@dataclass(frozen=True)
class TriConfig:
    states: int = 500  # target number of tied states (tree leaves)
    gaussians: int = 4000  # target total number of Gaussians
    iters: int = 20
    inc_iters: int = 12
    realign_every: int = 2  # realign with the current model every N iterations
    questions: str | None = None  # file of phone classes; default: derived from the data
    min_leaf_count: float = 100.0  # frames per tree leaf at least
    var_floor: float = 0.01
    sil_prob: float = 0.5
    oov_word: str | None = None
    lda_dim: int = 0  # > 0: LDA to this dimension on spliced statics, then MLLT (0: none)
    splice: int = 3  # frames each side spliced for the LDA
    mllt_iters: tuple[int, ...] = (1, 3, 5, 11)  # estimate MLLT before these iterations (from 0)
    cross_word: bool = False  # triphone contexts across word boundaries (default: word-internal)
    seed: int = 0

    def __post_init__(self):
        if self.states < 1 or self.gaussians < 1 or self.iters < 1 or self.realign_every < 1:
            raise ConfigError("--states, --gaussians, --iters and --realign-every must be >= 1")
        if self.lda_dim < 0 or self.splice < 0 or any(i < 1 for i in self.mllt_iters):
            raise ConfigError("--lda-dim and --splice must be >= 0, --mllt-iters >= 1 (iteration 0 "
                              "fits the new tree)")


def _global_stats(feats: FeatureArchive | ModelFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (D,) over all frames, the variance at least MIN_VARIANCE."""
    archive = feats if isinstance(feats, FeatureArchive) else feats.feats
    if archive.data.shape[0] == 0:
        raise DataError(f"{archive.path}: no frames")
    if feats is archive:
        data = np.asarray(feats.data, dtype=np.float64)
    else:
        data = np.concatenate([feats[u] for u in feats.utts()]).astype(np.float64)
    return data.mean(0), np.maximum(data.var(0), MIN_VARIANCE)


def _var_floor(var: np.ndarray, frac: float) -> np.ndarray:
    """Variance floor (D,): `frac` times the global variance `var`, at least MIN_VARIANCE."""
    return np.maximum(frac * var, MIN_VARIANCE)


def _loop_from_counts(occ: np.ndarray, visits: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Self-loop probability per (phone, state): (frames - visits) / frames, kept in [0.05, 0.95]."""
    with np.errstate(invalid="ignore", divide="ignore"):
        loop = np.where(occ > 0, (occ - visits) / np.maximum(occ, 1), old)
    return np.clip(loop, 0.05, 0.95)


def _split_and_record(model, stats, target: int, stage: str, it: int, failed: int, t0: float,
                      history: list) -> None:
    """End of an EM iteration: split Gaussians towards `target`, log and record the iteration."""
    occ_pdf = np.add.reduceat(stats.occ, stats.gmm.start[:-1]) if stats.gmm.num_gauss else stats.occ
    model.gmm = split(model.gmm, occ_pdf, target)
    rec = {"iter": it + 1, "loglik_per_frame": round(stats.loglik / stats.frames, 4),
           "gaussians": model.gmm.num_gauss, "failed": failed,
           "seconds": round(time.perf_counter() - t0, 3)}
    history.append(rec)
    log.info(f"{stage} iter {it + 1}: log-likelihood/frame {rec['loglik_per_frame']}, "
             f"{rec['gaussians']} Gaussians, {rec['seconds']} s")


def _target(it: int, start: int, target: int, inc_iters: int) -> int:
    if it >= inc_iters:
        return target
    return int(start + (target - start) * (it + 1) / inc_iters)


class ModelFeatures:
    """A feature archive as a model sees it: through the model's input transform (splice +
    LDA/MLLT, when it has one), then per-speaker fMLLR transforms (identity for speakers
    without one). The `utts()` / `[utt]` interface of FeatureArchive."""

    def __init__(self, feats: FeatureArchive, transform=None, fmllr: dict | None = None,
                 utt2spk: dict | None = None):
        self.feats, self.transform, self.fmllr, self.utt2spk = feats, transform, fmllr or {}, utt2spk

    def utts(self) -> list[str]:
        return self.feats.utts()

    def __getitem__(self, utt: str) -> np.ndarray:
        x = self.feats[utt]
        if self.transform is not None:
            x = self.transform(x)
        w = self.fmllr.get(self.utt2spk[utt]) if self.fmllr else None
        return x if w is None else apply_transform(w, x)


def _viterbi_pass(model: AcousticModel, feats: FeatureArchive, text, sil_prob: float,
                  baum_welch: bool = False, collect: dict | None = None):
    """One E-step over all utterances: (GMM stats, frames per (phone, state), visits, failures).
    With `collect`, the new alignments are stored in it by utterance."""
    stats = GMMStats(model.gmm)
    p_n = len(model.lexicon.phones)
    occ = np.zeros((p_n, NUM_STATES))
    visits = np.zeros((p_n, NUM_STATES))
    failed = 0
    for u in feats.utts():
        x = feats[u]
        if baum_welch:
            g, gamma, total = posteriors(model, x, text[u], sil_prob)
            if not np.isfinite(total):
                failed += 1
                continue
            t_idx, s_idx = np.nonzero(gamma > 1e-4)
            stats.add(x, t_idx, g.pdf[s_idx], gamma[t_idx, s_idx])
            continue
        ali, g, path, score = align_utterance(model, x, text[u], sil_prob)
        if ali is None:
            failed += 1
            continue
        stats.add(x, np.arange(len(path)), ali.pdf, np.ones(len(path)))
        if collect is not None:
            collect[u] = ali
        _count_transitions(g.instance[path], ali.phone, ali.state, occ, visits)
    return stats, occ, visits, failed


def _count_transitions(instance, phone, state, occ, visits) -> None:
    np.add.at(occ, (phone, state), 1)
    change = np.ones(len(phone), bool)
    change[1:] = (instance[1:] != instance[:-1]) | (state[1:] != state[:-1])
    np.add.at(visits, (phone[change], state[change]), 1)


def _equal_alignment(lex: Lexicon, words: list[str], n_frames: int, tree):
    """Per-frame (pdf, phone, state, instance) of SIL + first pronunciations + SIL split evenly."""
    pid = lex.phone_id
    seq = [pid[lex.silence]]
    for w in words:
        seq += [pid[p] for p in lex.prons[w][0]]
    seq.append(pid[lex.silence])
    states = [(p, k, i) for i, p in enumerate(seq) for k in range(NUM_STATES)]
    if n_frames < len(states):
        return None
    idx = (np.arange(n_frames) * len(states)) // n_frames
    ph = np.array([states[i][0] for i in idx])
    st = np.array([states[i][1] for i in idx])
    inst = np.array([states[i][2] for i in idx])
    pdf = np.array([tree.pdf(BOUNDARY, p, BOUNDARY, k) for p, k in zip(ph, st, strict=True)])
    return pdf, ph, st, inst


def train_mono(feat_dir, lexicon_path, out_dir, cfg: MonoConfig) -> dict:
    """Train a monophone GMM-HMM; writes the model dir `out_dir`. Returns a summary with timings."""
    check_writable(out_dir)
    set_seed(cfg.seed)
    feats = read_feats(feat_dir)
    lex = read_lexicon(lexicon_path)
    text = map_transcripts(feats.datadir().text, lex, cfg.oov_word, f"{feat_dir}/text")
    mean, var = _global_stats(feats)
    floor = _var_floor(var, cfg.var_floor)
    p_n = len(lex.phones)
    tree = mono_tree(p_n, NUM_STATES)
    loop = np.full((p_n, NUM_STATES), 0.75)
    model = AcousticModel("mono", lex, tree, GMMSet.single(mean, var, tree.num_pdfs), loop,
                          feats.config)
    # pass 0: equal alignment
    stats = GMMStats(model.gmm)
    occ = np.zeros((p_n, NUM_STATES))
    visits = np.zeros((p_n, NUM_STATES))
    skipped = 0
    for u in feats.utts():
        x = feats[u]
        ea = _equal_alignment(lex, text[u], len(x), tree)
        if ea is None:
            skipped += 1
            continue
        pdf, ph, st, inst = ea
        stats.add(x, np.arange(len(x)), pdf, np.ones(len(x)))
        _count_transitions(inst, ph, st, occ, visits)
    if skipped:
        log.warn(f"{skipped} utterance(s) shorter than their transcript's states were left out")
    model.gmm = reestimate(stats, floor)
    model.loop_prob = _loop_from_counts(occ, visits, loop)
    history = []
    start_g = tree.num_pdfs
    for it in range(cfg.iters):
        t0 = time.perf_counter()
        stats, occ, visits, failed = _viterbi_pass(model, feats, text, cfg.sil_prob, cfg.baum_welch)
        if stats.frames == 0:
            raise DataError("no utterance could be aligned; are the features and transcripts right?")
        model.gmm = reestimate(stats, floor)
        if not cfg.baum_welch:
            model.loop_prob = _loop_from_counts(occ, visits, model.loop_prob)
        _split_and_record(model, stats, _target(it, start_g, cfg.gaussians, cfg.inc_iters),
                          "mono", it, failed, t0, history)
    model.info = {"config": asdict(cfg), "history": history, "feat_dir": str(feat_dir)}
    write_model(model, out_dir)
    return {"kind": "mono", "pdfs": model.gmm.num_pdfs, "gaussians": model.gmm.num_gauss,
            "loglik_per_frame": history[-1]["loglik_per_frame"],
            "sec_per_iter": round(float(np.mean([h["seconds"] for h in history])), 3)}


def tree_stats(feats: FeatureArchive, alis) -> dict:
    """Per (left, center, right, state) context: (count, sum (D,), sum of squares (D,))."""
    keys, xs = [], []
    for u in feats.utts():
        if u not in alis:
            continue
        a = alis[u]
        x = feats[u].astype(np.float64)
        if len(x) != len(a.pdf):
            raise DataError(f"{u}: {len(a.pdf)} aligned frames but {len(x)} feature frames; "
                            "align with the same feature dir")
        keys.append(np.stack([a.ctx_left, a.phone, a.ctx_right, a.state], 1).astype(np.int64))
        xs.append(x)
    if not keys:
        raise DataError("the alignments cover none of the utterances of the feature dir")
    k = np.concatenate(keys)
    x = np.concatenate(xs)
    uniq, inv = np.unique(k, axis=0, return_inverse=True)
    inv = inv.ravel()
    n = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
    s1 = np.zeros((len(uniq), x.shape[1]))
    s2 = np.zeros((len(uniq), x.shape[1]))
    np.add.at(s1, inv, x)
    np.add.at(s2, inv, x * x)
    return {tuple(int(v) for v in uniq[i]): (n[i], s1[i], s2[i]) for i in range(len(uniq))}


def train_tri(feat_dir, ali_dir, out_dir, cfg: TriConfig, mono_dir=None) -> dict:
    """Train tied triphones (word-internal, or cross-word with cfg.cross_word) from an alignment
    dir; writes the model dir `out_dir`."""
    check_writable(out_dir)
    set_seed(cfg.seed)
    raw = feats = read_feats(feat_dir)
    alis = read_alignments(ali_dir)
    mono = read_model(mono_dir or alis.meta["model"])
    lex = mono.lexicon
    if alis.meta.get("phones") != lex.phones:
        raise DataError(f"{ali_dir}: the alignments were made with another phone set than "
                        f"{mono_dir or alis.meta['model']}")
    if alis.meta.get("cross_word") and not cfg.cross_word:
        raise ConfigError(f"{ali_dir}: the alignments have cross-word contexts; a word-internal "
                          "tree cannot be built from them (train with --cross-word)")
    text = map_transcripts(feats.datadir().text, lex, cfg.oov_word, f"{feat_dir}/text")
    p_n = len(lex.phones)
    sil = lex.phone_id[lex.silence]
    transform = lda_info = None
    if cfg.lda_dim:
        transform, lda_info = _estimate_lda(raw, alis, sil, cfg)
        feats = ModelFeatures(raw, transform)
    mean, var = _global_stats(feats)
    floor = _var_floor(var, cfg.var_floor)
    t0 = time.perf_counter()
    # the contexts the new tree sees: from the alignments' own graphs, or across words
    ctx_alis = {u: cross_word_contexts(alis[u], p_n) if cfg.cross_word else alis[u]
                for u in feats.utts() if u in alis}
    stats = tree_stats(feats, ctx_alis)
    if cfg.questions:
        questions = read_questions(cfg.questions, lex.phone_id)
    else:
        per_phone: dict[int, tuple] = {}
        for (_, c, _, _), (n, s1, s2) in stats.items():
            if c == sil:
                continue
            a = per_phone.get(c, (0.0, 0.0, 0.0))
            per_phone[c] = (a[0] + n, a[1] + s1, a[2] + s2)
        questions = questions_from_data(per_phone, floor)
    if cfg.cross_word:
        questions = cross_word_questions(questions, p_n, sil)
    tree = build_tree(stats, questions, p_n, NUM_STATES, {sil}, cfg.states, cfg.min_leaf_count,
                      var_floor=floor)
    tree.cross_word = cfg.cross_word
    log.info(f"tree: {tree.num_pdfs} tied states from {len(stats)} contexts, "
             f"{len(questions)} questions ({time.perf_counter() - t0:.1f} s)")
    # one Gaussian per leaf from the tree statistics
    n = np.zeros(tree.num_pdfs)
    s1 = np.zeros((tree.num_pdfs, len(mean)))
    s2 = np.zeros((tree.num_pdfs, len(mean)))
    for (lc, c, rc, k), (cn, c1, c2) in stats.items():
        p = tree.pdf(lc, c, rc, k)
        n[p] += cn
        s1[p] += c1
        s2[p] += c2
    m = np.where(n[:, None] > 0, s1 / np.maximum(n, 1)[:, None], mean)
    v = np.where(n[:, None] > 0, np.maximum(s2 / np.maximum(n, 1)[:, None] - m * m, floor), var)
    gmm = GMMSet(np.ones(tree.num_pdfs), m, v, np.arange(tree.num_pdfs + 1, dtype=np.int32))
    model = AcousticModel("tri", lex, tree, gmm, mono.loop_prob.copy(), raw.config, transform=transform)
    # Viterbi training; between realignments the previous alignment is reused
    fixed = ctx_alis
    history = []
    start_g = tree.num_pdfs
    mllt = []
    for it in range(cfg.iters):
        t1 = time.perf_counter()
        if cfg.lda_dim and it in cfg.mllt_iters:
            mllt.append(_update_mllt(model, feats, fixed, sil, it))
            _, var = _global_stats(feats)
            floor = _var_floor(var, cfg.var_floor)
        if it % cfg.realign_every == 0 and it > 0:
            st, occ, visits, failed = _viterbi_pass(model, feats, text, cfg.sil_prob,
                                                    collect=fixed)
            model.loop_prob = _loop_from_counts(occ, visits, model.loop_prob)
        else:
            st = GMMStats(model.gmm)
            failed = 0
            for u, a in fixed.items():
                pdf = np.array([tree.pdf(int(lc), int(c), int(rc), int(k)) for lc, c, rc, k in
                                zip(a.ctx_left, a.phone, a.ctx_right, a.state, strict=True)]) \
                    if it == 0 else a.pdf
                if it == 0:
                    fixed[u] = type(a)(pdf, a.phone, a.state, a.ctx_left, a.ctx_right)
                x = feats[u]
                st.add(x, np.arange(len(x)), pdf, np.ones(len(x)))
        if st.frames == 0:
            raise DataError("no utterance could be aligned with the triphone model")
        model.gmm = reestimate(st, floor)
        _split_and_record(model, st, _target(it, start_g, cfg.gaussians, cfg.inc_iters),
                          "tri", it, failed, t1, history)
    model.info = {"config": asdict(cfg), "history": history, "feat_dir": str(feat_dir),
                  "ali_dir": str(ali_dir), "contexts": len(stats), "questions": len(questions)}
    if cfg.lda_dim:
        model.info.update(lda=lda_info, mllt=mllt)
    write_model(model, out_dir)
    return {"kind": "tri", "pdfs": model.gmm.num_pdfs, "gaussians": model.gmm.num_gauss,
            "loglik_per_frame": history[-1]["loglik_per_frame"],
            "sec_per_iter": round(float(np.mean([h["seconds"] for h in history])), 3),
            **({"lda_dim": cfg.lda_dim} if cfg.lda_dim else {})}


def _estimate_lda(feats: FeatureArchive, alis, sil: int, cfg: TriConfig) -> tuple[InputTransform, dict]:
    """LDA on the statics spliced +-cfg.splice, the aligned pdfs as classes, silence left out."""
    k = feats.dim // (int(feats.config.get("delta_order", 2)) + 1)
    st = LdaStats(k * (2 * cfg.splice + 1), int(alis.meta["num_pdfs"]))
    for u in feats.utts():
        if u in alis:
            a = alis[u]
            x = feats[u]
            if len(x) != len(a.pdf):
                raise DataError(f"{u}: {len(a.pdf)} aligned frames but {len(x)} feature frames; "
                                "align with the same feature dir")
            st.accumulate(splice(x[:, :k], cfg.splice), a.pdf, (a.phone != sil).astype(np.float64))
    m, info = estimate_lda(st, cfg.lda_dim)
    log.info(f"LDA: {info['classes']} classes, {k} x {2 * cfg.splice + 1} -> {cfg.lda_dim} dimensions")
    return InputTransform(cfg.splice, k, m), info


def _update_mllt(model: AcousticModel, feats: ModelFeatures, alis: dict, sil: int, it: int) -> dict:
    """Estimate MLLT A on the current alignments (silence left out); the input transform
    becomes A M and the means A mu (in place, `feats` included)."""
    st = MlltStats(model.gmm)
    for u, a in alis.items():
        st.accumulate(feats[u], a.pdf, (a.phone != sil).astype(np.float64))
    a_mat, info = estimate_mllt(st)
    model.transform = InputTransform(model.transform.context, model.transform.static_dims,
                                     a_mat @ model.transform.matrix)
    feats.transform = model.transform
    g = model.gmm
    model.gmm = GMMSet(g.weights, g.means @ a_mat.T, g.vars, g.start)
    log.info(f"MLLT before iter {it + 1}: auxiliary function +{info['auxf_gain_per_frame']} per frame")
    return {"iter": it + 1, **info}


def train_sat(feat_dir, ali_dir, out_dir, cfg: SatConfig, si_dir=None) -> dict:
    """Speaker-adaptive training from a triphone model (`si_dir`, default the model that made
    the alignments) and its alignments; writes the model dir `out_dir` with the training
    speakers' transforms in trans.npz. The tree and pdfs are the triphone model's, so its
    alignments and first-pass decodes index the SAT model too."""
    check_writable(out_dir)
    set_seed(cfg.seed)
    feats = read_feats(feat_dir)
    alis = read_alignments(ali_dir)
    si_dir = si_dir or alis.meta["model"]
    model = read_model(si_dir)
    lex = model.lexicon
    if alis.meta.get("num_pdfs") != model.gmm.num_pdfs or alis.meta.get("phones") != lex.phones:
        raise DataError(f"{ali_dir}: the alignments were not made with {si_dir} (align with it first)")
    text = map_transcripts(feats.datadir().text, lex, cfg.oov_word, f"{feat_dir}/text")
    utt2spk = feats.datadir().utt2spk
    base = ModelFeatures(feats, model.transform)  # the space the transforms act in
    _, var = _global_stats(base)
    floor = _var_floor(var, cfg.var_floor)
    sil = lex.phone_id[lex.silence]
    fcfg = FmllrConfig(iters=cfg.fmllr_sweeps, min_count=cfg.min_count, sil_weight=cfg.sil_weight)
    model.kind = "sat"
    fixed = {u: alis[u] for u in feats.utts() if u in alis}
    if not fixed:
        raise DataError("the alignments cover none of the utterances of the feature dir")
    transforms: dict = {}
    history = []
    target = cfg.gaussians or model.gmm.num_gauss
    for it in range(cfg.iters):
        t1 = time.perf_counter()
        rec_fmllr = None
        if it in cfg.fmllr_iters:
            items = ((u, base[u], a.pdf, frame_weights(a.phone, sil, cfg.sil_weight))
                     for u, a in fixed.items())
            transforms, rec_fmllr = estimate_speakers(model.gmm, items, utt2spk, fcfg, transforms)
            log.info(f"sat iter {it + 1}: fMLLR for {rec_fmllr['speakers']} speakers, auxiliary "
                     f"function +{rec_fmllr['auxf_gain_per_frame']} per frame")
        adapted = ModelFeatures(feats, model.transform, transforms, utt2spk)
        if it % cfg.realign_every == 0 and it > 0:
            st, occ, visits, failed = _viterbi_pass(model, adapted, text, cfg.sil_prob, collect=fixed)
            model.loop_prob = _loop_from_counts(occ, visits, model.loop_prob)
        else:
            st, failed = GMMStats(model.gmm), 0
            for u, a in fixed.items():
                x = adapted[u]
                st.add(x, np.arange(len(x)), a.pdf, np.ones(len(x)))
        if st.frames == 0:
            raise DataError("no utterance could be aligned with the adapted features")
        model.gmm = reestimate(st, floor)
        _split_and_record(model, st, target, "sat", it, failed, t1, history)
        if rec_fmllr:
            history[-1]["fmllr_auxf_gain"] = rec_fmllr["auxf_gain_per_frame"]
    model.info = {"config": asdict(cfg), "history": history, "feat_dir": str(feat_dir),
                  "ali_dir": str(ali_dir), "si_model": str(si_dir)}
    write_model(model, out_dir, transforms)
    return {"kind": "sat", "pdfs": model.gmm.num_pdfs, "gaussians": model.gmm.num_gauss,
            "speakers": len(transforms), "loglik_per_frame": history[-1]["loglik_per_frame"],
            "sec_per_iter": round(float(np.mean([h["seconds"] for h in history])), 3)}
