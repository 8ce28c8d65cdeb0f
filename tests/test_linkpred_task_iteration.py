"""LinkPredictionTask iterates its training loader exactly once per epoch, with or without a progress bar.

An extra ``iter(loader)`` is not free: it draws a permutation from a shuffling loader's generator (so the
batch order of a run would depend on whether a bar was shown) and, with worker processes, starts or resets
them (prefetched batches thrown away).
"""
import pytest
import torch
from torch_geometric.data import Batch, Data

from scalegnn.linkpred.task import LinkPredictionTask


class CountingLoader:
    """A list of batches that counts how often it is iterated."""

    def __init__(self, batches):
        self.batches, self.iters = batches, 0

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        self.iters += 1
        return iter(self.batches)


class PairScorer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)

    def forward(self, batch):
        return self.lin(batch.x).view(-1)


def batches(k):
    g = torch.Generator().manual_seed(k)
    return [Batch.from_data_list([Data(x=torch.randn(1, 2, generator=g), y=torch.tensor([float(i % 2)]))
                                  for i in range(4)]) for _ in range(k)]


@pytest.mark.parametrize("progress", [False, True])
def test_one_pass_over_the_training_loader_per_epoch(progress):
    loader = CountingLoader(batches(3))
    task = LinkPredictionTask(loader, {}, progress=progress)
    model = PairScorer()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(1, 4):
        task.train_epoch(model, opt)
        assert loader.iters == epoch


class UnsizedLoader(CountingLoader):
    """An iterable-style loader: no ``len``."""

    def __len__(self):
        raise TypeError("no length")


def test_a_loader_without_a_length_trains_with_a_bar():
    loader = UnsizedLoader(batches(2))
    task = LinkPredictionTask(loader, {}, progress=True)
    model = PairScorer()
    before = [p.detach().clone() for p in model.parameters()]
    loss = task.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert loader.iters == 1 and loss > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("progress", [False, True])
def test_skip_epochs_draws_what_training_draws(progress):
    """Replaying k epochs leaves a shuffling loader's generator where k trained epochs leave it."""
    data = batches(6)
    trained = torch.utils.data.DataLoader(data, batch_size=2, shuffle=True, collate_fn=lambda b: Batch.from_data_list(
        [d for x in b for d in x.to_data_list()]), generator=torch.Generator().manual_seed(5))
    task = LinkPredictionTask(trained, {}, progress=progress)
    model = PairScorer()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        task.train_epoch(model, opt)
    skipped = torch.utils.data.DataLoader(data, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(5))
    LinkPredictionTask(skipped, {}, progress=progress).skip_epochs(2)
    assert torch.equal(trained.generator.get_state(), skipped.generator.get_state())
    # and both equal two plain epochs over a loader with the same generator
    plain = torch.utils.data.DataLoader(range(6), batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(5))
    for _ in range(2):
        list(plain)
    assert torch.equal(plain.generator.get_state(), trained.generator.get_state())
