"""Load test of `mllm serve`: 32 concurrent clients, batching vs one-at-a-time.

The server runs as a real `mllm serve` process on loopback (so client and server do not
share one interpreter); the clients are one asyncio loop in this process, each sending
`--requests` chat completions one after another (a world test image as a PNG data URL +
its question, greedy, `--max-new-tokens`). The same server code runs twice, side by
side: with `--max-batch-size` (micro-batching) and with `--max-batch-size 1` (one
request at a time); `--rounds` load rounds alternate between the two, so a change in
the machine's other load during the run affects both alike. Reported: requests/s,
p50/p99 latency and failures of the batched server, and the batching gain = batched
requests/s ÷ one-at-a-time requests/s.

    python benchmarks/serve_load.py --model runs/demo/train/model --data runs/demo/world
    python benchmarks/serve_load.py            # random demo-shaped model + small world

Writes `benchmarks/results/serve_load.{json,md}` (`--dry-run` only prints).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

WARMUP_REQUESTS = 4


def build_random_checkpoint(out: Path, texts: list[str]) -> Path:
    """A random native checkpoint shaped like the packaged demo config (`configs/demo.yaml`),
    so a run without `--model` costs about what serving the trained demo model costs."""
    import torch

    from mllmkit.data.image_transform import CLIP_MEAN, CLIP_STD
    from mllmkit.data.processor import Processor
    from mllmkit.data.tokenizer import train_tokenizer
    from mllmkit.demo import default_config_path
    from mllmkit.models import MLLM, save_model
    from mllmkit.train.build import model_config
    from mllmkit.train.config import TrainConfig

    demo = TrainConfig.from_yaml(default_config_path())
    tok = train_tokenizer(texts, vocab_size=demo.tokenizer.vocab_size)
    image_size = demo.model["vision"]["image_size"]
    probe = Processor(tok, "mllmkit", image_size, CLIP_MEAN, CLIP_STD, 1)
    cfg = model_config(
        demo.model,
        vocab_size=len(tok),
        image_token_id=probe.image_token_id,
        pad_token_id=probe.pad_token_id,
        eos_token_id=probe.eos_token_id,
        tokenizer=tok,
    )
    proc = Processor(tok, "mllmkit", image_size, CLIP_MEAN, CLIP_STD, cfg.image_tokens_per_image)
    torch.manual_seed(0)
    save_model(MLLM(cfg), out)
    proc.save_pretrained(out)
    return out


def load_prompts(data: Path, limit: int) -> list[tuple[str, str]]:
    """(PNG data URL, question) pairs from a world's `test/questions.jsonl` (one image each)."""
    path = data / "test" / "questions.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} not found: --data must be a world folder (mllm world generate)")
    urls: dict[str, str] = {}
    prompts = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if len(row["images"]) != 1 or row["format"] != "short":
                continue
            rel = row["images"][0]
            if rel not in urls:
                png = (path.parent / rel).read_bytes()
                urls[rel] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            prompts.append((urls[rel], row["question"]))
            if len(prompts) >= limit:
                break
    if not prompts:
        raise SystemExit(f"{path}: no single-image short-answer questions")
    return prompts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`mllm serve` in a child process; stopped (SIGTERM, then kill) on exit."""

    def __init__(self, model: str, max_batch_size: int, max_wait_ms: float, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.cmd = [
            sys.executable, "-c", "from mllmkit.cli import main; main()", "serve",
            "--model", model, "--port", str(self.port), "--log-level", "warning",
            "--max-batch-size", str(max_batch_size), "--max-wait-ms", str(max_wait_ms),
            "--max-queue", "4096",
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise SystemExit(f"server did not start within 300 s:\n{self.log.read_text()}")

    def health(self) -> dict[str, Any]:
        return httpx.get(self.url + "/health", timeout=10).json()

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


def chat_body(prompt: tuple[str, str], max_tokens: int) -> dict[str, Any]:
    """One chat-completions request: the image as a data URL, then the question."""
    image, question = prompt
    content = [
        {"type": "image_url", "image_url": {"url": image}},
        {"type": "text", "text": question},
    ]
    return {
        "model": "served",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }


async def run_load(
    server: ServerProcess,
    prompts: list[tuple[str, str]],
    clients: int,
    requests: int,
    max_tokens: int,
    warmup: int = 0,
) -> dict[str, Any]:
    """`clients` concurrent clients, each sending `requests` requests in turn.

    Returns raw figures (latencies in seconds, failures, wall seconds, batch sizes the
    server reported for this round); `warmup` untimed requests go first, one by one.
    """
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=server.url, timeout=600, limits=limits) as client:

        async def send(k: int) -> None:
            start = time.perf_counter()
            try:
                body = chat_body(prompts[k % len(prompts)], max_tokens)
                r = await client.post("/v1/chat/completions", json=body)
                if r.status_code != 200:
                    failures.append(f"HTTP {r.status_code}: {r.text[:200]}")
                    return
                r.json()["choices"][0]["message"]["content"]
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                return
            latencies.append(time.perf_counter() - start)

        async def one_client(i: int) -> None:
            for j in range(requests):
                await send(i * requests + j)

        for k in range(warmup):  # first calls pay one-off costs: not timed
            await send(k)
        latencies.clear()
        failures.clear()
        before = server.health()
        start = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        seconds = time.perf_counter() - start
        after = server.health()
    sizes = Counter({int(k): v for k, v in after["sizes"].items()})
    sizes.subtract({int(k): v for k, v in before["sizes"].items()})
    return {"latencies": latencies, "failures": failures, "seconds": seconds, "sizes": sizes}


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarize(rounds: list[dict[str, Any]], max_batch_size: int) -> dict[str, Any]:
    """Pool the rounds of one server: requests/s over all rounds, latency percentiles."""
    latencies = sorted(x for r in rounds for x in r["latencies"])
    failures = [f for r in rounds for f in r["failures"]]
    seconds = sum(r["seconds"] for r in rounds)
    sizes: Counter[int] = Counter()
    for r in rounds:
        sizes.update(r["sizes"])
    batches = sum(v for v in sizes.values() if v > 0)
    return {
        "max_batch_size": max_batch_size,
        "requests": len(latencies) + len(failures),
        "seconds": round(seconds, 3),
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * percentile(latencies, 50) if latencies else None,
        "p99_ms": 1000 * percentile(latencies, 99) if latencies else None,
        "failed": len(failures),
        "failures": failures[:5],
        "rounds_rps": [round(len(r["latencies"]) / r["seconds"], 2) for r in rounds],
        "batches": batches,
        "mean_batch": sum(k * v for k, v in sizes.items()) / max(1, batches),
        "batch_sizes": {str(k): v for k, v in sorted(sizes.items()) if v > 0},
    }


def measure(model: str, prompts: list, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    """Both servers up at once; rounds alternate between them so that a change in the
    machine's load during the run affects both alike."""
    sizes = {"batched": args.max_batch_size, "one_at_a_time": 1}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in sizes}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(
                ServerProcess(model, size, args.max_wait_ms, logs / f"{name}.log")
            )
            for name, size in sizes.items()
        }
        for i in range(args.rounds):
            for name, server in servers.items():
                load = run_load(
                    server,
                    prompts,
                    args.clients,
                    args.requests,
                    args.max_new_tokens,
                    warmup=WARMUP_REQUESTS if i == 0 else 0,
                )
                rounds[name].append(asyncio.run(load))
    return {name: summarize(rounds[name], sizes[name]) for name in sizes}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Load-test mllm serve (batching vs one by one).")
    parser.add_argument("--model", default=None, help="checkpoint (default: random weights)")
    parser.add_argument("--data", type=Path, default=None, help="world folder (default: small)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4, help="requests per client per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per server")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=10.0)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write results")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]  # other work on the machine skews absolute numbers
    with tempfile.TemporaryDirectory(prefix="serve_load_") as tmp:
        root = Path(tmp)
        data = args.data
        if data is None:
            from mllmkit.world.generate import generate_world

            data = root / "world"
            generate_world(data, n_train=8, n_test=32, seed=0, progress=False, workers=1)
        prompts = load_prompts(data, limit=args.clients * args.requests)
        model = args.model
        if model is None:
            model = str(build_random_checkpoint(root / "model", [q for _, q in prompts]))
        results = measure(model, prompts, args, root)
    batched, single = results["batched"], results["one_at_a_time"]

    gain = batched["rps"] / single["rps"] if single["rps"] else None
    figures: dict[str, Any] = {
        "clients": args.clients,
        "rps": round(batched["rps"], 2),
        "p50_ms": None if batched["p50_ms"] is None else round(batched["p50_ms"], 1),
        "p99_ms": None if batched["p99_ms"] is None else round(batched["p99_ms"], 1),
        "failed": batched["failed"] + single["failed"],
        "batching_gain": None if gain is None else round(gain, 2),
        "model": args.model or "random weights, demo-shaped",
        "requests_per_client": args.requests * args.rounds,
        "rounds": args.rounds,
        "max_new_tokens": args.max_new_tokens,
        "max_wait_ms": args.max_wait_ms,
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_start": round(load_before, 2),
        "batched": batched,
        "one_at_a_time": single,
    }
    rows = [
        "| server | max batch | requests/s | p50 ms | p99 ms | mean batch | failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in (("micro-batching", batched), ("one at a time", single)):
        rows.append(
            f"| {name} | {r['max_batch_size']} | {r['rps']:.2f} | {_ms(r['p50_ms'])} | "
            f"{_ms(r['p99_ms'])} | {r['mean_batch']:.1f} | {r['failed']} |"
        )
    table = (
        f"# mllm serve under load: {args.clients} concurrent clients\n\n"
        f"Model: {figures['model']}; {figures['requests_per_client']} requests per client "
        f"({args.rounds} rounds alternating between the two servers); "
        f"{args.max_new_tokens} new tokens per answer; {os.cpu_count()} CPU cores; "
        f"server processes and clients on loopback; 1-minute load average {load_before:.2f} "
        "before the run (other work on the machine lowers both rates).\n\n"
        + "\n".join(rows)
        + f"\n\nBatching gain (requests/s, same run): **{figures['batching_gain']}x**."
    )
    print(table)
    if args.dry_run:
        print(json.dumps(figures, indent=2))
    else:
        print(f"wrote {write_result('serve_load', figures, table)}")


if __name__ == "__main__":
    main()
