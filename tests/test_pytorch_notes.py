"""Every snippet of the learner's PyTorch notes (shared/pytorch-notes.txt), run on this engine.

Each test holds one snippet as the notes write it, with `import torch` and
`import torch.nn.functional as F` replaced by `import bigram.tensor as torch` and
`import bigram.tensor.functional as F`, and asserts what the notes print. Where
the notes' text lost torch's line-wrapping (one_hot's 26-column rows) the test
asserts the notes' values and PyTorch's real layout (from tests/fixtures). The
un-seeded `randn` snippets are random: their shapes and identities are asserted.
"""

import contextlib
import io
import json
import re
import textwrap
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
TORCH_REPRS = {c["code"]: c["repr"] for c in json.loads((FIXTURES / "repr.json").read_text())}
RNG = np.load(FIXTURES / "rng.npz")


def run(snippet, **scope):
    """Run a snippet as a script would; return its stdout and its variables."""
    source = textwrap.dedent(snippet)
    source = source.replace("import torch.nn.functional as F",
                            "import bigram.tensor.functional as F")
    source = re.sub(r"^import torch$", "import bigram.tensor as torch", source, flags=re.M)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(source, "<notes>", "exec"), scope)  # noqa: S102 - the notes' own code
    return buffer.getvalue(), scope


def notes_output(comment_block):
    """The '# '-prefixed output lines the notes show, as text."""
    return "\n".join(line.strip()[2:] if line.strip().startswith("# ") else line.strip()[1:]
                     for line in textwrap.dedent(comment_block).strip().splitlines()) + "\n"


def test_backprop_through_a_neuron():
    printed, _ = run("""
        import torch
        x1 = torch.Tensor([2.0]).double() ; x1.requires_grad = True
        x2 = torch.Tensor([0.0]).double() ; x2.requires_grad = True
        w1 = torch.Tensor([-3.0]).double() ; w1.requires_grad = True
        w2 = torch.Tensor([1.0]).double() ; w2.requires_grad = True
        b = torch.Tensor([6.8813735870195432]).double() ; b.requires_grad = True
        n = x1*w1 + x2*w2 + b
        o = torch.tanh(n)
        print(o.data.item())
        o.backward()
        print('---')
        print('x2', x2.grad.item())
        print('w2', w2.grad.item())
        print('x1', x1.grad.item())
        print('w1', w1.grad.item())
    """)
    assert printed == notes_output("""
        # 0.7071066904050358
        # ---
        # x2 0.5000001283844369
        # w2 0.0
        # x1 -1.5000003851533106
        # w1 1.0000002567688737
    """)


def test_row_of_counts_becomes_probabilities():
    import bigram.tensor as torch

    bigram = torch.tensor([[0, 4410, 1306, 1542], [6640, 556, 541, 470]], dtype=torch.int32)
    _, scope = run("""
        p = bigram[0].float() # Converts all values in the first row to floats
        p = p / p.sum() # Divides every cell in the row by the sum of the total row to get probabilities
    """, bigram=bigram)
    p = scope["p"]
    assert p.dtype == torch.float32
    np.testing.assert_allclose(p.numpy(), np.array([0, 4410, 1306, 1542]) / 7258, rtol=1e-6)
    assert abs(p.sum().item() - 1) < 1e-6


def test_generator_makes_rand_reproducible():
    import bigram.tensor as torch

    _, first = run("""
        g = torch.Generator().manual_seed(1337)
        p = torch.rand(3, generator=g)
    """, torch=torch)
    _, second = run("""
        g = torch.Generator().manual_seed(1337)
        p = torch.rand(3, generator=g)
    """, torch=torch)
    assert torch.equal(first["p"], second["p"])
    # PyTorch's own values for the same seed: tensor([0.0783, 0.4956, 0.6231]).
    assert repr(first["p"]) == "tensor([0.0783, 0.4956, 0.6231])"


def test_multinomial_draws_by_probability():
    import bigram.tensor as torch

    _, scope = run("""
        g = torch.Generator().manual_seed(1337)
        p = torch.rand(3, generator=g)
        p = p / p.sum()
        drawn = torch.multinomial(p, num_samples=10, replacement=True, generator=g)
    """, torch=torch)
    np.testing.assert_array_equal(scope["p"].numpy(), RNG["notes_1337|0"])
    np.testing.assert_array_equal(scope["drawn"].numpy(), RNG["notes_1337|1"])
    # "[.00, .99, .01] ... you would expect to get index 1 returned 99% of the time"
    g = torch.Generator().manual_seed(0)
    many = torch.multinomial(torch.tensor([0.0, 0.99, 0.01]), 10000, True, generator=g)
    assert 0.985 < (many == 1).float().mean().item() < 0.995
    assert (many == 0).sum().item() == 0


def test_broadcasting_divides_by_a_column():
    printed, _ = run("""
        import torch
        one = torch.Tensor([[1, 2],
        [3, 4]]) # 2 rows x 2 columns
        two = torch.Tensor([[1],
        [2]]) # 2 rows x 1 column
        out = one/two
        print(out)
        two = torch.Tensor([[1, 1],
        [2, 2]]) # 2 rows x 2 columns. Manually broadcast the values from the first column into the second
        out_two = one/two
        print(out_two)
        print(torch.equal(out, out_two))
    """)
    # The notes lost the 8-space indent of the second row; torch prints it.
    matrix = "tensor([[1.0000, 2.0000],\n        [1.5000, 2.0000]])\n"
    assert printed == matrix + matrix + "True\n"


def test_keepdim_sums():
    printed, _ = run("""
        import torch
        val = torch.Tensor([[1, 2, 3],
        [4, 5, 6]])
        print(val.sum(0, keepdim=True)) # 1x3
        print(val.sum(1, keepdim=True)) # 2x1
        print(val.sum(0, keepdim=False)) # 3
        print(val.sum(1, keepdim=False)) # 2
    """)
    assert printed == ("tensor([[5., 7., 9.]])\n"
                       "tensor([[ 6.],\n        [15.]])\n"
                       "tensor([5., 7., 9.])\n"
                       "tensor([ 6., 15.])\n")


def test_one_hot_encoding():
    printed, scope = run("""
        import torch
        import torch.nn.functional as F
        val = torch.tensor([0, 15, 4, 2, 4])
        print(F.one_hot(val, num_classes=26))
    """)
    notes_rows = [
        "1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0",
        "0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0",
        "0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0",
        "0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0",
        "0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0",
    ]
    expected = [[int(v) for v in row.split(", ")] for row in notes_rows]
    assert scope["F"].one_hot(scope["val"], num_classes=26).tolist() == expected
    # torch wraps each 26-element row at 80 columns; the notes' copy unwrapped it.
    torch_text = TORCH_REPRS["out = F.one_hot(torch.tensor([0, 15, 4, 2, 4]), num_classes=26)"]
    assert printed == torch_text + "\n"


def test_indexing_with_lists_and_pairs():
    _, scope = run("""
        import torch
        C = torch.randn((27, 2))
        row = C[5]
        rows = C[[1,2,3]]
        C = torch.randn((27, 2))
        chained = C[5][1]
        paired = C[5,1]
    """)
    C = scope["C"]
    assert scope["row"].shape == (2,) and scope["rows"].shape == (3, 2)
    assert scope["chained"].shape == () and scope["paired"].shape == ()
    assert scope["chained"].item() == scope["paired"].item() == C.numpy()[5, 1]
    assert re.fullmatch(r"tensor\(-?\d\.\d{4}\)", repr(scope["paired"]))
    assert re.fullmatch(r"tensor\(\[ ?-?\d\.\d{4}, +-?\d\.\d{4}\]\)", repr(scope["row"]))


def test_unbind_rows_and_columns():
    printed, _ = run("""
        import torch
        tens = torch.tensor([[1,2,3],[4,5,6],[7,8,9]])
        print(tens)
        print(torch.unbind(tens, 0))
        print(torch.unbind(tens, 1))
    """)
    assert printed == notes_output("""
        # tensor([[1, 2, 3],
        #         [4, 5, 6],
        #         [7, 8, 9]])
        # (tensor([1, 2, 3]), tensor([4, 5, 6]), tensor([7, 8, 9]))
        # (tensor([1, 4, 7]), tensor([2, 5, 8]), tensor([3, 6, 9]))
    """)


def test_cat_stacks_rows():
    printed, _ = run("""
        import torch
        print(torch.cat(
        (
        torch.tensor([
        [1],
        [2]
        ]),
        torch.tensor([
        [3],
        [4]
        ])
        )
        ))
    """)
    assert printed == "tensor([[1],\n        [2],\n        [3],\n        [4]])\n"


def test_view_reshapes_without_copying():
    printed, scope = run("""
        import torch
        t = torch.arange(10)
        print(t)
        print(t.view(2,5))
    """)
    assert printed == ("tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])\n"
                       "tensor([[0, 1, 2, 3, 4],\n        [5, 6, 7, 8, 9]])\n")
    # "it only requires transformation at the runtime, not in the storage"
    t = scope["t"]
    v = t.view(2, 5)
    v[1, 0] = 50
    assert t[5].item() == 50
    assert v.data_ptr() == t.data_ptr()


def test_cross_entropy_equals_the_manual_loss_and_survives_large_logits():
    import bigram.tensor as torch
    import bigram.tensor.functional as F

    g = torch.Generator().manual_seed(2147483647)
    emb = torch.randn((32, 3, 2), generator=g)
    h = torch.tanh(emb.view(-1, 6) @ torch.randn((6, 100), generator=g))
    W2, b2 = torch.randn((100, 27), generator=g), torch.randn(27, generator=g)
    ys = torch.randint(0, 27, (32,), generator=g).tolist()
    _, scope = run("""
        logits = h @ W2 + b2
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = (-probs[torch.arange(emb.shape[0]), ys].log().mean())
        builtin = torch.nn.functional.cross_entropy(logits, torch.tensor(ys))
    """, torch=torch, h=h, W2=W2, b2=b2, emb=emb, ys=ys)
    loss, builtin = scope["loss"], scope["builtin"]
    assert repr(loss) == repr(builtin)
    assert re.fullmatch(r"tensor\(\d+\.\d{4}\)", repr(loss))
    # Independent float64 reference for the same logits.
    z = scope["logits"].numpy().astype(np.float64)
    reference = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(32), ys])
    assert abs(builtin.item() - reference) < 1e-4
    # "if our logits contained 100, running .exp() on that results in inf"
    big = scope["logits"] * 100
    assert torch.isinf(big.exp()).any().item()
    stable = F.cross_entropy(big, torch.tensor(ys))
    assert np.isfinite(stable.item())
    zb = big.numpy().astype(np.float64)
    shifted = zb - zb.max(1, keepdims=True)
    exact = np.mean(np.log(np.exp(shifted).sum(1)) - shifted[np.arange(32), ys])
    assert abs(stable.item() - exact) / exact < 1e-5


def test_visualize_activations_with_matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, scope = run("""
        import torch
        a = torch.randn((30,30))
        plt.figure(figsize=(10,20))
        image = plt.imshow(a.abs()>.99, cmap='gray', interpolation='nearest')
    """, plt=plt)
    shown = np.asarray(scope["image"].get_array())
    np.testing.assert_array_equal(shown, np.abs(scope["a"].numpy()) > 0.99)
    plt.close("all")


def test_mean_collapses_a_dimension():
    printed, _ = run("""
        import torch
        test = torch.tensor([
        [1,0,0,0,0],
        [2,0,0,0,0],
        [3,0,0,0,0],
        ], dtype=torch.float)
        print(test.mean(dim=0))
        print(test.mean(dim=1))
    """)
    assert printed == notes_output("""
        # tensor([2., 0., 0., 0., 0.])
        # tensor([0.2000, 0.4000, 0.6000])
    """)
