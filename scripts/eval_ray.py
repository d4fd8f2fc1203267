#!/usr/bin/env python3
"""Runs `codeact eval` as shards on Ray and merges them into one summary.

Each shard is a Ray task that runs `codeact eval ... --shard I/N` on a node
that has `codeact` (at the path given, or on its PATH) and returns the
shard's results.jsonl; the driver writes each into OUT/shard-I and runs
`codeact eval report` over them into OUT. Trial folders (transcripts,
pictures) stay on the nodes, under --node-dir.

    # on this machine, Ray started here with 2 CPUs:
    .eval/venv/bin/python scripts/eval_ray.py --shards 4 --out evals/ray -- --oracle --seeds 3
    # on a cluster (every node has codeact): ray job submit --address http://HEAD:8265 \\
    #   --working-dir . -- python scripts/eval_ray.py --address auto --shards 16 \\
    #   --out evals/ray -- --llm openai:MODEL --action-format code,json,text

Arguments after `--` go to `codeact eval` as they are.
"""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

# Ray reports usage to its makers unless told not to; nothing leaves this machine.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402


@ray.remote(num_cpus=1)
def run_shard(codeact, eval_args, index, count, node_dir):
    """Runs one shard; returns (its results.jsonl text, what it printed)."""
    out = pathlib.Path(node_dir or tempfile.mkdtemp(prefix="codeact-shard-")) / f"shard-{index}"
    cmd = [codeact, "eval", *eval_args, "--workers", "1", "--shard", f"{index}/{count}", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    results = out / "results.jsonl"
    text = results.read_text() if results.exists() else ""
    return text, done.stdout[-2000:] + done.stderr[-2000:]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", help="a Ray cluster to join (auto: the one this job runs in); default: start Ray here")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the Ray started here (default 2)")
    parser.add_argument("--shards", type=int, required=True, help="how many shards (Ray tasks)")
    parser.add_argument("--out", required=True, help="where the merged results go")
    parser.add_argument("--codeact", default=shutil.which("codeact") or "codeact", help="the codeact binary on the nodes")
    parser.add_argument("--node-dir", help="where shards keep their trial folders on the nodes (default: a temporary folder)")
    parser.add_argument("eval_args", nargs=argparse.REMAINDER, help="-- then the arguments of codeact eval")
    args = parser.parse_args()
    eval_args = args.eval_args[1:] if args.eval_args[:1] == ["--"] else args.eval_args
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    if args.address:
        ray.init(address=args.address)
    else:
        # Everything on loopback: no dashboard, the node on 127.0.0.1.
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1")
    futures = [run_shard.remote(args.codeact, eval_args, i, args.shards, args.node_dir) for i in range(1, args.shards + 1)]
    out = pathlib.Path(args.out)
    shard_dirs = []
    failed = 0
    for i, (results, printed) in enumerate(ray.get(futures), start=1):
        d = out / f"shard-{i}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "results.jsonl").write_text(results)
        (d / "log.txt").write_text(printed)
        if results.strip():
            shard_dirs.append(str(d))
        else:
            failed += 1
            print(f"shard {i} returned no results:\n{printed}", file=sys.stderr)
    ray.shutdown()
    if not shard_dirs:
        sys.exit("no shard returned results")
    merged = subprocess.run([args.codeact, "eval", "report", *shard_dirs, "--out", str(out)])
    sys.exit(merged.returncode or (1 if failed else 0))


if __name__ == "__main__":
    main()
