"""`speechlang ngram`: Smoothed and backoff n-gram language models (ARPA in and out)."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from speechlang import log
from speechlang.cli import GROUPS
from speechlang.cli._util import Input, Json, Output, Seed, emit_json, make_app
from speechlang.errors import ConfigError
from speechlang.io import atomic_output, check_writable

app = make_app(GROUPS["ngram"].help)

Order = Annotated[int, typer.Option("--order", "-o", help="highest n-gram order N (>= 1)")]
Memory = Annotated[str, typer.Option("--memory", "-S", help="memory for counting before sorted "
                                     "runs spill to disk: 500M, 2G, 50% (of RAM)")]
TempDir = Annotated[str | None, typer.Option("--temp-dir", "-T", help="directory for spilled runs "
                                             "(default: the system temp dir)")]
Workers = Annotated[int, typer.Option("--workers", min=1, help="count in N processes (a file "
                                      "input is split into N parts; counts are identical)")]
EncErrors = Annotated[str, typer.Option("--encoding-errors", help="strict: invalid UTF-8 is an "
                                        "error naming the line; replace: go on with U+FFFD")]
LM = Annotated[str, typer.Option("--lm", "-m", help="ARPA model (.gz is decompressed)")]


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in re.split(r"[,\s]+", text.strip()) if x]
    except ValueError:
        raise ConfigError(f"{what}: expected numbers separated by spaces or commas, not {text!r}") from None


def _ints(text: str, what: str) -> list[int]:
    vals = _floats(text, what)
    if any(v != int(v) for v in vals):
        raise ConfigError(f"{what}: expected whole numbers, not {text!r}")
    return [int(v) for v in vals]


@app.command()
def count(
    order: Order = 3,
    input: Input = "-",
    output: Output = "-",
    memory: Memory = "1G",
    temp_dir: TempDir = None,
    workers: Workers = 1,
    encoding_errors: EncErrors = "strict",
) -> None:
    """Count the n-grams of orders 1..N (`<s>`/`</s>` added per line, as lmplz).

    Writes `w1 ... wn<TAB>count` lines (SRILM's counts format).

    \b
    Example: speechlang ngram count -o 3 --memory 500M -i corpus.txt -O counts.txt
    """
    from speechlang.ngram.count import CountConfig, count_ngrams, parse_memory
    from speechlang.ngram.countfile import write_ngram_counts
    from speechlang.ngram.parallel import count_parallel

    check_writable(output)
    cfg = CountConfig(order, parse_memory(memory), temp_dir, encoding_errors)
    counts = count_parallel(input, cfg, workers) if workers > 1 else count_ngrams(input, cfg)
    write_ngram_counts(counts, output)
    log.info(f"{counts.sentences} sentences, {counts.tokens} tokens, {len(counts.vocab)} types"
             + (f"; {counts.spilled} sorted runs spilled and merged" if counts.spilled else ""))


@app.command()
def train(
    order: Order = 3,
    smoothing: Annotated[str, typer.Option("--smoothing", help="mkn (modified Kneser-Ney, as "
                                           "lmplz), kn, katz, wb (Witten-Bell), addk, jm "
                                           "(Jelinek-Mercer)")] = "mkn",
    interpolate: Annotated[bool | None, typer.Option("--interpolate/--backoff", help="interpolated "
                           "or back-off form (default: interpolated for mkn, kn, wb, jm; back-off "
                           "for katz, addk)")] = None,
    discount_fallback: Annotated[str, typer.Option("--discount-fallback", help="mkn discounts "
                                 "D1 D2 D3+ used (with a warning) where they cannot be estimated "
                                 "from the data")] = "0.5 1 1.5",
    add_k: Annotated[float, typer.Option("--add-k", help="addk: pseudo-count")] = 1.0,
    jm_lambda: Annotated[float, typer.Option("--jm-lambda", help="jm: weight of the higher order")] = 0.5,
    katz_max: Annotated[int, typer.Option("--katz-max", help="katz: largest count discounted")] = 7,
    prune: Annotated[str, typer.Option("--prune", help="count cut-offs per order, e.g. '0 1 1': "
                                       "drop n-grams seen <= t_n times (lmplz --prune)")] = "",
    input: Input = "-",
    output: Output = "-",
    memory: Memory = "1G",
    temp_dir: TempDir = None,
    workers: Workers = 1,
    encoding_errors: EncErrors = "strict",
) -> None:
    """Estimate an n-gram model and write it as ARPA.

    \b
    Example: speechlang ngram train -o 3 --smoothing mkn < corpus.txt > lm.arpa
    """
    from speechlang.ngram.count import parse_memory
    from speechlang.ngram.model import TrainConfig, train_corpus

    check_writable(output)
    d = _floats(discount_fallback, "--discount-fallback")
    if len(d) != 3:
        raise ConfigError(f"--discount-fallback needs three numbers D1 D2 D3+, not {discount_fallback!r}")
    cfg = TrainConfig(order=order, smoothing=smoothing, interpolate=interpolate,
                      discount_fallback=(d[0], d[1], d[2]), add_k=add_k, jm_lambda=jm_lambda,
                      katz_max=katz_max, prune=tuple(_ints(prune, "--prune")),
                      memory=parse_memory(memory), temp_dir=temp_dir,
                      encoding_errors=encoding_errors)
    model = train_corpus(input, cfg, workers=workers)
    model.save(output)
    log.info(f"{smoothing} order {order}: n-grams " + " ".join(map(str, model.counts())))


@app.command("eval")
def eval_(
    lm: LM,
    input: Input = "-",
    per_sentence: Annotated[bool, typer.Option("--per-sentence", help="also one line (or JSON "
                            "record) per sentence: log10 prob, tokens, OOVs, perplexity")] = False,
    json_out: Json = False,
    encoding_errors: EncErrors = "strict",
) -> None:
    """Perplexity of a text (with and without OOVs; `</s>` counted as a token, as KenLM).

    \b
    Example: speechlang ngram eval --lm lm.arpa -i test.txt --json
    """
    from speechlang.ngram.query import evaluate

    result, sentences = evaluate(lm, input, per_sentence=per_sentence, encoding_errors=encoding_errors)
    if per_sentence:
        for i, s in enumerate(sentences, 1):
            rec = {"sentence": i, "log10_prob": s.total, "tokens": len(s.words),
                   "oovs": sum(s.oov), "ppl": 10.0 ** (-s.total / len(s.words))}
            if json_out:
                emit_json(rec)
            else:
                print(f"{i}\t{rec['log10_prob']:.6f}\t{rec['tokens']}\t{rec['oovs']}\t{rec['ppl']:.4f}")
    if json_out:
        emit_json(result.as_dict())
    else:
        print(f"perplexity\t{result.ppl:.4f}\nperplexity_no_oov\t{result.ppl_no_oov:.4f}\n"
              f"log10_prob\t{result.log10_prob:.4f}\ntokens\t{result.tokens}\n"
              f"oovs\t{result.oovs}\nsentences\t{result.sentences}")


@app.command()
def score(
    lm: LM,
    input: Input = "-",
    output: Output = "-",
    encoding_errors: EncErrors = "strict",
) -> None:
    """log10 p(sentence) for each line (with `</s>`), one number per line.

    \b
    Example: speechlang ngram score --lm lm.arpa < sentences.txt > scores.txt
    """
    from speechlang.ngram.query import score_lines

    with atomic_output(output, "w") as f:
        for s in score_lines(lm, input, encoding_errors=encoding_errors):
            f.write(f"{s.total:.6f}\n")


@app.command()
def query(
    lm: LM,
    input: Input = "-",
    output: Output = "-",
    encoding_errors: EncErrors = "strict",
) -> None:
    """Per-word log10 probabilities, as KenLM's query.

    One line per sentence: `word=LOG10P/NGRAM_LENGTH` per token (length 0 = OOV),
    tab-separated, then `Total: X OOV: K`.

    \b
    Example: echo 'in the beginning' | speechlang ngram query --lm lm.arpa
    """
    from speechlang.ngram.query import query_lines

    with atomic_output(output, "w") as f:
        for line in query_lines(lm, input, encoding_errors=encoding_errors):
            f.write(line + "\n")


@app.command()
def sample(
    lm: LM,
    n: Annotated[int, typer.Option("-n", "--num", min=0, help="number of sentences")] = 10,
    seed: Seed = 1,
    max_words: Annotated[int, typer.Option("--max-words", min=1, help="stop a sentence after this many words")] = 200,
    output: Output = "-",
) -> None:
    """Generate sentences from a model.

    \b
    Example: speechlang ngram sample --lm lm.arpa -n 5 --seed 7
    """
    from speechlang.ngram.arpa import read_arpa
    from speechlang.ngram.sample import sample as draw

    check_writable(output)
    model = read_arpa(lm)
    with atomic_output(output, "w") as f:
        for words in draw(model, n, seed=seed, max_words=max_words):
            f.write(" ".join(words) + "\n")


@app.command("prune")
def prune_(
    lm: LM,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Stolcke entropy pruning: "
                         "drop n-grams whose removal raises perplexity by less than this "
                         "relative amount (e.g. 1e-8)")] = None,
    counts: Annotated[str | None, typer.Option("--counts", help="counts file (from `ngram count`) "
                      "for --cutoffs")] = None,
    cutoffs: Annotated[str, typer.Option("--cutoffs", help="count cut-offs per order, e.g. "
                                         "'0 1 1': drop n-grams seen <= t_n times")] = "",
    output: Output = "-",
) -> None:
    """Prune an ARPA model (entropy pruning and/or count cut-offs); backoffs are renormalized.

    \b
    Example: speechlang ngram prune --lm lm.arpa --threshold 1e-8 -O small.arpa
    """
    from speechlang.ngram.prune import prune_arpa

    check_writable(output)
    out = prune_arpa(lm, threshold=threshold, counts=counts, cutoffs=tuple(_ints(cutoffs, "--cutoffs")))
    from speechlang.ngram.arpa import write_arpa

    write_arpa(out, output)
    log.info("n-grams after pruning: " + " ".join(map(str, out.counts())))


@app.command("mix")
def mix_(
    lms: Annotated[list[str], typer.Argument(help="two or more ARPA models")],
    weights: Annotated[str, typer.Option("--weights", "-w", help="one weight per model, e.g. "
                                         "'0.7 0.3' (normalized)")] = "",
    tune_on: Annotated[str | None, typer.Option("--tune-on", help="dev text: pick the weights "
                       "by EM to minimize its perplexity")] = None,
    output: Output = "-",
) -> None:
    """Linearly interpolate several ARPA models into one ARPA model.

    \b
    Example: speechlang ngram mix a.arpa b.arpa --tune-on dev.txt -O mixed.arpa
    """
    from speechlang.ngram.mix import mix_files

    check_writable(output)
    w = _floats(weights, "--weights") if weights else None
    mix_files(lms, w, tune_on, output)
