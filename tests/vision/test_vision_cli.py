"""End to end through the CLI: train, resume, eval, predict, cascade; bad input fails cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechlang.accel import load_checkpoint
from speechlang.vision.idx import read_idx, write_idx
from speechlang.vision.png import read_png, write_png

SMALL = ["--arch", "lenet", "--model-opt", "channels=8,16", "--model-opt", "hidden=32",
         "--model-opt", "dropout=0", "--batch-size", "32", "--lr", "0.05", "--warmup-steps", "0",
         "--valid", "80", "--no-hflip", "--device", "cpu", "--threads", "1"]


def _train(cli, train, out, *extra):
    r = cli("--quiet", "vision", "train", "--train", train, "-o", out, *SMALL, *extra)
    assert r.exit_code == 0, r.stderr
    return r


@pytest.fixture
def trained(cli, tiny_idx, tmp_path):
    train, _ = tiny_idx
    _train(cli, train, tmp_path / "m", "--epochs", "6", "--json")
    return tmp_path / "m"


def test_train_eval_predict(cli, tiny_idx, trained, tmp_path):
    _, test = tiny_idx
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["model"]["arch"] == "lenet" and len(cfg["stats"]["mean"]) == 1
    r = cli("vision", "eval", "-m", trained, "-d", test, "--json", "--confusion-png", tmp_path / "cm.png",
            "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["accuracy"] > 90  # the quadrant task is easy
    cm = np.array(rep["confusion"])
    y = read_idx(str(test).replace("images-idx3", "labels-idx1"))
    np.testing.assert_array_equal(cm.sum(1), np.bincount(y, minlength=4))
    assert abs(np.trace(cm) / cm.sum() * 100 - rep["accuracy"]) < 1e-9
    png = read_png(tmp_path / "cm.png")
    assert png.shape[2] == 3 and png.shape[0] == png.shape[1]
    text = cli("vision", "eval", "-m", trained, "-d", test).stdout
    assert text.startswith(f"accuracy\t{rep['accuracy']:.2f}") and "confusion matrix" in text

    x = read_idx(test)
    files = []
    for i in range(6):
        write_png(tmp_path / f"img{i}.png", x[i])
        files.append(str(tmp_path / f"img{i}.png"))
    (tmp_path / "list.txt").write_text("\n".join(files[3:]) + "\n")
    r = cli("vision", "predict", "-m", trained, *files[:3], "-i", tmp_path / "list.txt", "--top-k", "2")
    assert r.exit_code == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [row[0] for row in rows] == files
    assert all(len(row) == 5 and float(row[2]) >= float(row[4]) for row in rows)
    assert sum(int(row[1]) == y[i] for i, row in enumerate(rows)) >= 5


def test_resume_repeats_exactly(cli, tiny_idx, tmp_path):
    train, _ = tiny_idx
    # a constant LR: a cosine schedule would depend on --epochs, which differs between the runs
    const = ["--schedule", "constant", "--model-opt", "dropout=0.5", "--translate", "1"]
    _train(cli, train, tmp_path / "a", "--epochs", "2", *const)
    _train(cli, train, tmp_path / "b", "--epochs", "1", *const)
    _train(cli, train, tmp_path / "b", "--epochs", "2", "--resume", *const)
    wa = load_checkpoint(tmp_path / "a" / "checkpoint_last.pt")["model"]
    wb = load_checkpoint(tmp_path / "b" / "checkpoint_last.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_cascade(cli, tiny_idx, trained, tmp_path):
    train, test = tiny_idx
    _train(cli, train, tmp_path / "small", "--epochs", "1", "--model-opt", "channels=2,2")
    r = cli("vision", "cascade", "--small", tmp_path / "small", "--large", trained, "-d", test,
            "--threshold", "0.9", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert 0 <= rec["share_large"] <= 100
    r1 = json.loads(cli("vision", "cascade", "--small", tmp_path / "small", "--large", trained, "-d", test,
                        "--threshold", "1", "--json").stdout)
    assert r1["share_large"] == 100 and r1["accuracy"] == r1["large_accuracy"]
    r0 = json.loads(cli("vision", "cascade", "--small", tmp_path / "small", "--large", trained, "-d", test,
                        "--threshold", "0", "--json").stdout)
    assert r0["share_large"] == 0 and r0["accuracy"] == r0["small_accuracy"]


def _fails(r, *words):
    assert r.exit_code == 1, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("speechlang: error:"), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_bad_idx(cli, tiny_idx, tmp_path):
    train, _ = tiny_idx
    data = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "cut-images-idx3-ubyte").write_bytes(data[:1000])
    (tmp_path / "cut-labels-idx1-ubyte").write_bytes((tmp_path / "t10k-labels-idx1-ubyte").read_bytes())
    _fails(cli("vision", "train", "--train", tmp_path / "cut-images-idx3-ubyte", "-o", tmp_path / "o", *SMALL),
           "truncated IDX data")
    assert not (tmp_path / "o").exists()
    (tmp_path / "junk-images-idx3-ubyte").write_bytes(b"hello world, not idx")
    _fails(cli("vision", "train", "--train", tmp_path / "junk-images-idx3-ubyte", "-o", tmp_path / "o", *SMALL),
           "labels file")
    write_idx(tmp_path / "lab-images-idx3-ubyte", np.zeros((4, 12, 12), np.uint8))
    write_idx(tmp_path / "lab-labels-idx1-ubyte", np.array([0, 1, 2, 9], np.uint8))
    _fails(cli("vision", "train", "--train", tmp_path / "lab-images-idx3-ubyte", "-o", tmp_path / "o",
               *SMALL, "--num-classes", "4"), "out of range 0..3")
    assert not (tmp_path / "o").exists()


def test_bad_eval_inputs(cli, trained, tmp_path):
    write_idx(tmp_path / "e-images-idx3-ubyte", np.zeros((4, 12, 12), np.uint8))
    write_idx(tmp_path / "e-labels-idx1-ubyte", np.array([0, 1, 2, 7], np.uint8))
    r = cli("vision", "eval", "-m", trained, "-d", tmp_path / "e-images-idx3-ubyte",
            "--confusion-png", tmp_path / "cm.png")
    _fails(r, "label 7", "out of range 0..3")
    assert not (tmp_path / "cm.png").exists() and r.stdout == ""
    write_idx(tmp_path / "s-images-idx3-ubyte", np.zeros((4, 10, 10), np.uint8))
    write_idx(tmp_path / "s-labels-idx1-ubyte", np.array([0, 1, 2, 3], np.uint8))
    _fails(cli("vision", "eval", "-m", trained, "-d", tmp_path / "s-images-idx3-ubyte"), "10x10", "12x12")
    ok = cli("vision", "eval", "-m", trained, "-d", tmp_path / "s-images-idx3-ubyte", "--on-size-mismatch",
             "resize", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["n"] == 4
    _fails(cli("vision", "eval", "-m", tmp_path / "nothing", "-d", tmp_path / "s-images-idx3-ubyte"),
           "no such model")
    (tmp_path / "fake.pt").write_bytes(b"not a checkpoint")
    _fails(cli("vision", "eval", "-m", tmp_path / "fake.pt", "-d", tmp_path / "s-images-idx3-ubyte"),
           "fake.pt")


def test_bad_folders_and_predict(cli, trained, tmp_path):
    root = tmp_path / "imgs"
    for cls in ("0", "1", "2", "3"):
        (root / cls).mkdir(parents=True)
        write_png(root / cls / "a.png", np.zeros((12, 12), np.uint8))
    write_png(root / "3" / "b.png", np.zeros((14, 12), np.uint8))
    _fails(cli("vision", "eval", "-m", trained, "-d", root), "b.png", "12x14", "--on-size-mismatch")
    assert cli("vision", "eval", "-m", trained, "-d", root, "--on-size-mismatch", "resize").exit_code == 0
    (root / "4").mkdir()
    _fails(cli("vision", "train", "--train", root, "-o", tmp_path / "o", *SMALL), "no images")
    (root / "3" / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    out = tmp_path / "pred.tsv"
    r = cli("vision", "predict", "-m", trained, root / "0" / "a.png", root / "3" / "c.png", "-O", out)
    _fails(r, "c.png", "truncated PNG")
    assert not out.exists()
    r = cli("vision", "predict", "-m", trained, *([root / "0" / "a.png"] * 30), root / "3" / "c.png",
            "--on-error", "warn", "-O", out)
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 30 and "c.png" in r.stderr
    _fails(cli("vision", "predict", "-m", trained), "no image files")
    _fails(cli("vision", "train", "--train", root / "0", "-o", tmp_path / "missing" / "deep" / "x",
               *SMALL), "no class sub-folders")


def test_class_names(cli, tiny_idx, tmp_path):
    train, test = tiny_idx
    (tmp_path / "names.txt").write_text("top left\ntop right\nbottom left\nbottom right\n")
    _train(cli, train, tmp_path / "n", "--epochs", "1", "--class-names", tmp_path / "names.txt")
    rep = json.loads(cli("vision", "eval", "-m", tmp_path / "n", "-d", test, "--json").stdout)
    assert rep["classes"] == ["top left", "top right", "bottom left", "bottom right"]
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    _fails(cli("vision", "train", "--train", train, "-o", tmp_path / "o", *SMALL, "--class-names",
               tmp_path / "three.txt"), "out of range 0..2")


def test_tta_averages_each_image_with_its_mirror(cli, tiny_idx, trained):
    """--tta: logits are the mean of the image's and its left-right mirror's. The quadrant classes
    are not mirror-symmetric (a mirror swaps classes 0 and 1, 2 and 3), so here it must hurt."""
    from speechlang.vision.evaluate import images_tensor, load_eval_set
    from speechlang.vision.train import load_model, predict_logits

    _, test = tiny_idx
    lm = load_model(trained, torch.device("cpu"))
    x = images_tensor(lm, load_eval_set(lm, str(test)))
    with torch.no_grad():
        hand = (lm.model(x) + lm.model(x.flip(-1))) / 2
    got = predict_logits(lm.model, x, batch_size=50, tta=True)
    torch.testing.assert_close(got, hand, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(predict_logits(lm.model, x.flip(-1), tta=True), got, rtol=1e-5, atol=1e-5)

    plain = json.loads(cli("vision", "eval", "-m", trained, "-d", test, "--json").stdout)["accuracy"]
    r = cli("vision", "eval", "-m", trained, "-d", test, "--json", "--tta")
    assert r.exit_code == 0, r.stderr
    y = read_idx(str(test).replace("images-idx3", "labels-idx1"))
    assert json.loads(r.stdout)["accuracy"] == pytest.approx((hand.argmax(1).numpy() == y).mean() * 100)
    assert json.loads(r.stdout)["accuracy"] < plain - 10
