"""`speechlang asr`: GMM-HMM and hybrid DNN-HMM speech recognition on Kaldi-style data dirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from speechlang import log
from speechlang.cli import GROUPS
from speechlang.cli._util import (
    Device,
    Json,
    Output,
    Precision,
    Seed,
    Threads,
    emit_json,
    make_app,
)

app = make_app(GROUPS["asr"].help)

# Path parameters take readable=False: an unreadable file is then reported by the library as one
# error line (exit 1) naming it, not by Click as a usage error.
DirArg = Annotated[Path, typer.Argument(readable=False, help="Kaldi data dir (wav.scp, text, utt2spk)")]
FeatDir = Annotated[Path, typer.Argument(readable=False, help="feature dir (from asr features)")]
ModelDir = Annotated[Path, typer.Argument(readable=False, help="model dir (from asr train-mono or train-tri)")]
OovWord = Annotated[str | None, typer.Option("--oov-word", help="map words missing from the "
                                             "lexicon to this lexicon word (default: error)")]
SilProb = Annotated[float, typer.Option("--sil-prob", min=0.0, max=1.0,
                                        help="probability of optional silence between words")]


def set_threads(n: int) -> int:
    """speechlang.accel.set_threads, imported when called: validate, split and score start
    without torch (about 1 s less per call in a pipeline or a recipe's scoring loop)."""
    from speechlang.accel import set_threads as accel_set_threads
    return accel_set_threads(n)


def _report(rec: dict, json_out: bool, text: str | None = None) -> None:
    if json_out:
        emit_json(rec)
    else:
        log.info(json.dumps(rec, sort_keys=True))
        if text:
            print(text)


def _iterations(spec: str, option: str) -> tuple[int, ...]:
    """'1,3,5' or '1 3 5' -> (1, 3, 5)."""
    from speechlang.errors import ConfigError
    try:
        return tuple(int(v) for v in spec.replace(",", " ").split())
    except ValueError:
        raise ConfigError(f"{option} {spec!r}: expected iteration numbers like 0,2,4") from None


@app.command()
def validate(
    data_dir: DirArg,
    fix: Annotated[bool, typer.Option("--fix", help="sort the files and regenerate spk2utt")] = False,
    no_audio: Annotated[bool, typer.Option("--no-audio", help="do not check the audio files")] = False,
    json_out: Json = False,
) -> None:
    """Check a Kaldi data dir and list every problem (exit 1 if any).

    \b
    Example: speechlang asr validate data/train --fix
    """
    from speechlang.asr.datadir import fix_datadir, validate_datadir
    from speechlang.errors import DataError

    problems = fix_datadir(data_dir) if fix else validate_datadir(data_dir, not no_audio)
    if json_out:
        emit_json({"data_dir": str(data_dir), "ok": not problems, "problems": problems})
    else:
        for p in problems:
            print(p)
    if problems:
        raise DataError(f"{data_dir}: {len(problems)} problem(s) found")
    log.info(f"{data_dir}: ok")


@app.command()
def split(
    data_dir: DirArg,
    kept_dir: Annotated[Path, typer.Argument(readable=False, help="data dir to write: the rest")],
    held_dir: Annotated[Path, typer.Argument(readable=False, help="data dir to write: the held-out part")],
    every: Annotated[int, typer.Option("--every", help="hold out every N-th utterance or speaker")] = 10,
    by: Annotated[str, typer.Option("--by", help="utterance, or speaker: hold out whole speakers")] = "utterance",
    json_out: Json = False,
) -> None:
    """Split a data dir in two, e.g. a dev set held out of train (every N-th utterance or speaker,
    C order); audio paths become absolute, wav.scp keeps the files each part uses. Each output
    dir is built aside and replaces an existing one only when complete.

    \b
    Example: speechlang asr split data/train data/train_nodev data/dev --every 10 --by speaker
    """
    from speechlang.asr.datadir import read_datadir, split_datadir, subset_datadir, write_datadir
    from speechlang.errors import ConfigError
    from speechlang.io import atomic_dir

    if kept_dir.resolve() == held_dir.resolve():
        raise ConfigError(f"{kept_dir}: the kept and the held-out dir must differ")
    d = read_datadir(data_dir)
    parts = dict(zip((kept_dir, held_dir), split_datadir(d, every, by), strict=True))
    for out in parts:
        if out.exists() and out.samefile(data_dir):
            raise ConfigError(f"{out}: the output dirs must differ from {data_dir}")
    with atomic_dir(kept_dir) as tmp_kept, atomic_dir(held_dir) as tmp_held:
        for tmp, (out, utts) in zip((tmp_kept, tmp_held), parts.items(), strict=True):
            write_datadir(subset_datadir(d, utts, out), tmp)
    _report({"data_dir": str(data_dir), "by": by, "every": every,
             **{name: {"dir": str(out), "utterances": len(utts),
                       "speakers": len({d.utt2spk[u] for u in utts})}
                for name, (out, utts) in zip(("kept", "held_out"), parts.items(), strict=True)}},
            json_out)


@app.command()
def features(
    data_dir: DirArg,
    out_dir: Annotated[Path, typer.Argument(readable=False, help="feature dir to write")],
    kind: Annotated[str, typer.Option("--kind", help="mfcc or fbank")] = "mfcc",
    sample_rate: Annotated[int, typer.Option("--sample-rate", min=1000, help="Hz; audio is "
                                             "resampled to it")] = 16000,
    num_mel_bins: Annotated[int, typer.Option("--num-mel-bins", min=1)] = 23,
    num_ceps: Annotated[int, typer.Option("--num-ceps", min=1)] = 13,
    use_energy: Annotated[bool, typer.Option("--use-energy/--no-energy", help="log energy as c0 "
                                             "(fbank: an extra first column)")] = True,
    window: Annotated[str, typer.Option("--window", help="povey, hamming, hanning, rectangular")] = "povey",
    dither: Annotated[float, typer.Option("--dither", min=0.0, help="noise std (16-bit units); "
                                          "0 = deterministic")] = 0.0,
    delta_order: Annotated[int, typer.Option("--delta-order", min=0, max=3)] = 2,
    cmvn: Annotated[str, typer.Option("--cmvn", help="speaker, utterance or none")] = "speaker",
    norm_vars: Annotated[bool, typer.Option("--norm-vars", help="CMVN also normalizes variances")] = False,
    cmvn_frames: Annotated[str, typer.Option(
        "--cmvn-frames", help="all, or speech: CMVN statistics over the frames an energy VAD "
        "keeps")] = "all",
    vtln_warp: Annotated[float, typer.Option("--vtln-warp", min=0.5, max=2.0, help="VTLN warp factor "
                                             "of the mel filters (1: none)")] = 1.0,
    speed: Annotated[float, typer.Option("--speed", min=0.5, max=2.0, help="speed perturbation: "
                                         "the audio played this many times faster, tempo and "
                                         "pitch (1: none)")] = 1.0,
    reverb: Annotated[float, typer.Option("--reverb", min=0.0, max=2.0, help="RT60 (s) of a "
                                          "synthetic room response convolved with the audio "
                                          "(0: none)")] = 0.0,
    noise_snr: Annotated[float | None, typer.Option(
        "--noise-snr", min=-10.0, max=60.0, help="add colored Gaussian noise at this SNR (dB)")] = None,
    on_error: Annotated[str, typer.Option("--on-error", help="error, warn or skip an unreadable "
                                          "utterance")] = "error",
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps")] = "auto",
    threads: Threads = 1,
    seed: Seed = 0,
    json_out: Json = False,
) -> None:
    """Compute MFCC or log-mel fbank features (+ deltas, CMVN) of a data dir into a feature dir.

    \b
    Example: speechlang asr features data/train exp/feats/train --cmvn speaker
    """
    from speechlang.asr.features import FeatureConfig, compute_feats

    set_threads(threads)
    cfg = FeatureConfig(kind=kind, sample_rate=sample_rate, num_mel_bins=num_mel_bins,
                        num_ceps=num_ceps, use_energy=use_energy, window=window, dither=dither,
                        delta_order=delta_order, cmvn=cmvn, norm_vars=norm_vars,
                        cmvn_frames=cmvn_frames,
                        vtln_warp=vtln_warp, speed=speed, reverb=reverb, noise_snr=noise_snr)
    _report(compute_feats(data_dir, out_dir, cfg, device, on_error, seed), json_out)


@app.command("train-mono")
def train_mono(
    feat_dir: FeatDir,
    lexicon: Annotated[Path, typer.Argument(readable=False, help="lexicon.txt (WORD PHONE ...; with '!SIL SIL')")],
    out_dir: Annotated[Path, typer.Argument(readable=False, help="model dir to write")],
    iters: Annotated[int, typer.Option("--iters", min=1)] = 25,
    gaussians: Annotated[int, typer.Option("--gaussians", min=1, help="target total Gaussians")] = 1000,
    var_floor: Annotated[float, typer.Option("--var-floor", help="fraction of the global variance")] = 0.01,
    baum_welch: Annotated[bool, typer.Option("--baum-welch", help="forward-backward instead of "
                                             "Viterbi statistics")] = False,
    sil_prob: SilProb = 0.5,
    oov_word: OovWord = None,
    threads: Threads = 1,
    seed: Seed = 0,
    json_out: Json = False,
) -> None:
    """Train monophones from a flat start (equal alignment, then Viterbi or Baum-Welch EM).

    \b
    Example: speechlang asr train-mono exp/feats/train lexicon.txt exp/mono --gaussians 1000
    """
    from speechlang.asr.train import MonoConfig
    from speechlang.asr.train import train_mono as run

    set_threads(threads)
    cfg = MonoConfig(iters=iters, gaussians=gaussians, var_floor=var_floor, baum_welch=baum_welch,
                     sil_prob=sil_prob, oov_word=oov_word, seed=seed)
    _report(run(feat_dir, lexicon, out_dir, cfg), json_out)


@app.command()
def align(
    feat_dir: FeatDir,
    model_dir: ModelDir,
    out_dir: Annotated[Path, typer.Argument(readable=False, help="alignment dir to write")],
    sil_prob: SilProb = 0.5,
    oov_word: OovWord = None,
    threads: Threads = 1,
    json_out: Json = False,
) -> None:
    """Forced alignment: per-frame states (ali.npz) and word/phone CTMs of every utterance.

    \b
    Example: speechlang asr align exp/feats/train exp/mono exp/mono_ali
    """
    from speechlang.asr.align import align_dir

    set_threads(threads)
    _report(align_dir(feat_dir, model_dir, out_dir, oov_word, sil_prob), json_out)


@app.command("train-tri")
def train_tri(
    feat_dir: FeatDir,
    ali_dir: Annotated[Path, typer.Argument(readable=False, help="alignment dir (from asr align)")],
    out_dir: Annotated[Path, typer.Argument(readable=False, help="model dir to write")],
    states: Annotated[int, typer.Option("--states", min=1, help="target tied states")] = 500,
    gaussians: Annotated[int, typer.Option("--gaussians", min=1, help="target total Gaussians")] = 4000,
    iters: Annotated[int, typer.Option("--iters", min=1)] = 20,
    realign_every: Annotated[int, typer.Option("--realign-every", min=1)] = 2,
    questions: Annotated[Path | None, typer.Option("--questions", readable=False, help="phone classes, one per "
                                                   "line (default: clustered from the data)")] = None,
    min_leaf_count: Annotated[float, typer.Option("--min-leaf-count", min=1.0)] = 100.0,
    var_floor: Annotated[float, typer.Option("--var-floor")] = 0.01,
    lda_dim: Annotated[int, typer.Option("--lda-dim", min=0, help="train on spliced statics projected "
                                         "by LDA to this dimension, with MLLT (0: the features as "
                                         "they are)")] = 0,
    splice: Annotated[int, typer.Option("--splice", min=0, help="frames each side spliced for "
                                        "--lda-dim")] = 3,
    mllt_iters: Annotated[str, typer.Option("--mllt-iters", help="iterations (from 0) before which "
                                            "MLLT is estimated, with --lda-dim")] = "1,3,5,11",
    cross_word: Annotated[bool, typer.Option("--cross-word", help="triphone contexts across word "
                                             "boundaries (default: word-internal)")] = False,
    sil_prob: SilProb = 0.5,
    oov_word: OovWord = None,
    threads: Threads = 1,
    seed: Seed = 0,
    json_out: Json = False,
) -> None:
    """Train decision-tree tied triphones, word-internal or --cross-word, from alignments
    (monophone, or triphone for --lda-dim, as Kaldi's train_lda_mllt.sh).

    \b
    Example: speechlang asr train-tri exp/feats/train exp/mono_ali exp/tri --states 500 --gaussians 4000
    Example: speechlang asr train-tri exp/feats/train exp/tri_ali exp/tri2 --lda-dim 40
    """
    from speechlang.asr.train import TriConfig
    from speechlang.asr.train import train_tri as run

    set_threads(threads)
    cfg = TriConfig(states=states, gaussians=gaussians, iters=iters, realign_every=realign_every,
                    questions=str(questions) if questions else None, min_leaf_count=min_leaf_count,
                    var_floor=var_floor, sil_prob=sil_prob, oov_word=oov_word, seed=seed,
                    lda_dim=lda_dim, splice=splice, mllt_iters=_iterations(mllt_iters, "--mllt-iters"),
                    cross_word=cross_word)
    _report(run(feat_dir, ali_dir, out_dir, cfg), json_out)


@app.command("train-sat")
def train_sat(
    feat_dir: FeatDir,
    ali_dir: Annotated[Path, typer.Argument(readable=False, help="alignment dir (from asr align with the "
                                            "triphone model)")],
    out_dir: Annotated[Path, typer.Argument(readable=False, help="SAT model dir to write (with trans.npz)")],
    si_model: Annotated[Path | None, typer.Option("--si-model", readable=False, help="the triphone model "
                                                  "(default: the one that made ALI)")] = None,
    iters: Annotated[int, typer.Option("--iters", min=1)] = 8,
    fmllr_iters: Annotated[str, typer.Option("--fmllr-iters", help="iterations (from 0) at which the "
                                             "transforms are re-estimated")] = "0,2,4,6",
    realign_every: Annotated[int, typer.Option("--realign-every", min=1)] = 2,
    gaussians: Annotated[int, typer.Option("--gaussians", min=0, help="target total Gaussians "
                                           "(0: keep the triphone model's)")] = 0,
    fmllr_sweeps: Annotated[int, typer.Option("--fmllr-sweeps", min=1, help="row-by-row update sweeps "
                                              "per estimation")] = 20,
    sil_weight: Annotated[float, typer.Option("--sil-weight", min=0.0, max=1.0, help="weight of silence "
                                              "frames in the fMLLR statistics")] = 0.0,
    min_count: Annotated[float, typer.Option("--min-count", min=0.0, help="speakers with fewer frames "
                                             "keep the identity transform")] = 50.0,
    var_floor: Annotated[float, typer.Option("--var-floor")] = 0.01,
    sil_prob: SilProb = 0.5,
    oov_word: OovWord = None,
    threads: Threads = 1,
    seed: Seed = 0,
    json_out: Json = False,
) -> None:
    """Speaker-adaptive training: per-speaker fMLLR transforms and a model re-estimated on the
    transformed features, from a triphone model and its alignments (the tree is kept).

    \b
    Example: speechlang asr train-sat exp/feats/train exp/tri_ali exp/sat --iters 8
    """
    from speechlang.asr.train import SatConfig
    from speechlang.asr.train import train_sat as run

    set_threads(threads)
    cfg = SatConfig(iters=iters, fmllr_iters=_iterations(fmllr_iters, "--fmllr-iters"),
                    realign_every=realign_every, gaussians=gaussians,
                    fmllr_sweeps=fmllr_sweeps, sil_weight=sil_weight, min_count=min_count,
                    var_floor=var_floor, sil_prob=sil_prob, oov_word=oov_word, seed=seed)
    _report(run(feat_dir, ali_dir, out_dir, cfg, si_model), json_out)


@app.command()
def decode(
    feat_dir: FeatDir,
    model_dir: ModelDir,
    lm: Annotated[Path | None, typer.Option("--lm", readable=False, help="ARPA n-gram LM (e.g. from speechlang "
                                            "ngram train); default: MODEL/lm.arpa")] = None,
    output: Output = "-",
    lm_weight: Annotated[str, typer.Option("--lm-weight", help="LM scale against the acoustic "
                                           "log-likelihoods; several, comma-separated (4,6,8), "
                                           "decode once and write an output per weight: name "
                                           "the outputs with {lm_weight}")] = "10",
    word_ins_penalty: Annotated[float, typer.Option("--word-ins-penalty", help="natural log, added "
                                                    "per word")] = 0.0,
    beam: Annotated[float, typer.Option("--beam", min=0.0, help="prune paths this much below the "
                                        "best (log-likelihood units; cross-word models need a "
                                        "wider beam, e.g. 300)")] = 160.0,
    max_active: Annotated[int, typer.Option("--max-active", min=1, help="at most this many active "
                                            "HMM states per frame")] = 7000,
    sil_prob: SilProb = 0.5,
    nbest: Annotated[int, typer.Option("--nbest", min=1, help="hypotheses per utterance")] = 1,
    nbest_out: Annotated[Path | None, typer.Option("--nbest-out", readable=False, help="write 'UTT RANK SCORE "
                                                   "WORDS' lines here")] = None,
    ctm: Annotated[Path | None, typer.Option("--ctm", readable=False, help="write word timings (CTM) here")] = None,
    restrict_vocab: Annotated[bool, typer.Option("--restrict-vocab", help="decode only lexicon "
                                                 "words the LM has (default: map them to <unk>)")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda[:N]: GMM likelihoods "
                                        "in torch on a GPU, numba on CPU")] = "auto",
    acoustic_scale: Annotated[float | None, typer.Option(
        "--acoustic-scale", min=0.0, help="DNN models: scale of log p(s|x) - log p(s) (default: "
        "the model's)")] = None,
    quantize: Annotated[bool, typer.Option("--quantize", help="DNN models: int8 dynamic "
                                           "quantization, CPU")] = False,
    fmllr: Annotated[bool, typer.Option("--fmllr", help="two-pass decoding with per-speaker fMLLR "
                                        "(utt2spk of FEATS; MODEL from train-sat)")] = False,
    adabn: Annotated[bool, typer.Option("--adabn", help="TDNN models: BatchNorm statistics "
                                        "re-estimated on each speaker's utterances (utt2spk of "
                                        "FEATS; AdaBN, unsupervised); with --fmllr, in the "
                                        "passes a TDNN decodes")] = False,
    si_model: Annotated[Path | None, typer.Option("--si-model", readable=False, help="--fmllr: first-pass "
                                                  "model, GMM or DNN on the same tree (default: the SAT "
                                                  "model's triphone model)")] = None,
    fmllr_rounds: Annotated[int, typer.Option("--fmllr-rounds", min=1, help="--fmllr: transform "
                                              "estimations, each after a decode")] = 2,
    fmllr_sil_weight: Annotated[float, typer.Option("--fmllr-sil-weight", min=0.0, max=1.0, help="--fmllr: "
                                                    "weight of silence frames")] = 0.01,
    threads: Threads = 1,
    json_out: Json = False,
) -> None:
    """Viterbi beam search over lexicon + ARPA LM; one `UTT WORDS` line per utterance.
    MODEL is a GMM (train-mono, train-tri, train-sat) or DNN (train-dnn) model dir.

    \b
    Example: speechlang asr decode exp/feats/test exp/tri --lm lm.arpa --lm-weight 12 -O hyp.txt

    Several LM weights, one decode (as Kaldi's scoring of one lattice at each LMWT):
    --lm-weight 8,10,12 -O 'hyp.lmw{lm_weight}' writes hyp.lmw8, hyp.lmw10 and hyp.lmw12.
    """
    from speechlang.asr.alignfile import write_ctm
    from speechlang.asr.decoder import DecodeConfig, decode_sweep
    from speechlang.asr.featfile import read_feats
    from speechlang.asr.lexicon import SIL_WORD
    from speechlang.errors import ConfigError
    from speechlang.io import atomic_output, check_writable

    set_threads(threads)
    weights = _lm_weights(lm_weight)
    cfg = DecodeConfig(lm_weight=weights[0][1], word_ins_penalty=word_ins_penalty, beam=beam,
                       max_active=max_active, sil_prob=sil_prob, nbest=nbest,
                       restrict_vocab=restrict_vocab)
    paths = {o: _per_weight_paths(o, flag, weights) for o, flag in
             ((output, "-O"), (nbest_out, "--nbest-out"), (ctm, "--ctm")) if o is not None}
    for ps in paths.values():
        for p in ps:
            check_writable(p)
    shift = float(read_feats(feat_dir).config.get("frame_shift_ms", 10.0)) / 1000
    if fmllr:
        from speechlang.asr.decoder import decode_fmllr_sweep
        from speechlang.asr.dnn import is_dnn_dir, read_dnn
        from speechlang.asr.fmllr import FmllrConfig
        if is_dnn_dir(model_dir) and not read_dnn(model_dir).meta.get("fmllr"):
            raise ConfigError("--fmllr needs a train-sat model dir or a DNN from train-dnn --fmllr")
        swept = list(decode_fmllr_sweep(feat_dir, model_dir, lm, cfg, [w for _, w in weights],
                                        device, si_model, FmllrConfig(sil_weight=fmllr_sil_weight),
                                        fmllr_rounds, adabn))
    else:
        swept = list(decode_sweep(feat_dir, model_dir, lm, cfg, [w for _, w in weights], device,
                                  acoustic_scale, quantize, adabn=adabn))
    runs = [[(u, by_weight[w]) for u, by_weight in swept] for _, w in weights]
    outputs = []  # (path, lines) of every weight, written once all are decoded
    for i, run in enumerate(runs):
        lines, nlines, ctm_rows = [], [], []
        for utt, hyps in run[:-1]:
            lines.append(f"{utt} {' '.join(hyps[0].words) if hyps else ''}".rstrip())
            for r, h in enumerate(hyps, 1):
                nlines.append(f"{utt} {r} {h.score:.3f} {' '.join(h.words)}".rstrip())
            if hyps:
                ctm_rows += [(utt, s * shift, (e - s) * shift, w) for w, s, e in hyps[0].times
                             if w != SIL_WORD]
        outputs.append((paths[output][i], lines))
        if nbest_out:
            outputs.append((paths[nbest_out][i], nlines))
        if ctm:
            write_ctm(paths[ctm][i], ctm_rows)
    for path, rows in outputs:
        with atomic_output(path) as f:
            f.write("".join(line + "\n" for line in rows))
    for run in runs:
        if json_out:
            emit_json(run[-1][1])
        else:
            log.info(json.dumps(run[-1][1], sort_keys=True))


def _lm_weights(text: str) -> list[tuple[str, float]]:
    """'8,10,12' -> [('8', 8.0), ('10', 10.0), ('12', 12.0)]: each weight as written (for the
    {lm_weight} of output names) and its value; one clear error for anything else."""
    from speechlang.errors import ConfigError
    out = []
    for part in text.split(","):
        try:
            w = float(part)
        except ValueError:
            raise ConfigError(f"--lm-weight {text!r}: expected numbers separated by commas, "
                              "e.g. 10 or 8,10,12") from None
        if not w >= 0 or w == float("inf"):
            raise ConfigError(f"--lm-weight {part.strip()}: each weight must be a number >= 0")
        out.append((part.strip(), w))
    if len({w for _, w in out}) < len(out):
        raise ConfigError(f"--lm-weight {text!r}: a weight is given twice")
    return out


def _per_weight_paths(path, flag: str, weights: list[tuple[str, float]]) -> list:
    """The output of each LM weight: `path` with {lm_weight} replaced by the weight as written.
    Several weights need the placeholder (and a file, not stdout)."""
    from speechlang.errors import ConfigError
    path = str(path)
    if len(weights) > 1 and "{lm_weight}" not in path:
        raise ConfigError(f"{flag} {path}: with several --lm-weight values, name the outputs with "
                          "{lm_weight}, e.g. hyp.lmw{lm_weight}")
    return [path if path == "-" else path.replace("{lm_weight}", text) for text, _ in weights]


@app.command()
def score(
    ref: Annotated[Path, typer.Argument(readable=False, help="reference text (UTT WORD ...), e.g. data/test/text")],
    hyp: Annotated[str, typer.Argument(help="hypothesis text ('-' = stdin)")],
    utt2spk: Annotated[Path | None, typer.Option("--utt2spk", readable=False, help="speakers for the breakdown "
                                                 "(default: utt2spk beside REF)")] = None,
    json_out: Json = False,
) -> None:
    """Word error rate with substitutions, deletions, insertions and a per-speaker table.

    \b
    Example: speechlang asr score data/test/text hyp.txt --json
    """
    from speechlang.asr.datadir import read_table
    from speechlang.asr.score import format_report, read_transcripts, score_texts

    spk_file = utt2spk or (ref.parent / "utt2spk")
    u2s = {k: r[0] for k, r in read_table(spk_file).items()} if spk_file.is_file() else None
    res = score_texts(read_transcripts(ref), read_transcripts(hyp), u2s, str(ref), hyp)
    if json_out:
        rec = res.total.as_dict()
        rec["per_speaker"] = {s: c.as_dict() for s, c in res.per_speaker.items()}
        rec["missing"] = len(res.missing)
        emit_json(rec)
    else:
        print(format_report(res))


@app.command("train-dnn")
def train_dnn(
    feat_dir: FeatDir,
    ali_dir: Annotated[Path, typer.Argument(readable=False, help="alignment dir (from asr align with GMM_MODEL)")],
    gmm_dir: Annotated[Path, typer.Argument(readable=False, help="the GMM model dir that made the alignments")],
    out_dir: Annotated[Path, typer.Argument(readable=False, help="DNN model dir to write")],
    arch: Annotated[str, typer.Option("--arch", help="dnn (feed-forward) or tdnn (1-D "
                                      "convolutions over time)")] = "dnn",
    context: Annotated[int, typer.Option("--context", min=0, help="frames spliced on each side")] = 5,
    hidden: Annotated[int, typer.Option("--hidden", min=1, help="units (channels) per layer")] = 512,
    layers: Annotated[int, typer.Option("--layers", min=1, help="hidden layers")] = 3,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 6,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="frames per batch")] = 256,
    chunk: Annotated[int, typer.Option("--chunk", min=0, help="consecutive frames per training "
                                       "chunk (a batch holds batch-size / chunk chunks); 0: 1 for "
                                       "dnn, 32 for tdnn, which shares convolutions within a chunk")] = 0,
    lr: Annotated[float, typer.Option("--lr", help="peak learning rate (AdamW, cosine decay)")] = 1e-3,
    weight_decay: Annotated[float, typer.Option("--weight-decay", min=0.0, help="AdamW's "
                                                "decoupled weight decay")] = 0.0,
    dropout: Annotated[float, typer.Option("--dropout", help="dropout probability after each "
                                           "hidden layer")] = 0.0,
    heldout: Annotated[float, typer.Option("--heldout", help="fraction of utterances held out "
                                           "for the per-epoch frame accuracy")] = 0.1,
    speaker_batches: Annotated[bool, typer.Option("--speaker-batches", help="every batch from one "
                                                  "speaker of one view, so BatchNorm normalizes per "
                                                  "speaker (decode with --adabn)")] = False,
    lm: Annotated[Path | None, typer.Option("--lm", readable=False, help="ARPA LM copied into the model dir "
                                            "(for transcribe)")] = None,
    lm_weight: Annotated[float, typer.Option("--lm-weight", min=0.0, help="stored default LM "
                                             "weight for transcribe")] = 10.0,
    acoustic_scale: Annotated[float, typer.Option("--acoustic-scale", min=0.0, help="stored "
                                                  "default acoustic scale")] = 1.0,
    precision: Precision = "fp32",
    device: Device = "auto",
    realign: Annotated[bool, typer.Option("--realign", help="then realign with the DNN and "
                                          "train a second network on those alignments")] = False,
    oov_word: OovWord = None,
    fmllr: Annotated[bool, typer.Option("--fmllr", help="train on FEATS adapted by GMM_MODEL's "
                                        "per-speaker fMLLR transforms (a train-sat dir); decode "
                                        "with --fmllr")] = False,
    extra_feats: Annotated[list[Path] | None, typer.Option(
        "--extra-feats", readable=False, help="another feature dir of the same utterances (e.g. "
        "--vtln-warp copies) trained on with the same alignment; repeatable")] = None,
    extra_ali: Annotated[list[Path] | None, typer.Option(
        "--extra-ali", readable=False, help="the alignment of the i-th --extra-feats (e.g. of "
        "--speed copies, from asr align; ALI for views it fits); one per --extra-feats")] = None,
    aux_feats: Annotated[list[Path] | None, typer.Option(
        "--aux-feats", readable=False, help="features of an auxiliary task trained jointly "
        "(multitask: e.g. another corpus with its own tree), with its own output layer that is "
        "not kept; repeatable")] = None,
    aux_ali: Annotated[list[Path] | None, typer.Option(
        "--aux-ali", readable=False, help="the alignment of the i-th --aux-feats (from asr "
        "align); one per --aux-feats")] = None,
    objective: Annotated[str, typer.Option("--objective", help="ce (frame cross-entropy) or mmi "
                                           "(lattice-free MMI over chunks, pdf-bigram denominator; "
                                           "usually with --init)")] = "ce",
    mmi_scale: Annotated[float, typer.Option("--mmi-scale", help="--objective mmi: acoustic scale "
                                             "of the scaled log-likelihoods")] = 1.0,
    mmi_ce: Annotated[float, typer.Option("--mmi-ce", help="--objective mmi: weight of the frame "
                                          "cross-entropy added to the MMI loss")] = 0.1,
    init: Annotated[Path | None, typer.Option("--init", readable=False, help="start from this DNN "
                                              "model dir's network (its arch and sizes replace "
                                              "--arch, --context, --hidden, --layers, --dropout)")] = None,
    transfer: Annotated[bool, typer.Option("--transfer", help="with --init: keep its input "
                                           "normalization and hidden layers only and start a new "
                                           "output layer for these tied states (a model of other "
                                           "data, another language or tree)")] = False,
    freeze: Annotated[int, typer.Option("--freeze", min=0, help="with --init: keep its first N hidden "
                                        "layers as they are (train only the layers above)")] = 0,
    freq_mask: Annotated[int, typer.Option("--freq-mask", min=0, help="SpecAugment: widest "
                                           "frequency mask in mel bands (MFCC masked in the "
                                           "log-mel domain); 0: none")] = 0,
    time_mask: Annotated[int, typer.Option("--time-mask", min=0, help="SpecAugment: widest time "
                                           "mask in frames; 0: none")] = 0,
    num_masks: Annotated[int, typer.Option("--num-masks", min=0, help="SpecAugment: masks of "
                                           "each kind per training chunk")] = 2,
    spec_shift: Annotated[float, typer.Option("--spec-shift", min=0.0, help="RMS in dB of a random "
                                              "smooth log-mel curve added to each segment of the "
                                              "training chunks (a spectral-shape perturbation); "
                                              "0: none")] = 0.0,
    shift_frames: Annotated[int, typer.Option("--shift-frames", min=1, help="--spec-shift: mean "
                                              "segment length in frames")] = 10,
    spec_scale: Annotated[tuple[float, float], typer.Option("--spec-scale", help="LO HI: scale each "
                                                            "training chunk's log-mel spectral shape "
                                                            "by a factor log-uniform in [LO, HI]; "
                                                            "1 1: none")] = (1.0, 1.0),
    resume: Annotated[bool, typer.Option("--resume", help="continue from OUT_DIR/ckpt/"
                                         "checkpoint_last.pt")] = False,
    threads: Threads = 1,
    seed: Seed = 1,
    json_out: Json = False,
) -> None:
    """Train a hybrid DNN-HMM: a network over spliced frames predicting the aligned tied states.

    \b
    Example: speechlang asr train-dnn exp/feats/train exp/tri_ali exp/tri exp/dnn --lm lm.arpa
    """
    from speechlang.accel import TrainConfig
    from speechlang.asr.dnn import DNNConfig
    from speechlang.asr.dnn import train_dnn as run

    set_threads(threads)
    cfg = DNNConfig(arch=arch, context=context, hidden=hidden, layers=layers, batch_size=batch_size,
                    heldout=heldout, acoustic_scale=acoustic_scale, lm_weight=lm_weight, seed=seed,
                    realign=realign, fmllr=fmllr, dropout=dropout, chunk=chunk,
                    speaker_batches=speaker_batches, objective=objective, mmi_scale=mmi_scale,
                    mmi_ce=mmi_ce, init=str(init or ""), transfer=transfer, freeze=freeze,
                    freq_mask=freq_mask, time_mask=time_mask, num_masks=num_masks,
                    spec_shift=spec_shift, shift_frames=shift_frames, spec_scale=tuple(spec_scale))
    tcfg = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, schedule="cosine", min_lr_ratio=0.05,
                       precision=precision, device=device, seed=seed, clip_norm=5.0)
    rec = run(feat_dir, ali_dir, gmm_dir, out_dir, cfg, tcfg, resume, lm, tuple(extra_feats or ()),
              tuple(extra_ali or ()), oov_word, tuple(aux_feats or ()), tuple(aux_ali or ()))
    if rec:
        _report(rec, json_out)


@app.command()
def transcribe(
    model: Annotated[Path, typer.Option("--model", "-m", readable=False, help="DNN model dir (from train-dnn "
                                        "with --lm)")],
    audio: Annotated[list[Path] | None, typer.Argument(readable=False, help="audio files (default: one path "
                                                        "per line on stdin)")] = None,
    input: Annotated[str | None, typer.Option("--input", "-i", help="file listing audio paths, one a line "
                                              "('-' = stdin, the default without AUDIO)")] = None,
    output: Output = "-",
    ctm: Annotated[Path | None, typer.Option("--ctm", readable=False, help="write word timings (CTM, the file "
                                             "path as the id) here")] = None,
    lm_weight: Annotated[float | None, typer.Option("--lm-weight", min=0.0, help="default: "
                                                    "the model's")] = None,
    acoustic_scale: Annotated[float | None, typer.Option("--acoustic-scale", min=0.0)] = None,
    beam: Annotated[float, typer.Option("--beam", min=0.0)] = 160.0,
    quantize: Annotated[bool, typer.Option("--quantize", help="int8 dynamic quantization "
                                           "(CPU)")] = False,
    adabn: Annotated[bool, typer.Option("--adabn", help="TDNN models: BatchNorm statistics "
                                        "from each file itself (AdaBN)")] = False,
    threads: Threads = 1,
    json_out: Json = False,
) -> None:
    """Transcribe audio files: one `PATH<TAB>WORDS` line per file.

    \b
    Example: speechlang asr transcribe --model exp/dnn a.flac b.wav --ctm words.ctm
    """
    from speechlang.asr.alignfile import write_ctm
    from speechlang.asr.lexicon import SIL_WORD
    from speechlang.asr.transcribe import TranscribeConfig, Transcriber
    from speechlang.errors import DataError
    from speechlang.io import atomic_output, check_writable, display_name, iter_lines

    set_threads(threads)
    for p in (output, ctm):
        check_writable(p) if p else None
    paths = [str(p) for p in audio or []]
    if input is not None or not paths:
        paths += [s.strip() for s in iter_lines(input) if s.strip()]
    if not paths:
        raise DataError(f"{display_name(input)}: no audio files given (arguments, --input or one path a line "
                        "on stdin)")
    t = Transcriber(model, TranscribeConfig(lm_weight=lm_weight, acoustic_scale=acoustic_scale,
                                            beam=beam, quantize=quantize, adabn=adabn))
    import time
    lines, rows, secs, t0 = [], [], 0.0, time.perf_counter()
    for p in paths:
        hyp, s = t.transcribe(p)
        secs += s
        lines.append(f"{p}\t{' '.join(hyp.words) if hyp else ''}")
        if hyp:
            rows += [(p, a * t.shift, (b - a) * t.shift, w) for w, a, b in hyp.times if w != SIL_WORD]
    with atomic_output(output) as f:
        f.write("".join(line + "\n" for line in lines))
    if ctm:
        write_ctm(ctm, rows)
    el = time.perf_counter() - t0
    rec = {"files": len(paths), "audio_s": round(secs, 2), "elapsed_s": round(el, 3),
           "rtf": round(el / max(secs, 1e-9), 4)}
    emit_json(rec) if json_out else log.info(json.dumps(rec, sort_keys=True))
