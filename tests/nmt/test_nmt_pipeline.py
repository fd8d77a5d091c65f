"""End to end on the digit-reversal toy: a small Transformer learns it; translate, average, score
and the CLI's handling of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu
import torch

from speechlang.accel import TrainConfig, load_checkpoint
from speechlang.nmt.prepare import PrepareConfig, prepare
from speechlang.nmt.registry import Seq2Seq
from speechlang.nmt.subword import EOS
from speechlang.nmt.train import NMTConfig, Split, make_evaluate, train

FIX = Path(__file__).parent.parent / "fixtures" / "nmt"
TINY = dict(embed_dim=64, ff_dim=128, heads=4, enc_layers=2, dec_layers=2, dropout=0.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A Transformer trained for 8 epochs on 3000 reversed digit strings (about 30 s on one core)."""
    d = tmp_path_factory.mktemp("toy")
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    prepare(PrepareConfig(train=str(FIX / "toy.train"), dev=str(FIX / "toy.dev"), src="src", tgt="tgt",
                          vocab_size=32), d / "data")
    summary = train(NMTConfig(data=str(d / "data"), model=TINY, max_tokens=300, label_smoothing=0.0),
                    TrainConfig(epochs=8, lr=2e-3, optimizer="adam", betas=(0.9, 0.98), schedule="inverse-sqrt",
                                warmup_steps=100, clip_norm=1.0, device="cpu", keep_epochs=3, monitor="bleu",
                                monitor_mode="max"), d / "tf")
    torch.set_num_threads(n_threads)
    return d, summary


def test_learns_reversal_on_held_out(run, cli, tmp_path):
    d, summary = run
    assert summary["epochs"] == 8 and summary["best"] > 90
    out = tmp_path / "hyp.tgt"
    # the checkpoint with the best dev BLEU (the last epochs are all close; the very last can spike)
    r = cli("nmt", "translate", "-m", d / "tf" / "checkpoint_best.pt", "-i", FIX / "toy.test.src", "-O", out,
            "--beam", "5", "--threads", "1")
    assert r.exit_code == 0, r.stderr
    hyps = out.read_text().splitlines()
    srcs = (FIX / "toy.test.src").read_text().splitlines()
    exact = sum(h.split() == s.split()[::-1] for h, s in zip(hyps, srcs, strict=True)) / len(srcs)
    assert exact >= 0.9, exact
    # score agrees with sacrebleu called directly
    refs = (FIX / "toy.test.tgt").read_text().splitlines()
    r = cli("nmt", "score", "-r", FIX / "toy.test.tgt", "-i", out, "--json")
    rec = json.loads(r.stdout)
    assert rec["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-3)
    assert rec["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-3)
    r = cli("nmt", "score", "-r", FIX / "toy.test.tgt", "-i", out)
    assert r.stdout.startswith("BLEU = ") and "nrefs:1" in r.stdout and "chrF = " in r.stdout


def test_average_equals_hand_average(run, cli, tmp_path):
    d, _ = run
    out = tmp_path / "avg.pt"
    r = cli("nmt", "average", "--run-dir", d / "tf", "--last", "2", "-O", out)
    assert r.exit_code == 0, r.stderr
    a, b = (load_checkpoint(d / "tf" / f"checkpoint_epoch{e}.pt")["model"] for e in (7, 8))
    avg = load_checkpoint(out)["model"]
    for k in a:
        torch.testing.assert_close(avg[k], (a[k].double() + b[k].double()).div(2).float())
    # explicit files give the same, and the result translates
    r = cli("nmt", "average", d / "tf" / "checkpoint_epoch7.pt", d / "tf" / "checkpoint_epoch8.pt",
            "-O", tmp_path / "avg2.pt")
    assert r.exit_code == 0
    assert all(torch.equal(avg[k], load_checkpoint(tmp_path / "avg2.pt")["model"][k]) for k in avg)
    r = cli("nmt", "translate", "-m", out, "--beam", "2", input="1 2 3\n")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1


def test_ensemble_nbest_and_empty_lines(run, cli):
    d, _ = run
    r = cli("nmt", "translate", "-m", d / "tf" / "checkpoint_last.pt", "-m", d / "tf" / "checkpoint_epoch7.pt",
            "--beam", "4", "--nbest", "3", input="1 2 3\n\n4 5 6 7\n")
    assert r.exit_code == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [int(x[0]) for x in rows] == [0, 0, 0, 1, 2, 2, 2]
    scores = [float(x[1]) for x in rows if x[0] == "0"]
    assert scores == sorted(scores, reverse=True)
    r = cli("nmt", "translate", "-m", d / "tf" / "checkpoint_last.pt", "--beam", "1", input="1 2 3\n\n4 5\n")
    assert r.stdout.splitlines()[1] == "" and len(r.stdout.splitlines()) == 3


def test_overlong_input_truncated_with_warning(run, cli):
    d, _ = run
    r = cli("nmt", "translate", "-m", d / "tf" / "checkpoint_last.pt", "--max-src-len", "4", "--beam", "1",
            input="1 2\n1 2 3 4 5 6 7 8\n")
    assert r.exit_code == 0
    assert "<stdin>:2: 8 subwords, truncated to 4" in r.stderr
    assert len(r.stdout.splitlines()) == 2


def test_model_and_vocabulary_mismatch(run, cli, tmp_path):
    d, _ = run
    other = tmp_path / "other"
    assert cli("nmt", "prepare", "--train", FIX / "toy.dev", "--src", "src", "--tgt", "tgt", "--vocab-size", "20",
               "-o", other).exit_code == 0
    out = tmp_path / "x.out"
    r = cli("nmt", "translate", "-m", d / "tf" / "checkpoint_last.pt", "--vocab", other, "-O", out, input="1 2\n")
    assert r.exit_code == 1
    assert "do not match" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
    # the matching directory is accepted
    r = cli("nmt", "translate", "-m", d / "tf" / "checkpoint_last.pt", "--vocab", d / "data", input="1 2\n")
    assert r.exit_code == 0


def test_degenerate_output_is_warned(run, capsys):
    d, _ = run
    from speechlang.nmt.encoded import read_meta
    from speechlang.nmt.prepare import load_vocabs

    class Constant(Seq2Seq):
        """Says '7' to everything."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, src, tgt_in):
            return torch.zeros(*tgt_in.shape, 32)

        def encode(self, src):
            return {"n": torch.zeros(src.shape[0], 1)}

        def init_state(self, enc):
            return {"t": torch.zeros(enc["n"].shape[0], 1)}

        def step(self, enc, state, y):
            lp = torch.full((y.shape[0], 32), -10.0)
            lp[:, 11 if state["t"][0, 0] == 0 else EOS] = 0.0
            return lp, {"t": state["t"] + 1}

    meta = read_meta(d / "data")
    dev = Split(d / "data", "dev", meta)
    refs = (d / "data" / "dev.tgt.txt").read_text().splitlines()
    ev = make_evaluate(dev, refs, load_vocabs(d / "data", meta)[1], NMTConfig(data=str(d / "data")), 100)
    rec = ev(Constant())
    assert rec["same_output"] == 1.0
    assert "degenerate output: 100% of the dev translations are the same" in capsys.readouterr().err


def one_line_error(r, *needles):
    assert r.exit_code == 1, (r.exit_code, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("speechlang: error:"), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_prepare_bad_inputs(cli, tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\nfour\n")
    (tmp_path / "a.es").write_text("uno\ndos\ntres\n")
    one_line_error(cli("nmt", "prepare", "--train", tmp_path / "a", "-o", tmp_path / "out"),
                   "a.en:4", "first mismatching line is 4")
    assert not (tmp_path / "out").exists()
    (tmp_path / "b.en").write_bytes(b"ok\n\xff\xfe bad\n")
    (tmp_path / "b.es").write_text("bien\nmal\n")
    one_line_error(cli("nmt", "prepare", "--train", tmp_path / "b", "-o", tmp_path / "out"), "b.en:2", "UTF-8")
    one_line_error(cli("nmt", "prepare", "--train", tmp_path / "missing", "-o", tmp_path / "out"), "missing.en")
    one_line_error(cli("nmt", "prepare", "--train", FIX / "toy.dev", "--src", "src", "--tgt", "tgt",
                       "-o", tmp_path / "no" / "such" / "dir"), "does not exist")
    assert not (tmp_path / "out").exists()


def test_prepare_skips_and_counts_empty_lines(cli, tmp_path):
    src = (FIX / "toy.dev.src").read_text().splitlines()
    tgt = (FIX / "toy.dev.tgt").read_text().splitlines()
    src[5], tgt[9], src[20] = "", "  ", ""
    (tmp_path / "c.src").write_text("\n".join(src) + "\n")
    (tmp_path / "c.tgt").write_text("\n".join(tgt) + "\n")
    r = cli("nmt", "prepare", "--train", tmp_path / "c", "--src", "src", "--tgt", "tgt", "--vocab-size", "20",
            "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)["splits"]["train"]
    assert (rec["empty"], rec["first_empty"], rec["kept"]) == (3, 6, 197)
    assert "skipped 3 empty pair(s)" in r.stderr and "c.src/tgt:6" in r.stderr


def test_train_translate_score_bad_inputs(run, cli, tmp_path):
    d, _ = run
    one_line_error(cli("nmt", "train", "-d", d / "data", "-o", tmp_path / "m", "--arch", "lstm-attention",
                       "--heads", "4"), "--heads does not apply to --arch lstm-attention")
    one_line_error(cli("nmt", "train", "-d", tmp_path / "nothing", "-o", tmp_path / "m"), "meta.json")
    one_line_error(cli("nmt", "train", "-d", d / "data", "-o", tmp_path / "m", "--resume"), "--resume")
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"PK\x03\x04 not really a checkpoint")
    one_line_error(cli("nmt", "translate", "-m", bogus, input="1\n"), "bogus.pt")
    one_line_error(cli("nmt", "translate", "-m", tmp_path / "none.pt", input="1\n"), "none.pt")
    one_line_error(cli("nmt", "translate", "-m", d / "tf" / "checkpoint_last.pt", "--beam", "2", "--nbest", "3",
                       input="1\n"), "--nbest 3")
    (tmp_path / "h.txt").write_text("a\nb\nc\n")
    (tmp_path / "r.txt").write_text("a\nb\n")
    one_line_error(cli("nmt", "score", "-r", tmp_path / "r.txt", "-i", tmp_path / "h.txt"), "h.txt:3")
    one_line_error(cli("nmt", "average", "--run-dir", tmp_path, "-O", tmp_path / "a.pt"), "checkpoint_epochN")
    assert not (tmp_path / "a.pt").exists()
