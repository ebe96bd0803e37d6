"""plots.py: the PNG pictures of bench/run (matplotlib, Debian's python3-matplotlib).

Each function takes the numbers a benchmark measured, writes one PNG into the run's image
directory (docs/img for a full run, $SBX_BUILD/bench-img for --quick) and records it on the
benchmark's Result. Without matplotlib the plots are skipped with one message; the numbers
in the tables are the result, the pictures only help reading them.
"""

from .common import log

_warned = False


def _plt():
    global _warned
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        if not _warned:
            log("matplotlib is not installed (apt-get install python3-matplotlib): skipping the plots")
            _warned = True
        return None


def _save(ctx, res, fig, plt, name, caption):
    ctx.img_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.img_dir / name
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    res.plots.append((path, caption))


def coldstart(ctx, res, ms):
    """strip plot of every run's time per tool, log scale, median marked"""
    plt = _plt()
    if not plt or not ms:
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(ms)
    for i, n in enumerate(names):
        xs = sorted(ms[n])
        jitter = [i + (j % 7 - 3) * 0.03 for j in range(len(xs))]
        ax.scatter(xs, jitter, s=12, alpha=0.6)
        ax.plot([xs[len(xs) // 2]] * 2, [i - 0.3, i + 0.3], color="black")
    ax.set_yticks(range(len(names)), names)
    ax.set_xscale("log")
    ax.set_xlabel("start + /bin/true + teardown (ms, log scale; bar = median)")
    ax.set_title("Cold start, every run")
    ax.grid(axis="x", which="both", alpha=0.3)
    _save(ctx, res, fig, plt, "coldstart.png", "Cold start: every run's time per tool")


def latency_cdf(ctx, res, lat_us):
    """CDF of round-trip latencies per path (µs)"""
    plt = _plt()
    if not plt or not lat_us:
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, xs in lat_us.items():
        xs = sorted(xs)
        ax.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("round trip of 64 bytes (µs, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title("Request latency through each path")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    _save(ctx, res, fig, plt, "portforward-latency.png", "Port-forward: latency CDF of the small round trips")


def fairness(ctx, res, series):
    """per case, Alice's and Bob's CPU use (cores) over time, Bob's promise dashed.
    series: [(title, times, alice_cores, bob_cores, promise)]"""
    plt = _plt()
    if not plt or not series:
        return
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.6 * len(series)), squeeze=False)
    for ax, (title, t, a, b, promise) in zip(axes[:, 0], series):
        if a is not None:
            ax.plot(t, a, label="Alice (stress-ng, every core)")
        ax.plot(t, b, label="Bob (fixed work, 1 thread)")
        ax.axhline(promise, color="gray", linestyle="--", label=f"Bob's promise ({promise:.2f} cores)")
        ax.set_ylim(0, max([promise * 1.2, 1.2] + list(a or []) + list(b)) * 1.05)
        ax.set_ylabel("cores")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[-1, 0].set_xlabel("seconds")
    _save(ctx, res, fig, plt, "fairness.png", "Fairness: CPU use over time (cgroup CPU accounting, 100 ms samples)")
