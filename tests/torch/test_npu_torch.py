#!/usr/bin/python3
"""The PyTorch device's suite (npu_torch), run in the VM in one process.

    PYTHONPATH=build/release/frameworks/torch /usr/bin/python3 \
        tests/torch/test_npu_torch.py [--junit FILE] [-k SUBSTRING]

Every device kernel is compared with the CPU on odd shapes and strides and
must not fall back; an MLP trains; resnet18 and mobilenet_v2 (random
weights) infer. Writes JUnit XML (one testcase per test) with --junit.
"""

import argparse
import contextlib
import sys
import time
import traceback
import unittest
import xml.etree.ElementTree as ET

import torch
import torch.nn.functional as F

import npu_torch

DEV = torch.device("privateuseone", 0)
SESSION_FALLBACKS = {}
MEASURED = {}


def collect_fallbacks():
    for k, v in npu_torch.fallback_counts().items():
        SESSION_FALLBACKS[k] = SESSION_FALLBACKS.get(k, 0) + v
    npu_torch.fallback_reset()


@contextlib.contextmanager
def no_fallback(tc):
    """Fails tc if any operator inside the block ran on the CPU."""
    collect_fallbacks()
    yield
    counts = npu_torch.fallback_counts()
    collect_fallbacks()
    tc.assertEqual(counts, {}, "operators fell back to the CPU")


def close(tc, got, want, rtol=1e-4, atol=1e-5, msg=None):
    got = got.cpu() if isinstance(got, torch.Tensor) else got
    tc.assertEqual(got.shape, want.shape, msg)
    tc.assertEqual(got.dtype, want.dtype, msg)
    if want.dtype == torch.bool or not want.is_floating_point():
        tc.assertTrue(torch.equal(got, want), msg or f"{got} != {want}")
    else:
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol, msg=msg)


def variants(shape=(3, 5, 7), seed=0):
    """(name, cpu tensor) on contiguous, transposed and sliced layouts."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(shape, generator=g)
    big = torch.randn(shape[0], shape[1] + 3, shape[2] * 2, generator=g)
    return [("contiguous", base),
            ("transposed", torch.randn(tuple(reversed(shape)), generator=g).transpose(0, 2)),
            ("sliced", big[:, 1:1 + shape[1], ::2])]


def on_dev(t):
    """The same layout on the device: strides preserved."""
    d = torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device=DEV)
    d.copy_(t)
    return d


class Runtime(unittest.TestCase):
    def test_device_module(self):
        self.assertGreaterEqual(npu_torch.device_count(), 1)
        self.assertIs(torch.npu, npu_torch)
        self.assertIs(torch.privateuseone, npu_torch)
        self.assertTrue(npu_torch.is_available())
        npu_torch.set_device(0)
        self.assertEqual(npu_torch.current_device(), 0)
        x = torch.ones(3, device="privateuseone")
        self.assertEqual(x.device, DEV)
        self.assertIn("privateuseone", repr(x))
        self.assertIn("privateuseone", repr(torch.randn(2, 3, dtype=torch.float64).to(DEV)))
        m = torch.tensor([True, False, True])
        self.assertTrue(torch.equal(x[m.to(DEV)].cpu(), torch.ones(2)))
        y = torch.zeros(3).to(DEV)
        y[m.to(DEV)] = 2.0
        self.assertTrue(torch.equal(y.cpu(), torch.tensor([2.0, 0.0, 2.0])))

    def test_streams_events(self):
        s = npu_torch.Stream()
        self.assertNotEqual(s, npu_torch.default_stream())
        a = torch.randn(64, 64).to(DEV)
        start, end = npu_torch.Event(enable_timing=True), npu_torch.Event(enable_timing=True)
        with npu_torch.stream(s):
            self.assertEqual(npu_torch.current_stream(), s)
            s.wait_stream(npu_torch.default_stream())
            start.record()
            b = a @ a
            end.record()
        self.assertEqual(npu_torch.current_stream(), npu_torch.default_stream())
        end.synchronize()
        self.assertTrue(end.query())
        self.assertTrue(s.query())
        self.assertGreaterEqual(start.elapsed_time(end), 0.0)
        npu_torch.default_stream().wait_event(end)
        close(self, b, a.cpu() @ a.cpu(), rtol=1e-4, atol=1e-4)
        s.synchronize()
        npu_torch.synchronize()

    def test_memory_stats(self):
        npu_torch.synchronize()
        before = npu_torch.memory_allocated()
        x = torch.empty(1 << 20, device=DEV)
        self.assertGreaterEqual(npu_torch.memory_allocated() - before, 4 << 20)
        self.assertGreaterEqual(npu_torch.max_memory_allocated(), npu_torch.memory_allocated())
        stats = npu_torch.memory_stats()
        self.assertGreater(stats["reserved_bytes.all.current"], 0)
        del x
        self.assertEqual(npu_torch.memory_allocated(), before)
        npu_torch.empty_cache()

    def test_guard(self):
        with torch.autograd.profiler.record_function("x"):
            pass
        x = torch.randn(4).to(DEV)
        # A device guard exists: the stream API of c10 works on the device.
        self.assertEqual(x.device.index, 0)


class RoundTrips(unittest.TestCase):
    DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int8,
              torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool, torch.complex64]

    def sample(self, dtype, shape=(3, 5, 7)):
        g = torch.Generator().manual_seed(1)
        x = torch.randn(shape, generator=g) * 50
        if dtype == torch.bool:
            return x > 0
        if dtype == torch.complex64:
            return torch.complex(x, -x)
        return x.to(dtype)

    def test_dtypes(self):
        for dtype in self.DTYPES:
            x = self.sample(dtype)
            d = x.to(DEV)
            self.assertEqual(d.dtype, dtype)
            self.assertTrue(torch.equal(d.cpu(), x), f"{dtype}")

    def test_non_contiguous(self):
        for dtype in self.DTYPES:
            for name, v in variants():
                x = v.to(torch.float32).mul(20).to(dtype) if dtype != torch.complex64 else \
                    torch.complex(v, v)
                self.assertTrue(torch.equal(x.to(DEV).cpu(), x), f"{dtype} {name} host->dev")
                d = on_dev(x)
                self.assertEqual(d.stride(), x.stride())
                self.assertTrue(torch.equal(d.cpu(), x), f"{dtype} {name} strided")
                self.assertTrue(torch.equal(d.contiguous().cpu(), x), f"{dtype} {name} contiguous")

    def test_empty_and_scalars(self):
        for shape in [(0,), (3, 0, 2), ()]:
            x = torch.randn(shape)
            self.assertTrue(torch.equal(x.to(DEV).cpu(), x))
        s = torch.tensor(3.25).to(DEV)
        self.assertEqual(s.item(), 3.25)
        self.assertEqual(torch.tensor(7, dtype=torch.int64).to(DEV).item(), 7)
        self.assertEqual(torch.tensor(True).to(DEV).item(), True)

    def test_device_to_device_and_casts(self):
        x = self.sample(torch.float32)
        d = x.to(DEV)
        for dtype in [torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.bool]:
            close(self, d.to(dtype), x.to(dtype), msg=f"cast to {dtype}")
        # Within int8's range (out-of-range float -> int8 is undefined in C++).
        small = x.clamp(-120, 120)
        close(self, small.to(DEV).to(torch.int8), small.to(torch.int8), msg="cast to int8")
        y = d.clone()
        self.assertNotEqual(y.data_ptr(), d.data_ptr())
        self.assertTrue(torch.equal(y.cpu(), x))
        t = torch.empty(7, 5, 3, device=DEV)
        t.copy_(d.transpose(0, 2))
        self.assertTrue(torch.equal(t.cpu(), x.transpose(0, 2)))
        b = torch.empty(3, 5, 7, device=DEV)
        b.copy_(torch.arange(7.0))  # broadcast from the host
        self.assertTrue(torch.equal(b.cpu(), torch.arange(7.0).expand(3, 5, 7)))
        c = torch.empty(4, 6)
        c.copy_(d[0, :4, :6])  # device -> host, strided source
        self.assertTrue(torch.equal(c, x[0, :4, :6]))

    def test_views(self):
        x = torch.arange(210.0).reshape(3, 5, 14)
        with no_fallback(self):
            d = x.to(DEV)
            self.assertTrue(torch.equal(d.view(15, 14).cpu(), x.view(15, 14)))
            self.assertTrue(torch.equal(d.transpose(1, 2).reshape(-1).cpu(),
                                        x.transpose(1, 2).reshape(-1)))
            self.assertTrue(torch.equal(d[1:, ::2, 3].cpu(), x[1:, ::2, 3]))
            self.assertTrue(torch.equal(d.as_strided((4, 4), (3, 1), 2).cpu(),
                                        x.as_strided((4, 4), (3, 1), 2)))
            self.assertTrue(torch.equal(d.unsqueeze(1).expand(3, 2, 5, 14).cpu(),
                                        x.unsqueeze(1).expand(3, 2, 5, 14)))
            self.assertTrue(torch.equal(d.permute(2, 0, 1).contiguous().cpu(),
                                        x.permute(2, 0, 1).contiguous()))
            r = d.clone()
            r.resize_(300)
            self.assertTrue(torch.equal(r[:210].cpu(), x.reshape(-1)))
            r.resize_(2, 3)
            self.assertEqual(r.shape, (2, 3))


def _unary_cases():
    return [
        ("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
        ("silu", F.silu), ("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid),
        ("exp", torch.exp), ("log", lambda x: torch.log(x.abs() + 0.5)),
        ("sqrt", lambda x: torch.sqrt(x.abs())), ("rsqrt", lambda x: torch.rsqrt(x.abs() + 0.5)),
        ("reciprocal", lambda x: torch.reciprocal(x.abs() + 0.5)), ("neg", torch.neg),
        ("abs", torch.abs), ("sin", torch.sin), ("cos", torch.cos), ("erf", torch.erf),
        ("floor", lambda x: torch.floor(x * 4)), ("ceil", lambda x: torch.ceil(x * 4)),
        ("gelu", F.gelu), ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
        ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.75)), ("relu6", F.relu6),
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.2)), ("elu", F.elu),
    ]


def _binary_cases():
    return [
        ("add", lambda a, b: a + b), ("add_alpha", lambda a, b: torch.add(a, b, alpha=-1.5)),
        ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / (b.abs() + 0.5)), ("maximum", torch.maximum),
        ("minimum", torch.minimum), ("eq", lambda a, b: a == a.clone()),
        ("lt", lambda a, b: a < b), ("le", lambda a, b: a <= b), ("gt", lambda a, b: a > b),
        ("ge", lambda a, b: a >= b),
    ]


class Kernels(unittest.TestCase):
    def check(self, fn, *cpu_args, rtol=1e-4, atol=1e-5, name=""):
        want = fn(*cpu_args)
        dev_args = [on_dev(a) if isinstance(a, torch.Tensor) else a for a in cpu_args]
        with no_fallback(self):
            got = fn(*dev_args)
            if isinstance(got, tuple):
                got = tuple(g.cpu() for g in got)
            else:
                got = got.cpu()
        if isinstance(want, tuple):
            for g, w in zip(got, want):
                close(self, g, w, rtol, atol, name)
        else:
            close(self, got, want, rtol, atol, name)

    def test_unary(self):
        for name, fn in _unary_cases():
            for layout, x in variants():
                with self.subTest(op=name, layout=layout):
                    self.check(fn, x, rtol=1e-4, atol=1e-5, name=f"{name} {layout}")

    def test_unary_inplace(self):
        cases = [("relu_", torch.relu_), ("sigmoid_", torch.sigmoid_), ("tanh_", torch.tanh_),
                 ("exp_", torch.exp_), ("neg_", torch.neg_),
                 ("hardtanh_", lambda x: F.hardtanh(x, inplace=True)),
                 ("leaky_relu_", lambda x: F.leaky_relu(x, 0.1, inplace=True)),
                 ("silu_", lambda x: F.silu(x, inplace=True)),
                 ("hardswish_", lambda x: F.hardswish(x, inplace=True))]
        for name, fn in cases:
            for layout, x in variants():
                with self.subTest(op=name, layout=layout):
                    self.check(lambda t: fn(t.clone()), x, name=f"{name} {layout}")

    def test_binary(self):
        for name, fn in _binary_cases():
            for layout, a in variants():
                b = variants(seed=3)[{"contiguous": 1, "transposed": 2, "sliced": 0}[layout]][1]
                with self.subTest(op=name, layout=layout):
                    self.check(fn, a, b, name=f"{name} {layout}")
                # Broadcasting against a [5, 1] and a [7] operand, and scalars.
                with self.subTest(op=name, layout=layout, broadcast=True):
                    self.check(fn, a, torch.randn(5, 1), name=f"{name} {layout} bcast")
                    self.check(fn, torch.randn(7), a, name=f"{name} {layout} bcast-left")
        for layout, a in variants():
            self.check(lambda t: t + 2.5, a)
            self.check(lambda t: t * 3, a)
            self.check(lambda t: t / 4, a)
            self.check(lambda t: t - torch.tensor(1.5), a)
        ints = torch.randint(-50, 50, (3, 5, 7), dtype=torch.int32)
        self.check(lambda a, b: a + b, ints, ints.flip(0))
        self.check(lambda a, b: a * b, ints, ints.transpose(0, 2).contiguous().transpose(0, 2))
        self.check(lambda a: a.float() / 3, ints)
        bools = variants()[1][1] > 0
        self.check(lambda a, b: a * b, bools, bools.flip(1))
        self.check(lambda a, b: a + b, bools, bools.flip(2))

    def test_binary_inplace(self):
        for layout, a in variants():
            b = torch.randn(5, 7)
            self.check(lambda x, y: x.clone().add_(y, alpha=0.5), a, b)
            self.check(lambda x, y: x.clone().sub_(y), a, b)
            self.check(lambda x, y: x.clone().mul_(y), a, b)
            self.check(lambda x, y: x.clone().div_(y.abs() + 1), a, b)
            self.check(lambda x: x.clone().mul_(0.5).add_(1.0), a)

    def test_gemm(self):
        g = torch.Generator().manual_seed(5)
        a, b = torch.randn(7, 5, generator=g), torch.randn(5, 3, generator=g)
        self.check(torch.mm, a, b)
        self.check(torch.mm, torch.randn(5, 7, generator=g).t(), torch.randn(3, 5, generator=g).t())
        self.check(torch.mm, torch.randn(9, 11, generator=g)[1:8, ::2], b[:, :3].contiguous()[:6][:6]
                   if False else torch.randn(6, 3, generator=g))
        self.check(lambda c, x, y: torch.addmm(c, x, y, beta=0.5, alpha=2.0),
                   torch.randn(3, generator=g), a, b)
        self.check(torch.addmm, torch.randn(7, 3, generator=g).t().contiguous().t(), a, b)
        self.check(torch.bmm, torch.randn(4, 7, 5, generator=g),
                   torch.randn(4, 3, 5, generator=g).transpose(1, 2))
        self.check(torch.matmul, torch.randn(2, 7, 5, generator=g), b)
        self.check(F.linear, torch.randn(6, 5, generator=g), torch.randn(3, 5, generator=g),
                   torch.randn(3, generator=g))
        self.check(torch.mm, torch.randn(0, 5), b)

    def test_conv(self):
        g = torch.Generator().manual_seed(6)
        x = torch.randn(2, 3, 9, 11, generator=g)
        w = torch.randn(4, 3, 3, 3, generator=g)
        bias = torch.randn(4, generator=g)
        self.check(lambda a, b, c: F.conv2d(a, b, c, stride=2, padding=1), x, w, bias, atol=1e-4)
        self.check(lambda a, b: F.conv2d(a, b, None, padding=(2, 1), dilation=2), x, w, atol=1e-4)
        self.check(lambda a, b: F.conv2d(a, b, groups=3),
                   torch.randn(1, 6, 7, 5, generator=g), torch.randn(6, 2, 3, 2, generator=g),
                   atol=1e-4)
        self.check(lambda a, b: F.conv2d(a, b), x.transpose(2, 3), w, atol=1e-4)
        self.check(lambda a, b, c: F.conv1d(a, b, c, stride=2, padding=1),
                   torch.randn(2, 3, 13, generator=g), torch.randn(5, 3, 4, generator=g),
                   torch.randn(5, generator=g), atol=1e-4)
        self.check(lambda a, b, c: F.conv_transpose2d(a, b, c, stride=2, padding=1,
                                                      output_padding=1),
                   torch.randn(1, 4, 5, 6, generator=g), torch.randn(4, 3, 3, 3, generator=g),
                   torch.randn(3, generator=g), atol=1e-4)

    def test_pools(self):
        g = torch.Generator().manual_seed(7)
        for layout, x in [("contiguous", torch.randn(2, 3, 9, 11, generator=g)),
                          ("transposed", torch.randn(2, 3, 11, 9, generator=g).transpose(2, 3))]:
            with self.subTest(layout=layout):
                self.check(lambda t: F.max_pool2d(t, 3, 2, 1), x)
                self.check(lambda t: F.max_pool2d(t, 2, ceil_mode=True), x)
                self.check(lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True), x)
                self.check(lambda t: F.avg_pool2d(t, 3, 2, 1), x)
                self.check(lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False), x)
                self.check(lambda t: F.avg_pool2d(t, 2, ceil_mode=True), x)
                self.check(lambda t: F.adaptive_avg_pool2d(t, 1), x)
        self.check(lambda t: F.max_pool2d(t, 2), torch.randn(3, 6, 8, generator=g))

    def test_softmax(self):
        for layout, x in variants():
            for dim in (0, 1, 2, -1):
                with self.subTest(layout=layout, dim=dim):
                    self.check(lambda t: torch.softmax(t, dim), x)
                    self.check(lambda t: torch.log_softmax(t, dim), x)

    def test_reductions(self):
        for layout, x in variants():
            with self.subTest(layout=layout):
                self.check(lambda t: t.sum(), x, atol=1e-4)
                self.check(lambda t: t.sum(1), x)
                self.check(lambda t: t.sum((0, 2), keepdim=True), x)
                self.check(lambda t: t.mean((1, 2)), x)
                self.check(lambda t: t.mean(), x)
                self.check(lambda t: t.max(2), x)
                self.check(lambda t: t.min(0), x)
                self.check(lambda t: t.max(), x)
                self.check(lambda t: t.amax((0, 1)), x)
                self.check(lambda t: t.argmax(1), x)
                self.check(lambda t: t.argmax(), x)
        ints = torch.randint(-9, 9, (3, 5, 7), dtype=torch.int32)
        self.check(lambda t: t.sum(1), ints)

    def test_fill_cat(self):
        for layout, x in variants():
            with self.subTest(layout=layout):
                self.check(lambda t: t.clone().fill_(2.5), x)
                self.check(lambda t: t.clone().zero_(), x)
                self.check(lambda t: t.transpose(0, 1).fill_(-1.0), x.clone())
                self.check(lambda a, b: torch.cat([a, b], 1), x, x[:, :2])
                self.check(lambda a, b: torch.cat([a, b, a], 2), x, x[:, :, 1:4])
        self.check(lambda t: torch.zeros_like(t), torch.randn(3, 4))
        self.check(lambda t: torch.ones(2, 3, device=t.device) + t, torch.randn(2, 3))
        self.check(lambda a, b: torch.cat([a, b]), torch.randn(2, 3),
                   torch.randint(0, 5, (1, 3), dtype=torch.int64))

    def test_batch_norm_eval(self):
        g = torch.Generator().manual_seed(8)
        x = torch.randn(2, 4, 5, 3, generator=g)
        mean, var = torch.randn(4, generator=g), torch.rand(4, generator=g) + 0.5
        w, b = torch.randn(4, generator=g), torch.randn(4, generator=g)
        self.check(lambda t, m, v, ww, bb: F.batch_norm(t, m, v, ww, bb, False, 0.1, 1e-5),
                   x, mean, var, w, b)
        self.check(lambda t, m, v: F.batch_norm(t, m, v, None, None, False),
                   x.transpose(2, 3), mean, var)

    def test_gradient_kernels(self):
        g = torch.Generator().manual_seed(9)
        for layout, x in variants():
            with self.subTest(layout=layout):
                grad = torch.randn(3, 5, 7, generator=g)
                for fn in (torch.relu, torch.sigmoid, torch.tanh,
                           lambda t: torch.softmax(t, 1), lambda t: torch.log_softmax(t, 2)):
                    xc = x.clone().requires_grad_()
                    fn(xc).backward(grad)
                    xd = on_dev(x).requires_grad_()
                    with no_fallback(self):
                        fn(xd).backward(grad.to(DEV))
                        got = xd.grad.cpu()
                    close(self, got, xc.grad, rtol=1e-4, atol=1e-5)

    def test_nll_loss(self):
        g = torch.Generator().manual_seed(10)
        logits = torch.randn(6, 5, generator=g)
        target = torch.tensor([0, 4, 2, 2, -100, 1])
        for reduction in ("mean", "sum", "none"):
            with self.subTest(reduction=reduction):
                xc = logits.clone().requires_grad_()
                lc = F.cross_entropy(xc, target, reduction=reduction)
                lc.sum().backward()
                xd = logits.to(DEV).requires_grad_()
                with no_fallback(self):
                    ld = F.cross_entropy(xd, target.to(DEV), reduction=reduction)
                    ld.sum().backward()
                    got, grad = ld.cpu(), xd.grad.cpu()
                close(self, got, lc.detach(), rtol=1e-4, atol=1e-5)
                close(self, grad, xc.grad, rtol=1e-4, atol=1e-5)


def _mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 10))


class Training(unittest.TestCase):
    def test_mlp_forward_backward(self):
        torch.manual_seed(0)
        x, y = torch.randn(16, 64), torch.randint(0, 10, (16,))
        cpu, dev = _mlp(1), _mlp(1).to(DEV)
        lc = F.cross_entropy(cpu(x), y)
        lc.backward()
        with no_fallback(self):
            ld = F.cross_entropy(dev(x.to(DEV)), y.to(DEV))
            ld.backward()
            grads = [p.grad.cpu() for p in dev.parameters()]
        close(self, ld.detach().cpu(), lc.detach(), rtol=1e-4, atol=1e-5)
        for g, p in zip(grads, cpu.parameters()):
            close(self, g, p.grad, rtol=1e-3, atol=1e-5)

    def test_digits_mlp_training(self):
        from sklearn.datasets import load_digits
        digits = load_digits()
        x = torch.tensor(digits.data[:256], dtype=torch.float32) / 16.0
        y = torch.tensor(digits.target[:256], dtype=torch.int64)
        losses = {}
        for where in ("cpu", "npu"):
            d = DEV if where == "npu" else torch.device("cpu")
            model = _mlp(2).to(d)
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            xs, ys = x.to(d), y.to(d)
            out = []
            ctx = no_fallback(self) if where == "npu" else contextlib.nullcontext()
            with ctx:
                for _ in range(8):
                    opt.zero_grad()
                    loss = F.cross_entropy(model(xs), ys)
                    loss.backward()
                    opt.step()
                    out.append(loss.item())
            losses[where] = out
        print(f"\n  digits MLP losses cpu {['%.5f' % v for v in losses['cpu']]}"
              f"\n                    npu {['%.5f' % v for v in losses['npu']]}")
        for c, n in zip(losses["cpu"], losses["npu"]):
            self.assertAlmostEqual(c, n, delta=1e-3 * max(1.0, abs(c)))
        self.assertLess(losses["npu"][-1], losses["npu"][0])


class Models(unittest.TestCase):
    def run_model(self, name, builder):
        torch.manual_seed(0)
        model = builder(weights=None).eval()
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            t0 = time.monotonic()
            want = model(x)
            cpu_s = time.monotonic() - t0
            dev = model.to(DEV)
            collect_fallbacks()
            got = dev(x.to(DEV)).cpu()  # first run: plans
            t0 = time.monotonic()
            got = dev(x.to(DEV)).cpu()
            dev_s = time.monotonic() - t0
            counts = npu_torch.fallback_counts()
            collect_fallbacks()
        MEASURED[name] = (1 / cpu_s, 1 / dev_s)
        print(f"\n  {name} 1x3x64x64: cpu (guest) {1 / cpu_s:.2f} img/s, npu {1 / dev_s:.2f} img/s,"
              f" max |err| {float((got - want).abs().max()):.3g}, fallbacks {counts}")
        scale = float(want.abs().max())
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3 * scale)
        self.assertEqual(counts, {}, "operators fell back to the CPU")

    def test_resnet18(self):
        import torchvision
        self.run_model("resnet18", torchvision.models.resnet18)

    def test_mobilenet_v2(self):
        import torchvision
        self.run_model("mobilenet_v2", torchvision.models.mobilenet_v2)


class Fallbacks(unittest.TestCase):
    def test_zz_fallback_report(self):
        # A fallback still works (an op without a device kernel), and is counted.
        collect_fallbacks()
        x = torch.randn(4, 6)
        got = torch.cumsum(x.to(DEV), 1).cpu()
        counts = npu_torch.fallback_counts()
        collect_fallbacks()
        close(self, got, torch.cumsum(x, 1))
        self.assertGreaterEqual(counts.get("aten::cumsum", 0) + counts.get("aten::cumsum.out", 0), 1,
                                counts)
        print("\n  operators that fell back during the session:",
              {k: v for k, v in sorted(SESSION_FALLBACKS.items())})


class JUnitResult(unittest.TextTestResult):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.records = []
        self._t0 = {}

    def startTest(self, test):
        self._t0[test.id()] = time.monotonic()
        super().startTest(test)

    def _rec(self, test, kind, text=""):
        self.records.append((test.id(), kind, text, time.monotonic() - self._t0.get(test.id(), time.monotonic())))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._rec(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._rec(test, "failure", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._rec(test, "error", self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "failure" if issubclass(err[0], test.failureException) else "error"
            self._rec(test, kind, f"{subtest}: " + self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._rec(test, "skipped", reason)


def write_junit(path, records, suite_name):
    # One testcase per test: subtest failures fold into their test.
    cases = {}
    for tid, kind, text, secs in records:
        c = cases.setdefault(tid, {"kind": "ok", "text": [], "time": 0.0})
        if kind != "ok" and c["kind"] in ("ok", "skipped"):
            c["kind"] = kind
        if text:
            c["text"].append(text)
        c["time"] = max(c["time"], secs)
    root = ET.Element("testsuites", name=suite_name, tests=str(len(cases)),
                      failures=str(sum(c["kind"] == "failure" for c in cases.values())),
                      errors=str(sum(c["kind"] == "error" for c in cases.values())),
                      skipped=str(sum(c["kind"] == "skipped" for c in cases.values())))
    suite = ET.SubElement(root, "testsuite", name=suite_name, tests=root.get("tests"),
                          failures=root.get("failures"), errors=root.get("errors"),
                          skipped=root.get("skipped"))
    for tid, c in cases.items():
        cls, _, name = tid.rpartition(".")
        tc = ET.SubElement(suite, "testcase", classname=cls, name=name, time=f"{c['time']:.3f}")
        if c["kind"] in ("failure", "error", "skipped"):
            el = ET.SubElement(tc, c["kind"], message=(c["text"][0].splitlines() or [""])[-1][:200]
                               if c["text"] else "")
            el.text = "\n".join(c["text"])
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--junit")
    ap.add_argument("--name", default="vm-torch")
    ap.add_argument("-k", action="append", default=[])
    args = ap.parse_args()
    loader = unittest.TestLoader()
    if args.k:
        loader.testNamePatterns = [f"*{k}*" for k in args.k]
    suite = unittest.TestSuite()
    for cls in (Runtime, RoundTrips, Kernels, Training, Models, Fallbacks):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    runner = unittest.TextTestRunner(verbosity=2, resultclass=JUnitResult, stream=sys.stdout)
    t0 = time.monotonic()
    result = runner.run(suite)
    print(f"npu_torch suite: {time.monotonic() - t0:.1f} s")
    if args.junit:
        write_junit(args.junit, result.records, args.name)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
