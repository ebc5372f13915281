"""Run l2: the shipped selector (run l1) trained further on the generative engine's real errors on BC2GM.

l1 learned the span engine's false positives only. The generative bc2gm-tags adapter errs otherwise (species,
chemicals, cell lines and boundaries called genes), and on its BC2GM candidates l1 lowered F1. l2 starts from l1's
weights (``bioner train selector --init``) and learns from bc2gm-tags's and the span model's predictions on 1,000 BC2GM
training sentences, with l1's NCBI-disease and BC5CDR training documents kept in the mix (gold spans and their
perturbations; no engine runs on them). Then its rules are chosen again: the span engine's on the dev halves l1's
was chosen on, the generative engine's on the shipped adapter's NCBI-disease dev predictions.

    .venv/bin/python scripts/train_selector_l2.py            # every step; each one resumes or skips what is done

Steps: ``files`` (samples as files), ``decode`` (bc2gm-tags on the training sentences, two one-thread processes, through
bench/selector.py's decoding path, into the cache ``bioner train selector`` reads), ``train`` (about 30 minutes at
11 s per step on one thread), ``rules``. Needs the bc2gm-tags adapter (``bench/llm_engines.py train bc2gm-tags``) and its
dev predictions (``bench/selector.py llm-dev bc2gm-tags --dev-docs bc2gm=300``), and for the ``llm`` rule
ncbi-tags's (``bench/selector.py llm-dev ncbi-tags --dev-docs ncbi-disease=100``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

OUT = Path("runs/selector/l2")  # relative: the part names (and so the cache names) are these paths as given
ADAPTER = "runs/llm/bc2gm-tags/adapter"
TRAIN, DEV = OUT / "bc2gm-train1000.jsonl", OUT / "bc2gm-dev300.jsonl"
REPLAY = [OUT / "ncbi-disease-train20.jsonl", OUT / "bc5cdr-train20.jsonl"]
SPAN_DEV = OUT / "span-dev"
SPAN_DEV_SAMPLES = (("ncbi-disease", 200), ("bc5cdr", 200), ("bc2gm", 1000))  # l1's --dev-sample; its rule: the second halves
BIONER = str(ROOT / ".venv" / "bin" / "bioner")
# l1, release 1 of models/bioner-selector-gemma3-lora, from the last commit that shipped it (that folder now holds l2;
# l2 itself was started from it there, so its record names that folder)
L1_COMMIT, L1 = "e90dece", Path("runs/selector/l1-release1")


def _llm_cache(path: Path, split: str) -> Path:
    from bioner.cli.train_selector import SelectorRunOptions, _prediction_file

    return _prediction_file(OUT, str(path), split, "llm", SelectorRunOptions(output=str(OUT), adapter=ADAPTER), None)


def files() -> None:
    import selector as bench

    import bioner.io
    from bioner import corpora
    from bioner.cli.train import _sample

    OUT.mkdir(parents=True, exist_ok=True)
    L1.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_config.json", "adapter_model.safetensors", "bioner_selector.json"):
        with open(L1 / name, "wb") as f:
            subprocess.run(["git", "show", f"{L1_COMMIT}:models/bioner-selector-gemma3-lora/{name}"], stdout=f, check=True, cwd=ROOT)
    bioner.io.write(_sample(list(corpora.load("bc2gm", "train")), 1000, 0), TRAIN, "jsonl")  # as --train-sample bc2gm=1000 draws
    bench.DEV_N["bc2gm"] = 300  # the dev sample of bench/selector.py's --dev-docs bc2gm=300
    bioner.io.write(bench.dev_docs("bc2gm"), DEV, "jsonl")
    for path, name in zip(REPLAY, ("ncbi-disease", "bc5cdr"), strict=True):
        bioner.io.write(_sample(list(corpora.load(name, "train")), 20, 0), path, "jsonl")  # l1's --train-sample 20
    bench_dev = bench.CACHE / f"bc2gm-dev300-llm-bc2gm-tags-{bench._adapter_id('bc2gm-tags')}.jsonl"
    if not bench_dev.is_file():
        raise SystemExit(f"missing {bench_dev}: run `bench/selector.py llm-dev bc2gm-tags --dev-docs bc2gm=300` first")
    _llm_cache(DEV, "dev").parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(bench_dev, _llm_cache(DEV, "dev"))
    SPAN_DEV.mkdir(parents=True, exist_ok=True)
    for name, n in SPAN_DEV_SAMPLES:
        bioner.io.write(_sample(list(corpora.load(name, "dev")), n, 0)[1::2], SPAN_DEV / f"{name}-dev.jsonl", "jsonl")


def decode_part(k: int, parts: int) -> None:
    import selector as bench
    import torch

    import bioner.io

    torch.set_num_threads(1)
    docs = list(bioner.io.read(TRAIN, "jsonl"))[k::parts]
    out: list = []
    for i in range(0, len(docs), 50):
        out += bench._llm_predict("bc2gm-tags", "bc2gm", docs[i:i + 50])
        print(f"part {k}: {len(out)}/{len(docs)}", flush=True)
    bioner.io.write(out, OUT / f"decode-{k}.jsonl", "jsonl")


def decode() -> None:
    import bioner.io

    target = _llm_cache(TRAIN, "train")
    if target.is_file():
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, __file__, "decode-part", str(k), "2"], env=env) for k in range(2) if not (OUT / f"decode-{k}.jsonl").is_file()]
    if any(p.wait() for p in procs):
        raise SystemExit("decoding failed")
    by_id = {d.id: d for k in range(2) for d in bioner.io.read(OUT / f"decode-{k}.jsonl", "jsonl")}
    bioner.io.write([by_id[d.id] for d in bioner.io.read(TRAIN, "jsonl")], target, "jsonl")  # the training file's order


def train() -> None:
    subprocess.run([BIONER, "train", "selector", "--init", str(L1),
                    "--train-file", str(TRAIN), *[a for p in REPLAY for a in ("--train-file", str(p))], "--dev-file", str(DEV),
                    "--engine", "llm", "--engine", "span", "--adapter", ADAPTER, "--engine-threshold", "0.3",
                    "--engine-sample", "0", "--engine-sample", f"{TRAIN}=1000", "--per-gold", "1", "--lr", "1e-4", "--head-lr", "1e-4",
                    "--threads", "1", "-o", str(OUT)], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=ROOT)


def rules() -> None:
    import bioner.io
    from bioner import corpora
    from bioner.cli.train_selector import SelectorRunOptions, engine_predictions

    pairs: list[str] = []
    for name, _ in SPAN_DEV_SAMPLES:  # the shipped span model's predictions, at its own threshold, as at l1's training
        gold, pred = SPAN_DEV / f"{name}-dev.jsonl", SPAN_DEV / f"{name}-dev.span.jsonl"
        engine_predictions(list(bioner.io.read(gold, "jsonl")), corpora.get(name).natural_labels, "span", SelectorRunOptions(threads=1), pred)
        pairs += ["--gold", str(gold), "--pred", str(pred)]
    selector = OUT / "selector"
    subprocess.run([BIONER, "train", "selector-rule", "--selector", str(selector), "--engine", "span", *pairs, "--threads", "1",
                    "-o", str(selector)], check=True, cwd=ROOT)
    subprocess.run([sys.executable, str(ROOT / "bench" / "selector.py"), "calibrate-llm", "ncbi-tags", "--dev-docs", "ncbi-disease=100",
                    "--selector", str(selector)], check=True, cwd=ROOT)


if __name__ == "__main__":
    os.chdir(ROOT)
    if sys.argv[1:2] == ["decode-part"]:
        decode_part(int(sys.argv[2]), int(sys.argv[3]))
    else:
        for step in sys.argv[1:] or ["files", "decode", "train", "rules"]:
            {"files": files, "decode": decode, "train": train, "rules": rules}[step]()
