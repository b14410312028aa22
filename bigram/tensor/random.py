"""Seeded randomness bit-identical to PyTorch's CPU generator.

PyTorch's CPU generator is the standard 32-bit Mersenne Twister (MT19937),
seeded from the low 32 bits of the seed; numpy ships the same engine, so this
module drives numpy's MT19937 and reproduces, draw for draw, how ATen turns its
32-bit words into numbers (ATen/core/TransformationHelper.h and the CPU
kernels in ATen/native/cpu):

* float32 uniform: the low 24 bits of one word, times 2**-24.
* float64 uniform: 53 bits of a 64-bit draw (two words, the first one high).
* randint: one word modulo the range (two words when the range needs 64 bits).
* randn, 16 or more float32 values: all uniforms first, then Box-Muller in
  blocks of 16 (cos for the first 8 of a block, sin for the last 8), the last
  partial block recomputed from 16 fresh uniforms. ATen evaluates it with
  vectorised float32 polynomials (avx_mathfun's log and sincos, fused
  multiply-adds); `_avx_log`/`_avx_sincos` repeat those operations one for one.
* randn of fewer than 16 values, or float64: Box-Muller on float64 uniforms,
  one pair per two values, the second of each pair cached in the generator.
* randperm: Fisher-Yates, swapping position i with i + word % (n - i).
* multinomial with replacement and more than one sample: a float cumulative
  sum per row, normalised, searched with one 53-bit uniform per sample.
* multinomial without replacement, or of one sample: argmax (or top-k) of
  p / q with q ~ Exp(1) drawn as -log1p(-u) from 53-bit uniforms.
"""

import math
import os

import numpy as np

from . import dtypes
from .creation import finish, shape_from_args
from .tensor import Tensor

_MASK24 = 0xFFFFFF
_MASK53 = (1 << 53) - 1
_DEFAULT_SEED = 67280421310721  # what a fresh torch.Generator() is seeded with


def _mt19937_key(seed):
    """The 624-word MT19937 state torch builds from a seed (init_genrand on 32 bits)."""
    key = np.empty(624, dtype=np.uint32)
    word = seed & 0xFFFFFFFF
    key[0] = word
    # The recurrence is sequential by definition: each word depends on the last.
    for i in range(1, 624):
        word = (1812433253 * (word ^ (word >> 30)) + i) & 0xFFFFFFFF
        key[i] = word
    return key


class Generator:
    """A torch-compatible random generator: `Generator().manual_seed(2147483647)`."""

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"this engine only has CPU generators, not {device!r}")
        self._engine = np.random.MT19937()
        self.manual_seed(_DEFAULT_SEED)

    @property
    def device(self):
        """Always 'cpu'."""
        return "cpu"

    def manual_seed(self, seed):
        """Reset the stream to `seed`'s and return the generator (so calls chain)."""
        seed = int(seed)
        if not -(1 << 63) <= seed < (1 << 64):
            raise RuntimeError(f"Overflow when unpacking long long: seed {seed} is out of range")
        self._seed = seed % (1 << 64)
        self._engine.state = {"bit_generator": "MT19937",
                              "state": {"key": _mt19937_key(self._seed), "pos": 624}}
        self._cached_normal = None
        return self

    def seed(self):
        """Re-seed from the operating system's entropy and return the new seed."""
        seed = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        """The seed the stream was last reset to."""
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (this engine's layout, not torch's)."""
        state = self._engine.state["state"]
        cached = np.nan if self._cached_normal is None else self._cached_normal
        packed = np.concatenate([state["key"].astype("<u4").view(np.uint8),
                                 np.asarray([state["pos"]], "<i8").view(np.uint8),
                                 np.asarray([self._seed], "<u8").view(np.uint8),
                                 np.asarray([cached], "<f8").view(np.uint8)])
        return Tensor._wrap(packed.astype(np.int64))

    def set_state(self, state):
        """Restore a state taken with `get_state()`."""
        raw = np.asarray(state._data if isinstance(state, Tensor) else state).astype(np.uint8)
        if raw.size != 624 * 4 + 24:
            raise RuntimeError("set_state expects a state returned by this engine's get_state()")
        key = raw[:2496].view("<u4").astype(np.uint32)
        pos = int(raw[2496:2504].view("<i8")[0])
        self._seed = int(raw[2504:2512].view("<u8")[0])
        cached = float(raw[2512:2520].view("<f8")[0])
        self._engine.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
        self._cached_normal = None if np.isnan(cached) else cached
        return self

    # -- raw draws, in the order ATen consumes them

    def words(self, n):
        """`n` 32-bit draws (torch's `random()`), as uint64."""
        return self._engine.random_raw(int(n))

    def words64(self, n):
        """`n` 64-bit draws (torch's `random64()`): two words each, the first one high."""
        pairs = self.words(2 * int(n)).reshape(-1, 2)
        return (pairs[:, 0] << np.uint64(32)) | pairs[:, 1]

    def uniform32(self, n):
        """`n` float32 uniforms in [0, 1) from 24-bit draws."""
        return (self.words(n) & _MASK24).astype(np.float32) * np.float32(2.0 ** -24)

    def uniform64(self, n):
        """`n` float64 uniforms in [0, 1) from 53-bit draws."""
        return (self.words64(n) & _MASK53).astype(np.float64) * (2.0 ** -53)

    def normal64(self, n):
        """`n` float64 normals from ATen's scalar Box-Muller, honouring the cached value."""
        out = np.empty(int(n))
        start = 0
        if n and self._cached_normal is not None:
            out[0], start = self._cached_normal, 1
            self._cached_normal = None
        pairs = (int(n) - start + 1) // 2
        if pairs:
            u = self.uniform64(2 * pairs).reshape(-1, 2)
            radius = np.sqrt(-2.0 * np.log1p(-u[:, 1]))
            theta = 2.0 * np.pi * u[:, 0]
            values = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1).ravel()
            out[start:] = values[: int(n) - start]
            if (int(n) - start) % 2:
                self._cached_normal = float(values[-1])
        return out

    def __repr__(self):
        return f"<torch._C.Generator object at {id(self):#x}>"


default_generator = Generator()
default_generator.seed()


def manual_seed(seed):
    """Seed the default generator; returns it, as torch does."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the default generator from the OS and return the seed."""
    return default_generator.seed()


def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state."""
    return default_generator.get_state()


def set_rng_state(state):
    """Restore the default generator's state."""
    default_generator.set_state(state)


def _generator(generator):
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")
    return generator


def _float_dtype(dtype):
    dtype = dtypes.as_dtype(dtype) or dtypes.default_float()
    if not dtype.is_floating_point:
        raise RuntimeError(f"expected a floating-point dtype, got {dtype}")
    return dtype


# ---------------------------------------------------------------------- uniform


def uniform_values(gen, n, dtype, low=0.0, high=1.0):
    """`n` U(low, high) values as ATen's uniform_ kernel computes them."""
    if dtype is dtypes.float64:
        x = gen.uniform64(n)
        return x * (high - low) + low
    x = gen.uniform32(n)
    return x * np.float32(np.float32(high) - np.float32(low)) + np.float32(low)


def _random_tensor(size, generator, dtype, requires_grad, draw):
    shape = shape_from_args(size)
    dtype = _float_dtype(dtype)
    values = draw(_generator(generator), int(np.prod(shape, dtype=np.int64)), dtype)
    return finish(values.reshape(shape), None, requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False):
    """Uniform [0, 1) values, identical to torch.rand for the same generator state."""
    return _random_tensor(size, generator, dtype, requires_grad, uniform_values)


def uniform_(tensor, low, high, generator):
    """Fill `tensor` in place with U(low, high)."""
    values = uniform_values(_generator(generator), tensor.numel(), tensor.dtype, low, high)
    tensor._data[...] = values.reshape(tensor.shape)
    tensor._version[0] += 1
    return tensor


# ---------------------------------------------------------------------- normal

_F = np.float32


def _fma32(a, b, c):
    """float32 fused multiply-add: a*b is exact in float64, one rounding at the end."""
    return (a.astype(np.float64) * np.float64(b) + np.asarray(c, np.float64)).astype(_F)


_LOG_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
          1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
          3.3333331174e-1)


def _avx_log(x):
    """avx_mathfun's log256_ps (a Cephes polynomial) on float32 inputs in (0, 1]."""
    bits = x.view(np.int32)
    e = ((bits >> 23) - 0x7F).astype(_F) + _F(1)
    m = ((bits & ~0x7F800000) | 0x3F000000).view(_F)  # mantissa scaled into [0.5, 1)
    small = m < _F(0.707106781186547524)
    x = (m - _F(1)) + np.where(small, m, _F(0))
    e = e - np.where(small, _F(1), _F(0))
    z = x * x
    y = np.full_like(x, _F(_LOG_P[0]))
    for p in _LOG_P[1:]:
        y = _fma32(y, x, _F(p))
    y = y * x
    y = _fma32(y, z, e * _F(-2.12194440e-4))
    y = _fma32(z, _F(-0.5), y)
    return _fma32(e, _F(0.693359375), x + y)


def _avx_sincos(x):
    """avx_mathfun's sincos256_ps (Cephes) on non-negative float32 inputs."""
    j = (x * _F(1.27323954473516)).astype(np.int32)
    j = (j + 1) & ~1
    y = j.astype(_F)
    sin_negative = (j & 4) != 0
    use_sin_poly = (j & 2) == 0
    x = _fma32(y, _F(-0.78515625), x)
    x = _fma32(y, _F(-2.4187564849853515625e-4), x)
    x = _fma32(y, _F(-3.77489497744594108e-8), x)
    cos_negative = (~(j - 2) & 4) != 0
    z = x * x
    cos_poly = _fma32(np.full_like(x, _F(2.443315711809948e-5)), z, _F(-1.388731625493765e-3))
    cos_poly = _fma32(cos_poly, z, _F(4.166664568298827e-2))
    cos_poly = _fma32(cos_poly * z, z, -(z * _F(0.5)))
    cos_poly = cos_poly + _F(1)
    sin_poly = _fma32(np.full_like(x, _F(-1.9515295891e-4)), z, _F(8.3321608736e-3))
    sin_poly = _fma32(sin_poly, z, _F(-1.6666654611e-1))
    sin_poly = _fma32(sin_poly * z, x, x)
    sin = np.where(use_sin_poly, sin_poly, cos_poly)
    cos = np.where(use_sin_poly, cos_poly, sin_poly)
    return np.where(sin_negative, -sin, sin), np.where(cos_negative, -cos, cos)


def _box_muller_blocks32(u, mean, std):
    """ATen's vectorised normal_fill_16 on blocks of 16 float32 uniforms."""
    u = u.reshape(-1, 16)
    radius = np.sqrt(_F(-2) * _avx_log(_F(1) - u[:, :8]))
    sin, cos = _avx_sincos(_F(2 * np.pi) * u[:, 8:])
    first, second = radius * cos, radius * sin
    return np.concatenate([_fma32(first, _F(std), _F(mean)),
                           _fma32(second, _F(std), _F(mean))], axis=1).ravel()


def _box_muller_blocks64(u, mean, std):
    """ATen's scalar normal_fill_16 in float64."""
    u = u.reshape(-1, 16)
    radius = np.sqrt(-2.0 * np.log(1.0 - u[:, :8]))
    theta = 2.0 * np.pi * u[:, 8:]
    return np.concatenate([radius * np.cos(theta) * std + mean,
                           radius * np.sin(theta) * std + mean], axis=1).ravel()


def normal_values(gen, n, dtype, mean=0.0, std=1.0):
    """`n` N(mean, std) values exactly as ATen's normal kernel draws them."""
    n = int(n)
    if n < 16:
        return (gen.normal64(n) * std + mean).astype(dtype.numpy)
    if dtype is dtypes.float32:
        draw, blocks = gen.uniform32, _box_muller_blocks32
    else:
        draw, blocks = gen.uniform64, _box_muller_blocks64
    u = draw(n)
    whole = n - n % 16
    out = np.empty(n, dtype=dtype.numpy)
    out[:whole] = blocks(u[:whole], mean, std)
    if n % 16:
        # ATen recomputes the last 16 values from 16 fresh uniforms.
        out[n - 16:] = blocks(draw(16), mean, std)
    return out


def randn(*size, generator=None, dtype=None, requires_grad=False):
    """Standard normal values, matching torch.randn for the same generator state."""
    return _random_tensor(size, generator, dtype, requires_grad, normal_values)


def normal_(tensor, mean, std, generator):
    """Fill `tensor` in place with N(mean, std)."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    values = normal_values(_generator(generator), tensor.numel(), tensor.dtype, mean, std)
    tensor._data[...] = values.reshape(tensor.shape)
    tensor._version[0] += 1
    return tensor


def exponential_values(gen, n, dtype, lambd=1.0):
    """`n` Exp(lambd) values: -log1p(-u) / lambd on 53-bit uniforms, cast to `dtype`.

    numpy's log1p can differ from glibc's in the last bit of a float64; after the
    cast to float32, and for the argmax that multinomial takes, that never shows.
    """
    return ((-1.0 / lambd) * np.log1p(-gen.uniform64(n))).astype(dtype.numpy)


def exponential_(tensor, lambd, generator):
    """Fill `tensor` in place with Exp(lambd)."""
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    values = exponential_values(_generator(generator), tensor.numel(), tensor.dtype, lambd)
    tensor._data[...] = values.reshape(tensor.shape)
    tensor._version[0] += 1
    return tensor


# ---------------------------------------------------------------------- integers


def randint(*args, size=None, generator=None, dtype=None, requires_grad=False):
    """Integers in [low, high): `randint(high, size)` or `randint(low, high, size)`."""
    if size is not None:
        args = args + (size,)
    if len(args) == 2:
        low, (high, shape) = 0, args
    elif len(args) == 3:
        low, high, shape = args
    else:
        raise TypeError("randint() expects (high, size) or (low, high, size)")
    low, high = int(low), int(high)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    if type(shape) is not tuple or not all([type(n) is int and n >= 0 for n in shape]):
        shape = shape_from_args((shape,) if isinstance(shape, int) else tuple(shape))
    n = math.prod(shape)
    span = high - low
    gen = _generator(generator)
    words = gen.words64(n) if span >= (1 << 32) else gen.words(n)
    # word % span < 2**63, so the uint64 remainders are already the int64 values.
    values = np.remainder(words, np.uint64(span), out=words).view(np.int64)
    if low:
        values += low
    dtype = dtypes.as_dtype(dtype) or dtypes.int64
    if requires_grad and not dtype.is_floating_point:
        raise RuntimeError("Only Tensors of floating point dtype can require gradients")
    if dtype is not dtypes.int64:
        values = values.astype(dtype.numpy)
    if len(shape) != 1:
        values = values.reshape(shape)
    return finish(values, None, requires_grad)


_RANDPERM_LIMIT = (1 << 32) // 20  # ATen switches to a 64-bit shuffle from here on


def fisher_yates(words, n):
    """The permutation ATen's Fisher-Yates loop makes from its n-1 random words.

    The loop swaps position i with t_i = i + words[i] % (n - i), for i = 0..n-2.
    Position j is final after step j and then holds what position t_j held
    just before. Tracing that value back in time, the step that last wrote
    position p before step b is the latest step i < b with t_i == p, and it
    brought the value from position i, where the question repeats with b = i.
    So the value is found by following, from the latest earlier step aimed at
    t_j, the links "latest step before i aimed at i" until none is left; all
    positions follow their links at once by pointer doubling. One sort and a
    handful of gathers replace the n sequential swaps.
    """
    if n <= 1:
        return np.arange(n, dtype=np.int64)
    steps = np.arange(n - 1, dtype=np.int64)
    targets = steps + (words[: n - 1] % (n - steps).astype(np.uint64)).astype(np.int64)
    order = np.argsort(targets, kind="stable")      # grouped by target, steps ascending
    sorted_targets = targets[order]
    same_group = sorted_targets[1:] == sorted_targets[:-1]
    # The latest step before step j aimed at the same target as step j.
    earlier_same_target = np.full(n - 1, -1, dtype=np.int64)
    earlier_same_target[order[1:][same_group]] = order[:-1][same_group]
    # For each position p, the latest step i < p aimed at p (ignoring a self-swap i == p).
    aimed_from_before = np.flatnonzero(order < sorted_targets)
    group = sorted_targets[aimed_from_before]
    last = np.append(group[1:] != group[:-1], True)[: len(group)]
    link = np.full(n, -1, dtype=np.int64)
    link[group[last]] = order[aimed_from_before[last]]
    # Follow the links to their ends by pointer doubling.
    root = np.where(link >= 0, link, np.arange(n))
    while True:
        further = root[root]
        if np.array_equal(further, root):
            break
        root = further
    first = np.append(earlier_same_target, link[n - 1])
    source = np.append(targets, n - 1)
    return np.where(first >= 0, root[np.maximum(first, 0)], source)


def randperm(n, generator=None, dtype=None, requires_grad=False):
    """A random permutation of 0..n-1, identical to torch.randperm for the same seed."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    if n >= _RANDPERM_LIMIT:
        raise RuntimeError(f"randperm supports n < {_RANDPERM_LIMIT:,} in this engine")
    gen = _generator(generator)
    words = gen.words(max(n - 1, 0))
    perm = fisher_yates(words, n)
    dtype = dtypes.as_dtype(dtype) or dtypes.int64
    return finish(perm.astype(dtype.numpy), None, requires_grad)


# ---------------------------------------------------------------------- multinomial


def _check_distributions(p):
    if not np.isfinite(p).all() or (p < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (p.sum(axis=-1) == 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")


def _check_entries(rows):
    """ATen's per-entry checks, in its order: the first bad entry decides the message."""
    bad = ~(rows >= 0) | ~np.isfinite(rows)
    if bad.any():
        first = rows.ravel()[np.argmax(bad.ravel())]
        what = "< 0" if not first >= 0 else "= infinity or NaN"
        raise RuntimeError(f"invalid multinomial distribution (encountering probability "
                           f"entry {what})")


def inverse_cdf_counts(cumulative, uniforms):
    """For each row, how many cumulative values lie below each of its uniforms.

    That count is exactly where ATen's binary search over a non-decreasing row
    ends (the first slot whose cumulative probability is >= the uniform).
    """
    rows, categories = cumulative.shape
    samples = uniforms.shape[1]
    out = np.empty((rows, samples), dtype=np.int64)
    # Bound the temporary (rows x samples x categories) comparison to ~16M cells.
    step = max(1, (1 << 24) // max(1, samples * categories))
    for start in range(0, rows, step):
        c = cumulative[start:start + step, None, :]
        u = uniforms[start:start + step, :, None]
        out[start:start + step] = (c < u).sum(axis=2)
    return out


def multinomial(input, num_samples, replacement=False, generator=None):  # noqa: A002
    """Draw category indices with probabilities proportional to each row of `input`."""
    p = input._data
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype.name}")
    num_samples = int(num_samples)
    categories = p.shape[-1]
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > categories:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if categories > (1 << 24):
        raise RuntimeError("number of categories cannot exceed 2^24")
    rows = p.reshape(-1, categories)
    gen = _generator(generator)
    if not replacement or num_samples == 1:
        _check_distributions(rows)
        q = exponential_values(gen, rows.size, input.dtype).reshape(rows.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            race = rows / q
        if num_samples == 1:
            picked = np.argmax(race, axis=1)[:, None]
        else:
            picked = np.argsort(-race, axis=1, kind="stable")[:, :num_samples]
    else:
        _check_entries(rows)
        cumulative = np.cumsum(rows, axis=1, dtype=rows.dtype)
        totals = cumulative[:, -1:].copy()
        if (totals <= 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        cumulative /= totals
        cumulative[:, -1] = 1
        uniforms = gen.uniform64(rows.shape[0] * num_samples).reshape(-1, num_samples)
        picked = inverse_cdf_counts(cumulative, uniforms)
    shape = (num_samples,) if p.ndim == 1 else (p.shape[0], num_samples)
    return Tensor._wrap(picked.astype(np.int64).reshape(shape))

