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


def mlp_dataset(torch, ws, block_size=3):
    """makemore part 2's examples: every `block_size` characters and the one after them."""
    stoi = stoi_of(ws)
    xs, ys = [], []
    for w in ws:
        context = [0] * block_size
        for ch in w + ".":
            xs.append(context)
            ys.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    return torch.tensor(xs), torch.tensor(ys)


def mlp_parameters(torch, seed=2147483647, n_embd=10, n_hidden=200, block_size=3):
    """The part 2 MLP's parameters, drawn as the lecture draws them: C, W1, b1, W2, b2."""
    g = torch.Generator().manual_seed(seed)
    parameters = [torch.randn((27, n_embd), generator=g),
                  torch.randn((n_embd * block_size, n_hidden), generator=g),
                  torch.randn(n_hidden, generator=g),
                  torch.randn((n_hidden, 27), generator=g),
                  torch.randn(27, generator=g)]
    for p in parameters:
        p.requires_grad = True
    return parameters, g


def mlp_training_steps(torch, F, parameters, g, X, Y, steps, lr=0.1, batch_size=32):
    """`steps` steps of part 2's loop: minibatch, embed, tanh layer, cross-entropy,
    backward, SGD update. Returns the last minibatch loss."""
    C, W1, b1, W2, b2 = parameters
    for _ in range(steps):
        ix = torch.randint(0, X.shape[0], (batch_size,), generator=g)
        emb = C[X[ix]]
        h = torch.tanh(emb.view(-1, W1.shape[0]) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Y[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -lr * p.grad
    return loss.item()
