"""Image folders, labels, sizes and the validation split."""

from __future__ import annotations

import numpy as np
import pytest

from speechlang.errors import ConfigError, DataError
from speechlang.vision.data import load_images, resize, split_validation
from speechlang.vision.idx import write_idx
from speechlang.vision.npz import write_npz
from speechlang.vision.png import write_png
from speechlang.vision.pnm import write_pnm


def _folder(root, sizes=((6, 6), (6, 6))):
    for k, cls in enumerate(["cat", "dog"]):
        (root / cls).mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            img = np.full((h, w), 40 * k + i, np.uint8)
            (write_png if i % 2 == 0 else write_pnm)(root / cls / f"{i}.{'png' if i % 2 == 0 else 'pgm'}", img)


def test_folder_labels_follow_sorted_names(tmp_path):
    _folder(tmp_path)
    ds = load_images(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.x.shape == (4, 1, 6, 6)
    np.testing.assert_array_equal(ds.y, [0, 0, 1, 1])
    np.testing.assert_array_equal(ds.x[:, 0, 0, 0], [0, 1, 40, 41])


def test_folder_mixed_sizes(tmp_path):
    _folder(tmp_path, sizes=((6, 6), (8, 10)))
    with pytest.raises(DataError, match="1.pgm: image is 10x8 but expected 6x6"):
        load_images(tmp_path)
    ds = load_images(tmp_path, on_size_mismatch="resize")
    assert ds.x.shape == (4, 1, 6, 6)
    assert (ds.x[1] == 1).all()  # a constant image stays constant when resized


def test_folder_empty_class(tmp_path):
    _folder(tmp_path)
    (tmp_path / "emu").mkdir()
    with pytest.raises(DataError, match="emu: class folder has no images"):
        load_images(tmp_path)


def test_folder_classes_mapped_to_model(tmp_path):
    _folder(tmp_path)
    ds = load_images(tmp_path, classes=["ant", "cat", "dog"], num_classes=3)
    np.testing.assert_array_equal(ds.y, [1, 1, 2, 2])
    with pytest.raises(DataError, match="not among the model's classes"):
        load_images(tmp_path, classes=["ant", "cat"], num_classes=2)


def test_labels_out_of_range(tmp_path):
    write_idx(tmp_path / "a-images-idx3-ubyte", np.zeros((3, 4, 4), np.uint8))
    write_idx(tmp_path / "a-labels-idx1-ubyte", np.array([0, 1, 5], np.uint8))
    with pytest.raises(DataError, match="label 5 of item 2 is out of range 0..2"):
        load_images(tmp_path / "a-images-idx3-ubyte", num_classes=3)
    assert len(load_images(tmp_path / "a-images-idx3-ubyte").classes) == 6
    write_npz(tmp_path / "n.npz", np.zeros((2, 4, 4), np.uint8), np.array([0, -1]))
    with pytest.raises(DataError, match="label -1"):
        load_images(tmp_path / "n.npz")


def test_resize_keeps_constant_and_mean():
    x = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4) * 10
    assert resize(x, (4, 4)) is x
    got = resize(x, (2, 2))[0, 0].astype(float)
    # a linear ramp stays a ramp symmetric about its mean under a symmetric filter
    assert abs(got.mean() - x.mean()) <= 0.5
    assert got[0, 1] - got[0, 0] == got[1, 1] - got[1, 0] and got[1, 0] > got[0, 0]
    np.testing.assert_array_equal(resize(np.full((1, 3, 5, 7), 9, np.uint8), (3, 2)), 9)


def test_split_validation_disjoint_and_seeded(tmp_path):
    x = np.arange(50, dtype=np.uint8).reshape(50, 1, 1, 1)
    from speechlang.vision.data import ImageSet
    ds = ImageSet(x, np.arange(50) % 5, [str(i) for i in range(5)], "mem")
    tr, va = split_validation(ds, 10, seed=3)
    assert len(tr) == 40 and len(va) == 10
    assert set(tr.x.ravel()) | set(va.x.ravel()) == set(range(50))
    assert not set(tr.x.ravel()) & set(va.x.ravel())
    tr2, va2 = split_validation(ds, 0.2, seed=3)
    np.testing.assert_array_equal(va.x, va2.x)
    assert split_validation(ds, 0, seed=3)[1] is None
    with pytest.raises(ConfigError):
        split_validation(ds, 50, seed=3)
