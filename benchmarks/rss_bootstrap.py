"""One bootstrap run; prints JSON with seconds and this process's peak RSS.

    python benchmarks/rss_bootstrap.py --set chat --n 1000000 --stream-to /tmp/dist.f32
"""

import argparse
import json
import resource
import time
import warnings

import swjax

parser = argparse.ArgumentParser()
parser.add_argument("--set", default="chat")
parser.add_argument("--n", type=int, default=1_000_000)
parser.add_argument("--stream-to", default=None)
parser.add_argument("--batch-size", type=int, default=None)
args = parser.parse_args()
warnings.simplefilter("ignore")
t = time.perf_counter()
res = swjax.bootstrap(args.set, n=args.n, seed=0, stream_to=args.stream_to, batch_size=args.batch_size, device="cpu")
seconds = time.perf_counter() - t
print(json.dumps({
    "set": args.set, "n": args.n, "stream_to": args.stream_to, "seconds": round(seconds, 1),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "MT_Bench_low_high": [float(res.table.loc[b, c]) for b in res.table.index[:1] for c in ("low", "high")],
}))
