"""Our metric formulas agree with OGB's evaluators and scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from ogb.linkproppred import Evaluator as LinkEvaluator
from ogb.nodeproppred import Evaluator as NodeEvaluator
from sklearn.metrics import roc_auc_score

from scalegnn.train import score


def test_accuracy_plain_and_with_ogb_evaluator():
    torch.manual_seed(0)
    logits, y = torch.randn(50, 4), torch.randint(0, 4, (50,))
    want = float((logits.argmax(-1) == y).float().mean())
    assert score("acc", y, logits) == pytest.approx(want)
    assert score("acc", y, logits, NodeEvaluator("ogbn-arxiv")) == pytest.approx(want)
    with pytest.raises(ValueError, match="49 labels"):
        score("acc", y[:49], logits)


def test_rocauc_matches_ogb_proteins_evaluator():
    torch.manual_seed(1)
    y = torch.randint(0, 2, (200, 112))
    y_pred = torch.randn(200, 112) + y
    ours = score("rocauc", y, y_pred)
    ogb = score("rocauc", y, y_pred, NodeEvaluator("ogbn-proteins"))
    assert ours == pytest.approx(ogb, abs=1e-12)
    assert ours == pytest.approx(np.mean([roc_auc_score(y[:, t], y_pred[:, t]) for t in range(112)]))


@pytest.mark.parametrize("name,k", [("ogbl-collab", 50), ("ogbl-ddi", 20), ("ogbl-ppa", 100)])
def test_hits_at_k_matches_ogb(name, k):
    torch.manual_seed(2)
    pos, neg = torch.randn(300) + 1.5, torch.randn(1000)
    assert score(f"hits@{k}", y_pred_pos=pos, y_pred_neg=neg) == pytest.approx(
        score(f"hits@{k}", y_pred_pos=pos, y_pred_neg=neg, evaluator=LinkEvaluator(name)))


def test_mrr_matches_ogb_citation2():
    torch.manual_seed(3)
    pos, neg = torch.randn(100) + 1.0, torch.randn(100, 1000)
    neg[0, :5] = pos[0]  # ties are averaged the same way
    ours = score("mrr", y_pred_pos=pos, y_pred_neg=neg)
    ogb = score("mrr", y_pred_pos=pos, y_pred_neg=neg, evaluator=LinkEvaluator("ogbl-citation2"))
    assert ours == pytest.approx(ogb, abs=1e-6)


def test_auc_from_pos_and_neg_scores():
    pos, neg = torch.tensor([0.9, 0.8, 0.3]), torch.tensor([0.1, 0.5])
    # 5 of the 6 (pos, neg) pairs are ordered correctly
    assert score("auc", y_pred_pos=pos, y_pred_neg=neg) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="unknown metric"):
        score("f1", torch.zeros(1), torch.zeros(1))
