"""`speechlang nmt`: Sequence-to-sequence translation with attention, beam search and BLEU."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from speechlang import log
from speechlang.cli import GROUPS
from speechlang.cli._util import Device, Input, Json, Output, Precision, Seed, Threads, emit_json, make_app
from speechlang.errors import ConfigError
from speechlang.io import check_writable
from speechlang.nmt import ARCH_MODULES

# torch is imported by the commands that need it (train, translate, average), so the help,
# prepare and score start without it.
app = make_app(GROUPS["nmt"].help)

ARCHS = ", ".join(sorted(ARCH_MODULES))


def _opt(help: str, *names: str, **kw):
    return typer.Option(*names, help=help, **kw)


@app.command()
def prepare(
    output_dir: Annotated[str, _opt("prepared-data directory to create", "--output-dir", "-o")],
    train: Annotated[str, _opt("training files PREFIX.SRC and PREFIX.TGT", "--train")],
    dev: Annotated[str, _opt("dev files prefix (validation, early stopping)", "--dev")] = "",
    test: Annotated[str, _opt("test files prefix (optional)", "--test")] = "",
    src: Annotated[str, _opt("source language suffix", "--src")] = "en",
    tgt: Annotated[str, _opt("target language suffix", "--tgt")] = "es",
    model_type: Annotated[str, _opt("sentencepiece unigram or bpe, or word (whitespace tokens)",
                                    "--model-type")] = "unigram",
    vocab_size: Annotated[int, _opt("vocabulary size per model, specials included (word: 0 keeps all types)",
                                    "--vocab-size", min=0)] = 8000,
    min_count: Annotated[int, _opt("word: keep types seen at least this often", "--min-count", min=1)] = 1,
    joint: Annotated[bool, _opt("one subword model for both sides, or one per side", "--joint/--separate")] = True,
    max_len: Annotated[int, _opt("drop training pairs with a side longer than this many subwords (0: off)",
                                 "--max-len", min=0)] = 250,
    max_ratio: Annotated[float, _opt("drop training pairs whose length ratio exceeds this (0: off)",
                                     "--max-ratio", min=0)] = 3.0,
    seed: Seed = 1,
    json_out: Json = False,
) -> None:
    """Train sentencepiece model(s) or word vocabularies and encode every split into token-id arrays.

    \b
    Example: speechlang nmt prepare --train data/bible.train --dev data/bible.dev --vocab-size 8000 -o exp/data
          speechlang nmt prepare --train data/bible.train --dev data/bible.dev --model-type word --vocab-size 0 \
            --separate -o exp/words
    """
    from speechlang.nmt.prepare import PrepareConfig
    from speechlang.nmt.prepare import prepare as prepare_data

    cfg = PrepareConfig(train=train, dev=dev, test=test, src=src, tgt=tgt, model_type=model_type,
                        vocab_size=vocab_size, min_count=min_count, joint=joint, max_len=max_len,
                        max_ratio=max_ratio, seed=seed)
    meta = prepare_data(cfg, output_dir)
    if json_out:
        emit_json({"vocab_size": meta["vocab_size"], "splits": meta["splits"]})


@app.command(help=f"""Train a seq2seq model (--arch {ARCHS}) through the shared training loop.

    Architecture options left unset take the architecture's defaults; options that do not apply
    to the chosen architecture are errors. Runs under torchrun for data-parallel training;
    --model-parallel 2 splits the transformer over two processes (spawned here, or torchrun's two).

    \b
    Example: speechlang nmt train --data exp/data --arch transformer --epochs 30 --keep-epochs 5 -o exp/tf
    """)
def train(
    data: Annotated[str, _opt("prepared-data directory (nmt prepare)", "--data", "-d")],
    output_dir: Annotated[str, _opt("checkpoint directory", "--output-dir", "-o")],
    arch: Annotated[str, _opt(f"architecture: {ARCHS}", "--arch")] = "transformer",
    embed_dim: Annotated[int | None, _opt("embedding size (transformer: d_model)", "--embed-dim", min=2)] = None,
    hidden_dim: Annotated[int | None, _opt("lstm-attention: LSTM size per encoder direction", "--hidden-dim",
                                           min=1)] = None,
    ff_dim: Annotated[int | None, _opt("transformer: feed-forward inner size", "--ff-dim", min=1)] = None,
    moe_experts: Annotated[int | None, _opt("transformer: each feed-forward block a hard mixture of N experts",
                                            "--moe-experts", min=1)] = None,
    heads: Annotated[int | None, _opt("transformer: attention heads", "--heads", min=1)] = None,
    enc_layers: Annotated[int | None, _opt("encoder layers", "--enc-layers", min=1)] = None,
    dec_layers: Annotated[int | None, _opt("decoder layers", "--dec-layers", min=1)] = None,
    attention: Annotated[str | None, _opt("lstm-attention: additive (Bahdanau) or multiplicative (Luong)",
                                          "--attention")] = None,
    dropout: Annotated[float | None, _opt("dropout probability", "--dropout", min=0, max=0.9)] = None,
    share_embeddings: Annotated[bool | None, _opt("one embedding for source, target and output (joint vocab)",
                                                  "--share-embeddings/--no-share-embeddings")] = None,
    max_tokens: Annotated[int, _opt("padded tokens per batch", "--max-tokens", min=16)] = 4096,
    output_layer: Annotated[str | None, _opt("full, sampled (softmax; full at test) or hierarchical (Huffman tree)",
                                             "--output-layer")] = None,
    sampled_k: Annotated[int | None, _opt("sampled: candidate words per batch (default 1024)", "--sampled-k",
                                          min=1)] = None,
    sampled_proposal: Annotated[str | None, _opt("sampled: log-uniform (over frequency ranks) or unigram",
                                                 "--sampled-proposal")] = None,
    label_smoothing: Annotated[float | None, _opt("label smoothing epsilon (full softmax only; default 0.1 with it, "
                                                  "else 0)", "--label-smoothing", min=0, max=0.99)] = None,
    model_parallel: Annotated[int, _opt("1, or 2: transformer encoder and decoder in two processes",
                                        "--model-parallel", min=1, max=2)] = 1,
    micro_batches: Annotated[int, _opt("model parallel: pipeline each batch in this many pieces",
                                       "--micro-batches", min=1)] = 1,
    epochs: Annotated[int, _opt("maximum passes over the training data", "--epochs", min=1)] = 30,
    max_minutes: Annotated[float, _opt("training wall-time budget (minutes); the epoch reaching it is cut short",
                                       "--max-minutes", min=0)] = 0.0,
    lr: Annotated[float, _opt("peak learning rate (Adam)", "--lr", min=0)] = 7e-4,
    warmup_steps: Annotated[int, _opt("linear warm-up steps before the inverse-sqrt decay", "--warmup-steps",
                                      min=0)] = 1000,
    schedule: Annotated[str, _opt("constant, linear, cosine, inverse-sqrt or plateau", "--schedule")] = "inverse-sqrt",
    clip_norm: Annotated[float, _opt("clip the gradient norm (0: off)", "--clip-norm", min=0)] = 1.0,
    weight_decay: Annotated[float, _opt("AdamW weight decay", "--weight-decay", min=0)] = 0.0,
    grad_accum: Annotated[int, _opt("batches per optimizer step", "--grad-accum", min=1)] = 1,
    patience: Annotated[int, _opt("early stop after this many epochs without dev improvement (0: off)",
                                  "--patience", min=0)] = 5,
    monitor: Annotated[str, _opt("early-stopping metric: bleu or dev_loss", "--monitor")] = "bleu",
    keep_epochs: Annotated[int, _opt("keep the last N epoch checkpoints (for nmt average)", "--keep-epochs",
                                     min=0)] = 5,
    dev_bleu_sents: Annotated[int, _opt("dev sentences decoded for BLEU each epoch (0: all)", "--dev-bleu-sents",
                                        min=0)] = 0,
    resume: Annotated[bool, _opt("continue from OUTPUT_DIR/checkpoint_last.pt", "--resume")] = False,
    device: Device = "auto",
    precision: Precision = "fp32",
    threads: Threads = 0,
    seed: Seed = 1,
    json_out: Json = False,
) -> None:
    from speechlang.accel import TrainConfig, set_threads
    from speechlang.nmt.train import NMTConfig
    from speechlang.nmt.train import train as train_model

    if monitor not in ("bleu", "dev_loss"):
        raise ConfigError(f"--monitor {monitor!r} is not one of bleu, dev_loss")
    set_threads(threads)
    model = {"embed_dim": embed_dim, "hidden_dim": hidden_dim, "ff_dim": ff_dim, "moe_experts": moe_experts,
             "heads": heads,
             "enc_layers": enc_layers, "dec_layers": dec_layers, "attention": attention, "dropout": dropout,
             "share_embeddings": share_embeddings, "output_layer": output_layer, "sampled_k": sampled_k,
             "sampled_proposal": sampled_proposal}
    if output_layer != "sampled" and (sampled_k is not None or sampled_proposal is not None):
        raise ConfigError("--sampled-k and --sampled-proposal apply to --output-layer sampled only")
    if label_smoothing is None:
        label_smoothing = 0.1 if output_layer in (None, "full") else 0.0
    cfg = NMTConfig(data=data, arch=arch, model=model, max_tokens=max_tokens, label_smoothing=label_smoothing,
                    dev_bleu_sents=dev_bleu_sents, model_parallel=model_parallel, micro_batches=micro_batches)
    tcfg = TrainConfig(epochs=epochs, lr=lr, optimizer="adam" if weight_decay == 0 else "adamw",
                       betas=(0.9, 0.98), weight_decay=weight_decay, schedule=schedule,
                       warmup_steps=warmup_steps, clip_norm=clip_norm, grad_accum=grad_accum,
                       precision=precision, device=device, seed=seed, patience=patience, monitor=monitor,
                       monitor_mode="max" if monitor == "bleu" else "min", keep_epochs=keep_epochs,
                       max_minutes=max_minutes)
    summary = train_model(cfg, tcfg, output_dir, resume=resume)
    if json_out:
        emit_json({k: v for k, v in summary.items() if k != "history"})
    else:
        log.info(json.dumps({k: v for k, v in summary.items() if k != "history"}))


@app.command()
def translate(
    model: Annotated[list[str], _opt("checkpoint(s); several are decoded as an ensemble", "--model", "-m")],
    input: Input = "-",
    output: Output = "-",
    beam: Annotated[int, _opt("beam size (1: greedy search)", "--beam", "-b", min=1)] = 5,
    len_penalty: Annotated[float, _opt("rank hypotheses by log-prob / length^this", "--len-penalty")] = 1.0,
    max_len_ratio: Annotated[float, _opt("output length limit: ratio x source length + extra",
                                         "--max-len-ratio", min=0)] = 1.5,
    max_len_extra: Annotated[int, _opt("output length limit: ratio x source length + extra", "--max-len-extra",
                                       min=0)] = 10,
    nbest: Annotated[int, _opt("hypotheses per sentence, as TSV lines: index, score, text", "--nbest",
                               min=1)] = 1,
    batch_size: Annotated[int, _opt("sentences per batch", "--batch-size", min=1)] = 32,
    max_src_len: Annotated[int, _opt("truncate longer inputs, in subwords, with a warning (0: model limit)",
                                     "--max-src-len", min=0)] = 0,
    vocab: Annotated[str | None, _opt("prepared-data directory to check the model's vocabulary against",
                                      "--vocab")] = None,
    quantize: Annotated[bool, _opt("int8 dynamic quantization of the Linear layers (CPU)", "--quantize")] = False,
    device: Device = "auto",
    threads: Threads = 0,
) -> None:
    """Translate lines from stdin (or --input) to stdout with beam or greedy search.

    \b
    Example: speechlang nmt translate -m exp/tf/checkpoint_best.pt --beam 5 < test.en > test.hyp.es
    """
    from speechlang.accel import resolve_device, set_threads
    from speechlang.nmt.translate import TranslateConfig, translate_file

    set_threads(threads)
    cfg = TranslateConfig(beam=beam, len_penalty=len_penalty, max_len_ratio=max_len_ratio,
                          max_len_extra=max_len_extra, nbest=nbest, batch_size=batch_size, max_src_len=max_src_len)
    cfg.check()
    translate_file(model, input, output, cfg, vocab_dir=vocab,
                   device=resolve_device("cpu" if quantize else device), quantize=quantize)


@app.command()
def average(
    checkpoints: Annotated[list[str] | None, typer.Argument(help="checkpoints to average (or use --last)")] = None,
    last: Annotated[int, _opt("average the last N epoch checkpoints of --run-dir", "--last", min=1)] = 5,
    run_dir: Annotated[str | None, _opt("training directory holding checkpoint_epochN.pt", "--run-dir")] = None,
    output: Annotated[str, _opt("averaged checkpoint to write", "--output", "-O")] = "checkpoint_avg.pt",
) -> None:
    """Average the parameters of several checkpoints (e.g. the last N epochs) into one.

    \b
    Example: speechlang nmt average --run-dir exp/tf --last 5 -O exp/tf/checkpoint_avg5.pt
    """
    from speechlang.nmt.average import average_checkpoints, last_checkpoints

    if bool(checkpoints) == bool(run_dir):
        raise ConfigError("give either checkpoint files or --run-dir (with --last N)")
    check_writable(output)
    paths = checkpoints or last_checkpoints(run_dir, last)
    rec = average_checkpoints(paths, output)
    log.info(f"averaged {len(rec['inputs'])} checkpoints into {output}")


@app.command()
def score(
    reference: Annotated[str, _opt("reference translations, one per line", "--reference", "-r")],
    input: Input = "-",
    json_out: Json = False,
) -> None:
    """BLEU and chrF (sacreBLEU) of hypotheses (stdin or --input) against references.

    \b
    Example: speechlang nmt score -r data/bible.test.es < test.hyp.es
    """
    from speechlang.nmt.score import score_files

    rec = score_files(input, reference)
    if json_out:
        emit_json(rec)
        return
    print(f"BLEU = {rec['bleu']:.2f}\t{rec['bleu_signature']}")
    print(f"chrF = {rec['chrf']:.2f}\t{rec['chrf_signature']}")
