"""`speechlang w2v`: Skip-gram word vectors with negative sampling or hierarchical softmax."""

from __future__ import annotations

from typing import Annotated

import typer

from speechlang import log
from speechlang.cli import GROUPS
from speechlang.cli._util import (
    Device,
    Hogwild,
    Json,
    Precision,
    Seed,
    Threads,
    emit_json,
    is_main_process,
    make_app,
)
from speechlang.errors import ConfigError
from speechlang.io import check_writable

app = make_app(GROUPS["w2v"].help)

Vectors = Annotated[str, typer.Option("--vectors", "-v", help="word2vec vectors file, text or binary")]
VecFormat = Annotated[str, typer.Option("--format", help="auto, text or binary")]
TopK = Annotated[int, typer.Option("-k", "--topn", min=1, help="neighbours to print")]


def _print_neighbours(pairs, json_out: bool, query: dict) -> None:
    if json_out:
        emit_json({**query, "neighbours": [{"word": w, "cosine": s} for w, s in pairs]})
        return
    for w, s in pairs:
        print(f"{w}\t{s:.4f}")


@app.command()
def train(
    input: Annotated[list[str] | None, typer.Option(
        "--input", "-i", help="tokenized text, one sentence per line; repeatable ('-' = stdin)")] = None,
    output: Annotated[str, typer.Option("--output", "-O", help="vectors file ('-' = stdout)")] = "-",
    format: Annotated[str, typer.Option(
        "--format", help="text, binary, or auto (binary when the output ends in .bin)")] = "auto",
    loss: Annotated[str, typer.Option("--loss", help="ns (negative sampling) or hs (hierarchical softmax)")] = "ns",
    dim: Annotated[int, typer.Option("--dim", help="vector dimension")] = 100,
    window: Annotated[int, typer.Option("--window", help="max context words on each side")] = 5,
    negative: Annotated[int, typer.Option("--negative", help="noise words per pair (--loss ns)")] = 5,
    min_count: Annotated[int, typer.Option("--min-count", help="drop words seen fewer times")] = 5,
    sample: Annotated[float, typer.Option("--sample", help="subsampling threshold of frequent words (0: off)")] = 1e-3,
    epochs: Annotated[int, typer.Option("--epochs", help="passes over the corpus")] = 5,
    alpha: Annotated[float, typer.Option("--alpha", help="initial learning rate")] = 0.025,
    min_alpha: Annotated[float, typer.Option("--min-alpha", help="final learning rate (linear decay)")] = 1e-4,
    seed: Seed = 1,
    threads: Threads = 0,
    device: Device = "auto",
    backend: Annotated[str, typer.Option(
        "--backend", help="numba (CPU threads), torch, or auto (torch on a GPU or with --hogwild)")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="torch backend: pairs per batch")] = 16384,
    precision: Precision = "fp32",
    hogwild: Hogwild = 0,
    max_minutes: Annotated[float, typer.Option(
        "--max-minutes", min=0, help="torch backend: training time budget (0: none)")] = 0.0,
    save_vocab: Annotated[str | None, typer.Option("--save-vocab", help="also write `word count` lines here")] = None,
    metrics: Annotated[str | None, typer.Option("--metrics", help="append per-epoch JSON lines here")] = None,
    temp_dir: Annotated[str | None, typer.Option("--temp-dir", "-T", help="where token ids are spooled")] = None,
) -> None:
    """Train skip-gram vectors on a tokenized corpus (streamed; stdin works).

    \b
    Example: speechlang w2v train -i corpus.tok --loss ns --dim 100 --epochs 5 --threads 2 -O vectors.bin
    """
    from speechlang.w2v.train import W2VConfig, config_dict
    from speechlang.w2v.train import train as train_vectors
    from speechlang.w2v.vecformat import write_vectors
    from speechlang.w2v.vocab import Vocab, write_vocab

    if format not in ("auto", "text", "binary"):
        raise ConfigError(f"--format {format!r} is not one of auto, text, binary")
    binary = format == "binary" or (format == "auto" and str(output).endswith(".bin"))
    cfg = W2VConfig(loss=loss, dim=dim, window=window, negative=negative, min_count=min_count,
                    sample=sample, epochs=epochs, alpha=alpha, min_alpha=min_alpha, seed=seed,
                    threads=threads, device=device, backend=backend, batch_size=batch_size,
                    precision=precision, hogwild=hogwild, max_minutes=max_minutes)
    cfg.check()
    for path in (output, save_vocab, metrics):
        if path is not None:
            check_writable(path)
    result = train_vectors(input or ["-"], cfg, temp_dir=temp_dir)
    if not is_main_process():  # under torchrun, rank 0 alone writes
        return
    if save_vocab:
        write_vocab(Vocab(result.words, result.counts), save_vocab)
    write_vectors(output, result.words, result.vectors, binary=binary)
    if metrics:
        writer = log.MetricsWriter(metrics)
        for rec in result.history:
            writer.write({**rec, "backend": result.backend, "config": config_dict(cfg)})
    last = result.history[-1]
    log.info(f"wrote {len(result.words)} vectors of dim {dim} ({'binary' if binary else 'text'}) "
             f"to {output if output != '-' else '<stdout>'}; final loss {last['loss']:.4f}")


@app.command()
def similar(
    word: Annotated[str, typer.Argument(help="query word")],
    vectors: Vectors,
    k: TopK = 10,
    format: VecFormat = "auto",
    json_out: Json = False,
) -> None:
    """The k nearest words by cosine similarity.

    \b
    Example: speechlang w2v similar king -v vectors.bin -k 10
    """
    from speechlang.w2v.neighbors import KeyedVectors

    kv = KeyedVectors.load(vectors, format=format)
    _print_neighbours(kv.similar(word, k), json_out, {"word": word})


@app.command()
def analogy(
    a: Annotated[str, typer.Argument(help="a in a : b = c : ?")],
    b: Annotated[str, typer.Argument(help="b")],
    c: Annotated[str, typer.Argument(help="c")],
    vectors: Vectors,
    k: TopK = 10,
    format: VecFormat = "auto",
    json_out: Json = False,
) -> None:
    """Answer a : b = c : ? by 3CosAdd (nearest to b - a + c, unit vectors).

    \b
    Example: speechlang w2v analogy man king woman -v vectors.bin -k 5
    """
    from speechlang.w2v.neighbors import KeyedVectors

    kv = KeyedVectors.load(vectors, format=format)
    _print_neighbours(kv.analogy(a, b, c, k), json_out, {"a": a, "b": b, "c": c})


@app.command(name="eval")
def evaluate(
    vectors: Vectors,
    analogies: Annotated[str | None, typer.Option(
        "--analogies", help="questions-words file (`: section`, then `a b c d`)")] = None,
    similarity: Annotated[list[str] | None, typer.Option(
        "--similarity", help="word-pair file `w1<TAB>w2<TAB>score`; repeatable")] = None,
    restrict: Annotated[int, typer.Option(
        "--restrict", min=1, help="use only the N most frequent words (gensim: 300000)")] = 300_000,
    format: VecFormat = "auto",
    json_out: Json = False,
) -> None:
    """Analogy accuracy per section (with coverage) and Spearman's rho on similarity sets.

    \b
    Example: speechlang w2v eval -v vectors.bin --analogies questions-words.txt --similarity wordsim353.tsv --json
    """
    from speechlang.w2v.evaluate import evaluate_analogies, evaluate_similarity
    from speechlang.w2v.neighbors import KeyedVectors

    if not analogies and not similarity:
        raise ConfigError("give --analogies and/or --similarity")
    kv = KeyedVectors.load(vectors, format=format)
    rec: dict = {"vectors": vectors, "words": len(kv.words), "dim": int(kv.vectors.shape[1])}
    if analogies:
        rec["analogies"] = evaluate_analogies(kv, analogies, restrict=restrict)
    rec["similarity"] = [evaluate_similarity(kv, p, restrict=restrict) for p in similarity or []]
    if json_out:
        emit_json(rec)
        return
    if analogies:
        an = rec["analogies"]
        for s in an["sections"]:
            acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.2f}%"
            print(f"analogy\t{s['section']}\t{acc}\t{s['correct']}/{s['total']}\tcovered {s['total']}/{s['questions']}")
        acc = "-" if an["accuracy"] is None else f"{an['accuracy']:.2f}%"
        print(f"analogy\ttotal\t{acc}\t{an['correct']}/{an['total']}\tcoverage {an['coverage']:.1f}%")
    for s in rec["similarity"]:
        rho = "-" if s["spearman"] is None else f"{s['spearman']:.4f}"
        print(f"similarity\t{s['name']}\tspearman {rho}\tpairs {s['pairs']}/{s['total']}\t"
              f"coverage {s['coverage']:.1f}%")
