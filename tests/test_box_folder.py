"""Your own pictures with boxes: boxes.csv read and validated, boxes stored as fractions so resizing keeps them,
bad rows and pictures listed by name with the reason, hostile tables refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data.base import DatasetError
from engine.data.registry import load_dataset


def _folder(root, rows, pictures=6, size=(40, 30)):
    (root / "images").mkdir(parents=True)
    for i in range(pictures):
        picture = np.zeros((size[1], size[0], 3), np.uint8)
        picture[5:15, 10:30] = 255   # the box 10,5 → 30,15 in pixels
        Image.fromarray(picture).save(root / "images" / f"p{i}.png")
    (root / "boxes.csv").write_text("image,class,x0,y0,x1,y1\n" + "".join(f"{r}\n" for r in rows))
    return root


def test_boxes_become_fractions_and_follow_resizing(tmp_path):
    rows = [f"p{i},{'cat' if i % 2 else 'dog'},10,5,30,15" for i in range(6)] + ["p0,cat,0,0,8,8"]
    root = _folder(tmp_path / "own", rows)
    data = load_dataset("box_folder", root=root, input_shape=(3, 24, 24))
    assert data.task == "detection" and data.class_names == ("cat", "dog")
    labels = torch.cat([data.train.labels, data.val.labels, data.test.labels])
    real = labels[labels[..., 0] >= 0]
    assert len(real) == 7 and labels.shape[1:] == (2, 5)
    big = real[(real[:, 3] - real[:, 1]) > 0.4]
    assert torch.allclose(big[0, 1:], torch.tensor([10 / 40, 5 / 30, 30 / 40, 15 / 30]))
    # the box still frames the white pixels after resizing to 24×24
    image = data.test.images[0] if (data.test.labels[0, :, 0] >= 0).sum() == 1 else data.train.images[0]
    on = image.mean(0) > 0.5
    cols = torch.nonzero(on.any(0)).flatten()
    assert float(cols.min()) / 24 == pytest.approx(10 / 40, abs=1.5 / 24)


def test_localization_needs_exactly_one_box_a_picture(tmp_path):
    rows = [f"p{i},cat,10,5,30,15" for i in range(5)] + ["p1,cat,0,0,5,5"]
    root = _folder(tmp_path / "own", rows)
    data = load_dataset("box_folder_single", root=root, input_shape=(3, 24, 24))
    assert data.task == "localization" and data.train.labels.dim() == 2
    why = dict((p.split("/")[-1], r) for p, r in data.info.skipped)
    assert "exactly one" in why["p1.png"] and "0 boxes" in why["p5.png"]


@pytest.mark.parametrize("row,reason", [("p0,cat,30,5,10,15", "empty"), ("p0,cat,a,5,10,15", "numbers"),
                                        ("p0,cat,1,2,3", "columns"), ("p0,cat,0,0,1e999,5", "finite"),
                                        ("p0,cat,0,0,90,5", "outside"), ("p0,,0,0,5,5", "class is empty")])
def test_bad_rows_leave_their_picture_out_with_the_reason(tmp_path, row, reason):
    rows = [f"p{i},cat,10,5,30,15" for i in range(1, 6)] + [row]
    root = _folder(tmp_path / "own", rows)
    data = load_dataset("box_folder", root=root, input_shape=(3, 24, 24))
    why = dict((p.split("/")[-1], r) for p, r in data.info.skipped)
    assert reason in why["p0.png"]
    with pytest.raises(DatasetError, match="cannot be used"):
        load_dataset("box_folder", root=root, input_shape=(3, 24, 24), unreadable="stop")


def test_hostile_or_missing_tables_get_clear_messages(tmp_path):
    root = _folder(tmp_path / "a", ["p0,cat,1,1,5,5"])
    (root / "boxes.csv").write_text("name,label\n")
    with pytest.raises(DatasetError, match="header row"):
        load_dataset("box_folder", root=root, input_shape=(3, 24, 24))
    other = _folder(tmp_path / "b", ["elsewhere.jpg,cat,1,1,5,5"])
    with pytest.raises(DatasetError, match="names a picture"):
        load_dataset("box_folder", root=other, input_shape=(3, 24, 24))
    (tmp_path / "c" / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match="boxes.csv"):
        load_dataset("box_folder", root=tmp_path / "c", input_shape=(3, 24, 24))
    with pytest.raises(DatasetError, match="needs a folder"):
        load_dataset("box_folder")
