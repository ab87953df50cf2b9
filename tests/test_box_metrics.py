"""Box scores against hand-computed cases: average precision, matching, decoding and the losses."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.training.box_metrics import average_precision, class_hits, detection_result, mean_average_precision
from engine.training.boxes import (decode_detections, detection_loss, heat_targets, localization_hits,
                                   localization_loss, match_image, paired_iou)


def _logit(p):
    p = torch.as_tensor(p, dtype=torch.float32)
    return torch.log(p / (1 - p))


def test_average_precision_by_hand():
    # three objects; ranked detections: hit, miss, hit, hit. Recall 1/3 at precision 1, 2/3 at 2/3, 1 at 3/4;
    # the envelope lifts 2/3 to 3/4, so AP = (1 + 3/4 + 3/4) / 3.
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 1]), 3) == pytest.approx(2.5 / 3)
    # ranking, not input order, counts
    assert average_precision(np.array([0.6, 0.8, 0.7, 0.9]), np.array([1, 0, 1, 1]), 3) == pytest.approx(2.5 / 3)
    assert average_precision(np.array([0.5]), np.array([1]), 2) == pytest.approx(0.5)   # half the objects found
    assert average_precision(np.zeros(0), np.zeros(0), 2) == 0.0
    assert math.isnan(average_precision(np.zeros(0), np.zeros(0), 0))


def test_duplicates_and_other_images_are_false_positives():
    truth = np.array([[0, 0, 0.1, 0.1, 0.4, 0.4],     # image 0: one object of class 0
                      [1, 0, 0.5, 0.5, 0.9, 0.9]])    # image 1: one object of class 0
    dets = np.array([[0, 0, 0.9, 0.1, 0.1, 0.4, 0.4],    # exact hit
                     [0, 0, 0.8, 0.12, 0.1, 0.42, 0.4],  # the same object again: a duplicate
                     [1, 0, 0.7, 0.1, 0.1, 0.4, 0.4],    # image 1 has nothing there
                     [1, 0, 0.6, 0.5, 0.5, 0.9, 0.9]])   # hit
    scores, hits, objects = class_hits(dets, truth, 0)
    assert objects == 2 and hits.tolist() == [True, False, False, True]
    # recall 1/2 at precision 1, then 1 at precision 2/4: AP = 0.5·1 + 0.5·0.5
    assert average_precision(scores, hits, objects) == pytest.approx(0.75)


def test_mean_ap_skips_classes_without_objects():
    truth = np.array([[0, 1, 0.1, 0.1, 0.4, 0.4]])
    dets = np.array([[0, 1, 0.9, 0.1, 0.1, 0.4, 0.4], [0, 0, 0.9, 0.5, 0.5, 0.6, 0.6]])
    m, ap = mean_average_precision(dets, truth, 3)
    assert m == 1.0 and math.isnan(ap[0]) and ap[1] == 1.0 and math.isnan(ap[2])


def test_match_image_pairs_objects_with_detections():
    truth = torch.tensor([[0, 0.1, 0.1, 0.3, 0.3], [1, 0.6, 0.6, 0.9, 0.9], [2, 0.0, 0.7, 0.2, 0.9], [-1, -1, -1, -1, -1]])
    dets = torch.tensor([[1, 0.9, 0.1, 0.1, 0.3, 0.3],    # on object 0, wrong class
                         [1, 0.8, 0.6, 0.6, 0.9, 0.9],    # object 1, right
                         [0, 0.7, 0.4, 0.0, 0.5, 0.1],    # nothing there
                         [2, 0.1, 0.0, 0.7, 0.2, 0.9]])   # on object 2 but too unsure to count
    assert sorted(match_image(dets, truth, 3)) == [(0, 1), (1, 1), (2, 3), (3, 0)]


def test_decoding_finds_a_planted_object():
    classes, h, w = 3, 8, 8
    out = torch.full((1, classes + 4, h, w), -8.0)
    out[0, 2, 5, 3] = _logit(0.9)            # class 2 centred in cell (row 5, column 3)
    out[0, 3:5, 5, 3] = _logit([0.25, 0.5])  # width 0.25, height 0.5 of the image
    out[0, 5:7, 5, 3] = _logit([0.5, 0.5])   # the centre in the middle of its cell: x = 3.5/8, y = 5.5/8
    best = decode_detections(out)[0, 0]
    assert int(best[0]) == 2 and float(best[1]) == pytest.approx(0.9, abs=1e-5)
    cx, cy = 3.5 / 8, 5.5 / 8
    assert best[2:].tolist() == pytest.approx([cx - 0.125, cy - 0.25, cx + 0.125, cy + 0.25], abs=1e-5)


def test_heat_targets_peak_at_each_centre():
    labels = torch.tensor([[[1, 0.25, 0.25, 0.75, 0.75], [-1, -1, -1, -1, -1]]])
    heat = heat_targets(labels, 3, 16, 16)
    assert heat.shape == (1, 3, 16, 16) and heat[0, 1, 8, 8] == 1.0 and (heat == 1).sum() == 1
    assert heat[0, 0].abs().sum() == 0 and 0 < heat[0, 1, 8, 10] < 1


def test_detection_loss_prefers_the_right_answer():
    labels = torch.tensor([[[0, 0.25, 0.25, 0.75, 0.75]]])
    right = torch.full((1, 5, 8, 8), -6.0)
    right[0, 0, 4, 4] = 6.0
    right[0, 1:3, 4, 4] = _logit([0.5, 0.5])
    right[0, 3:5, 4, 4] = 0.0   # offset 0.5: the centre 4.0 cells is at the cell's edge, close enough
    noise = torch.randn(1, 5, 8, 8, requires_grad=True)
    wrong = detection_loss(noise, labels)
    wrong.backward()
    assert detection_loss(right, labels) < wrong and torch.isfinite(noise.grad).all()


def test_localization_loss_and_hits():
    labels = torch.tensor([[1, 0.2, 0.2, 0.6, 0.6], [0, 0.0, 0.0, 0.5, 0.5]])
    out = torch.zeros(2, 6)
    out[0, :2] = torch.tensor([-3.0, 3.0])
    out[0, 2:] = _logit([0.4, 0.4, 0.4, 0.4])   # centre (0.4, 0.4), size 0.4: the true box
    out[1, :2] = torch.tensor([-3.0, 3.0])      # wrong class, though the box is right
    out[1, 2:] = _logit([0.25, 0.25, 0.5, 0.5])
    assert localization_hits(out, labels).tolist() == [True, False]
    perfect = out.clone()
    perfect[1, :2] = torch.tensor([3.0, -3.0])
    assert localization_loss(perfect, labels) < localization_loss(out, labels)
    assert paired_iou(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[0.5, 0, 1.5, 1]])).item() == pytest.approx(1 / 3)


def test_detection_result_counts_misses_and_ghosts():
    labels = torch.tensor([[[0, 0.1, 0.1, 0.3, 0.3], [1, 0.6, 0.6, 0.9, 0.9]]])
    dets = torch.tensor([[[0, 0.9, 0.1, 0.1, 0.3, 0.3], [0, 0.8, 0.6, 0.0, 0.7, 0.1]]])
    r = detection_result(dets, labels, 0.0, ("a", "b"))
    assert r.class_names == ("a", "b", "nothing")
    assert r.confusion.tolist() == [[1, 0, 0], [0, 0, 1], [1, 0, 0]]   # a found; b missed; a ghost
    assert r.accuracy == pytest.approx(2 * 1 / (2 + 2))
    assert r.ap[0] == pytest.approx(1.0) and r.ap[1] == 0.0 and r.map50 == pytest.approx(0.5)
    summary = r.summary()
    assert summary["task"] == "detection" and summary["map50"] == pytest.approx(0.5) and summary["objects"] == 2
