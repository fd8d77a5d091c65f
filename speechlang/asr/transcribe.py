"""Audio files in, text out, with a self-contained DNN model dir (speechlang.asr.dnn).

    t = Transcriber("exp/dnn")
    hyp = t.transcribe("a.flac")        # Hypothesis: .words, .times (word, start, end frames)

Features are computed as the model's feature config says; CMVN statistics come from the
file itself (each file is its own speaker, like `--cmvn utterance`; so do a TDNN's BatchNorm
statistics with `adabn`). Audio at another rate is resampled to the model's rate (with an
info line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from speechlang.asr.audio import load_audio
from speechlang.asr.decoder import DecodeConfig, Hypothesis, build_graph, decode_utterance
from speechlang.asr.dnn import check_model_dir, read_dnn, require_batchnorm
from speechlang.asr.features import (
    FeatureConfig,
    add_deltas,
    apply_cmvn,
    cmvn_mask,
    cmvn_stats,
    static_features,
)
from speechlang.errors import ConfigError, DataError


@dataclass(frozen=True)
class TranscribeConfig:
    lm_weight: float | None = None  # None: the model's (dnn.json)
    acoustic_scale: float | None = None
    beam: float = 160.0
    max_active: int = 7000
    word_ins_penalty: float = 0.0
    quantize: bool = False
    adabn: bool = False  # a TDNN's BatchNorm statistics from each file itself


def file_features(path: str | os.PathLike, cfg: FeatureConfig) -> tuple[np.ndarray, float]:
    """(frames, dim) features of one audio file and its duration in seconds."""
    x = load_audio(path, cfg.sample_rate)
    if x.shape[0] < cfg.frame_length:
        raise DataError(f"audio {path} is shorter than one frame ({x.shape[0]} samples < "
                        f"{cfg.frame_length})")
    xt = torch.from_numpy(x)
    f = static_features(xt, cfg)
    if cfg.cmvn != "none":
        f = apply_cmvn(f, cmvn_stats(f, cmvn_mask(xt, cfg)), cfg.norm_vars)
    return add_deltas(f, cfg.delta_order, cfg.delta_window).numpy(), x.shape[0] / cfg.sample_rate


class Transcriber:
    """Loads the model dir once (network, priors, graph from the dir's lm.arpa)."""

    def __init__(self, model_dir: str | os.PathLike, cfg: TranscribeConfig = TranscribeConfig()):
        from speechlang.ngram.arpa import read_arpa
        check_model_dir(model_dir, need_lm=True)
        self.model = read_dnn(model_dir, cfg.quantize)
        if self.model.meta.get("fmllr"):
            raise ConfigError(f"{model_dir} was trained on fMLLR-adapted features (train-dnn --fmllr), "
                              "which need speakers and a first pass: use `asr decode --fmllr`")
        if cfg.adabn:
            require_batchnorm(self.model, model_dir)
        lmw = cfg.lm_weight if cfg.lm_weight is not None else float(self.model.meta["lm_weight"])
        self.dcfg = DecodeConfig(lm_weight=lmw, word_ins_penalty=cfg.word_ins_penalty,
                                 beam=cfg.beam, max_active=cfg.max_active)
        self.cfg = cfg
        feat = dict(self.model.features)
        self.fcfg = FeatureConfig.from_dict(feat)
        self.graph = build_graph(self.model.hmm, read_arpa(f"{model_dir}/lm.arpa"), self.dcfg)
        self.shift = float(feat.get("frame_shift_ms", 10.0)) / 1000

    def transcribe(self, path: str | os.PathLike) -> tuple[Hypothesis | None, float]:
        """(best hypothesis or None, audio seconds)."""
        x, secs = file_features(path, self.fcfg)
        if self.cfg.adabn:
            self.model.adapt_batchnorm([x])
        hyps = decode_utterance(self.graph, self.model.loglik(x, self.cfg.acoustic_scale), self.dcfg)
        return (hyps[0] if hyps else None), secs
