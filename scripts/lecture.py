"""The makemore lecture's PyTorch loops, shared by the fixture generator and the benchmarks.

These are the reference implementations the toolkit is measured and checked
against: they run under real PyTorch and are written as the lecture writes them.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / "data" / "names.txt"


def words():
    """names.txt as the lecture reads it."""
    return NAMES.read_text().splitlines()


def stoi_of(ws):
    """The lecture's character index: '.' is 0, then the letters."""
    chars = sorted(set("".join(ws)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    return stoi


def bigram_pairs(torch, ws):
    """xs, ys: every bigram of every word, as two int64 tensors."""
    stoi = stoi_of(ws)
    xs, ys = [], []
    for w in ws:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            xs.append(stoi[ch1])
            ys.append(stoi[ch2])
    return torch.tensor(xs), torch.tensor(ys)


def training_losses(torch, steps=100, lr=50, reg=0.01, seed=2147483647):
    """The lecture's neural bigram loop: the loss before each update and after the last."""
    import torch.nn.functional as F

    xs, ys = bigram_pairs(torch, words())
    num = xs.nelement()
    g = torch.Generator().manual_seed(seed)
    W = torch.randn((27, 27), generator=g, requires_grad=True)
    losses = []
    for _ in range(steps + 1):
        xenc = F.one_hot(xs, num_classes=27).float()
        logits = xenc @ W
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = -probs[torch.arange(num), ys].log().mean() + reg * (W ** 2).mean()
        losses.append(loss.item())
        W.grad = None
        loss.backward()
        W.data += -lr * W.grad
    return losses
