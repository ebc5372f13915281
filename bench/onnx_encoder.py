"""ONNX Runtime vs torch for the span model's BERT encoder (run: .venv/bin/python bench/onnx_encoder.py WHAT).

WHAT: export | export-ts | bench [ROUNDS] | e2e.  Findings: bench/results/onnx_encoder.md (written by hand from its output).
Needs onnxruntime==1.31.1 onnx==1.23.2 onnxscript==0.7.2 (bench-only, not project dependencies).
ONNX files are written to /tmp/bioner-onnx (never into the repo).
"""
from __future__ import annotations

import copy
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
import torch  # noqa: E402

from bioner import corpora  # noqa: E402
from bioner.engines.span import SpanModel  # noqa: E402

MODEL = str(ROOT / "models" / "bioner-span-minilm")
OUT = Path("/tmp/bioner-onnx")
LABELS = {"Disease": "disease"}
FILES = {"fp32": "bert.onnx", "opt": "bert_opt.onnx", "int8": "bert_int8.onnx", "opt_int8": "bert_opt_int8.onnx",
         # TorchScript exporter + eager attention: the graph ORT's fuser knows (Attention -> QAttention when quantized)
         "ts": "ts.onnx", "ts_opt": "ts_opt.onnx", "ts_opt_int8": "ts_opt_int8.onnx"}


def load(threads: int = 1) -> SpanModel:
    return SpanModel.load(MODEL, threads=threads)


def bert(m: SpanModel) -> torch.nn.Module:
    """The HF BertModel inside gliner's Transformer wrapper (input_ids, attention_mask -> hidden states)."""
    return m.gliner.model.token_rep_layer.bert_layer.model


class _Last(torch.nn.Module):
    """Export wrapper: plain tensors in, last hidden state out."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).last_hidden_state


def batches(m: SpanModel, n_docs: int | None = None, batch_size: int = 8) -> list[dict[str, torch.Tensor]]:
    """Encoder inputs exactly as predict() builds them: one window per sentence, length-sorted, batch 8."""
    docs = list(corpora.load("ncbi-disease", "test"))[:n_docs]
    wins = [w for i, d in enumerate(docs) for w in m.windows(d, LABELS, doc_index=i)]
    wins.sort(key=lambda w: len(w.words))
    coll = m.gliner.create_collator()
    out = []
    for b in range(0, len(wins), batch_size):
        batch = wins[b : b + batch_size]
        inp = coll([{"tokenized_text": list(w.words), "ner": None} for w in batch], entity_types=[p for _, p in batch[0].labels])
        out.append({"input_ids": inp["input_ids"], "attention_mask": inp["attention_mask"]})
    return out


def export() -> None:
    OUT.mkdir(exist_ok=True)
    m = load()
    model = _Last(bert(m)).eval()
    sample = batches(m, 5)[3]
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    path = OUT / FILES["fp32"]
    t = time.perf_counter()
    try:
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"]), str(path), dynamo=True, opset_version=18,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}})
        print(f"dynamo export ok ({time.perf_counter() - t:.1f} s)")
    except Exception as e:  # fall back to the TorchScript exporter
        print(f"dynamo export failed: {type(e).__name__}: {str(e)[:300]}")
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"]), str(path), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "last_hidden_state": {0: "batch", 1: "seq"}})
        print("torchscript export ok")
    _optimize(path, OUT / FILES["opt"], m)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for src, dst in (("fp32", "int8"), ("opt", "opt_int8")):
        if (OUT / FILES[src]).exists():
            try:
                quantize_dynamic(str(OUT / FILES[src]), str(OUT / FILES[dst]), weight_type=QuantType.QInt8)
                print(f"quantized {src} -> {dst}")
            except Exception as e:
                print(f"quantize {src} failed: {type(e).__name__}: {str(e)[:300]}")
    for k, f in FILES.items():
        if (OUT / f).exists():
            print(k, f"{(OUT / f).stat().st_size / 1e6:.1f} MB", _op_counts(OUT / f))


def export_ts() -> None:
    OUT.mkdir(exist_ok=True)
    m = load()
    b = bert(m)
    b.set_attn_implementation("eager")
    model = _Last(b).eval()
    sample = batches(m, 5)[3]
    path = OUT / FILES["ts"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"]), str(path), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "last_hidden_state": {0: "batch", 1: "seq"}})
    print("torchscript export ok")
    _optimize(path, OUT / FILES["ts_opt"], m)
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # shape inference cannot see through the fused com.microsoft ops: say the untyped tensors are float
    quantize_dynamic(str(OUT / FILES["ts_opt"]), str(OUT / FILES["ts_opt_int8"]), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    for k in ("ts", "ts_opt", "ts_opt_int8"):
        print(k, f"{(OUT / FILES[k]).stat().st_size / 1e6:.1f} MB", _op_counts(OUT / FILES[k]))


def _optimize(src: Path, dst: Path, m: SpanModel) -> None:
    """ORT's BERT fusion (Attention, SkipLayerNorm, BiasGelu, EmbedLayerNorm) where its patterns match."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        cfg = bert(m).config
        opt = optimize_model(str(src), model_type="bert", num_heads=cfg.num_attention_heads, hidden_size=cfg.hidden_size, opt_level=1)
        print("fusion stats:", opt.get_fused_operator_statistics())
        opt.save_model_to_file(str(dst))
    except Exception as e:
        print(f"optimizer failed: {type(e).__name__}: {str(e)[:300]}")


def _op_counts(path: Path) -> dict[str, int]:
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:12])


def session(path: Path) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _ort_run(sess: Any, inp: dict[str, torch.Tensor]) -> torch.Tensor:
    names = {i.name for i in sess.get_inputs()}
    feed = {k: v.numpy() for k, v in inp.items() if k in names}
    return torch.from_numpy(sess.run(None, feed)[0])


def variants(m: SpanModel) -> dict[str, Any]:
    """name -> callable(inputs) -> hidden states (B, T, H); all single-threaded."""
    fp32 = bert(m).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(fp32), {torch.nn.Linear}, dtype=torch.qint8).eval()

    def torch_fn(model: torch.nn.Module) -> Any:
        def run(inp: dict[str, torch.Tensor]) -> torch.Tensor:
            with torch.inference_mode():
                return model(input_ids=inp["input_ids"], attention_mask=inp["attention_mask"]).last_hidden_state
        return run

    out: dict[str, Any] = {"torch_fp32": torch_fn(fp32), "torch_int8": torch_fn(q)}
    for k, f in FILES.items():
        if (OUT / f).exists():
            s = session(OUT / f)
            out[f"ort_{k}"] = lambda inp, s=s: _ort_run(s, inp)
    return out


def bench(rounds: int = 7) -> None:
    torch.set_num_threads(1)
    m = load()
    data = batches(m)
    # a spread of the test set's length-sorted batches (every 10th), so each round is short
    sample = data[::10]
    lens = [int(b["attention_mask"].shape[1]) for b in sample]
    print(f"{len(data)} batches in the test set; timing {len(sample)} of them, padded length median {statistics.median(lens)}, "
          f"min {min(lens)}, max {max(lens)} sub-words (batch 8)")
    vs = variants(m)
    # accuracy: max abs diff on real (unpadded) positions vs torch fp32, over all sampled batches
    ref = [vs["torch_fp32"](b) for b in sample]
    for name, fn in vs.items():
        d, c = [], []
        for b, r in zip(sample, ref, strict=True):
            keep = b["attention_mask"].bool()
            h = fn(b)
            d.append((h - r)[keep].abs().amax(-1))
            c.append(torch.nn.functional.cosine_similarity(h[keep], r[keep], dim=-1))
        dd, cc = torch.cat(d), torch.cat(c)
        print(f"{name:14s} max|diff| {dd.max():.4g} (per-token max: median {dd.median():.3g})  "
              f"token cosine: min {cc.min():.4f}, 1st pct {cc.quantile(0.01):.4f}, median {cc.median():.5f}")
    for fn in vs.values():  # warm-up
        for b in sample[:3]:
            fn(b)
    times: dict[str, list[float]] = {k: [] for k in vs}
    for _ in range(rounds):  # interleaved: A B C D A B C D ... (another job shares the cores)
        for name, fn in vs.items():
            t = time.perf_counter()
            for b in sample:
                fn(b)
            times[name].append((time.perf_counter() - t) * 1000 / len(sample))
    base = statistics.median(times["torch_int8"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:14s} median {med:7.2f} ms/batch  (min {min(ts):7.2f}, max {max(ts):7.2f}; "
              f"torch_fp32/x {statistics.median(times['torch_fp32']) / med:4.2f}, torch_int8/x {base / med:4.2f})")


class OrtBert(torch.nn.Module):
    """Stands in for the HF BertModel inside gliner's Transformer: same call, ``output[0]`` is the hidden states."""

    def __init__(self, path: Path, config: Any) -> None:
        super().__init__()
        self.sess = session(path)
        self.config = config
        self._dummy = torch.nn.Parameter(torch.zeros(0), requires_grad=False)  # so next(parameters()) has a dtype/device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> tuple[torch.Tensor]:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return (_ort_run(self.sess, {"input_ids": input_ids, "attention_mask": attention_mask}),)


def e2e(which: str = "opt_int8") -> None:
    """Strict F1 and time on the NCBI-disease test set: torch fp32, torch int8 (SpanModel.quantize), an ORT int8 encoder."""
    from bioner.evaluate import evaluate

    torch.set_num_threads(1)
    gold = list(corpora.load("ncbi-disease", "test"))
    ref = load().quantize()
    ort_m = load()
    trl = ort_m.gliner.model.token_rep_layer
    trl.bert_layer.model = OrtBert(OUT / FILES[which], trl.bert_layer.model.config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the projection Linear gets torch int8 as in SpanModel.quantize
        trl.projection = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(trl.projection), {torch.nn.Linear}, dtype=torch.qint8)[0]
    models = {"torch_fp32": load(), "torch_int8": ref, f"ort_{which}": ort_m}
    res: dict[str, tuple[list[float], Any]] = {k: ([], None) for k in models}
    for mm in models.values():
        mm.predict(gold[:3], LABELS)  # warm-up
    for _ in range(2):  # interleaved
        for name, mm in models.items():
            t = time.perf_counter()
            pred = mm.predict(gold, LABELS)
            res[name][0].append(time.perf_counter() - t)
            res[name] = (res[name][0], pred)
    for name, (ts, pred) in res.items():
        f1 = evaluate(gold, pred).strict.micro.f1
        print(f"{name:14s} strict micro F1 {f1:.4f}  times {[round(x, 1) for x in ts]} s")
    def spans(docs: list[Any]) -> set[tuple[int, int, int, str]]:
        return {(i, e.start, e.end, e.label) for i, d in enumerate(docs) for e in d.entities}

    fp = spans(res["torch_fp32"][1])
    for name, (_, pred) in res.items():
        p = spans(pred)
        print(f"{name:14s} {len(p)} mentions, {len(p ^ fp)} differ from torch_fp32 (symmetric difference)")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "bench"
    if what == "export":
        export()
    elif what == "export-ts":
        export_ts()
    elif what == "bench":
        bench(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    elif what == "e2e":
        e2e(sys.argv[2] if len(sys.argv) > 2 else "opt_int8")
    else:
        raise SystemExit(__doc__)
