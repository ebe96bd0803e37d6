"""report.py: the markdown bench/run prints and writes.

One summary table (benchmark, measurement, sbx, peers, ratio, target, met/missed), then one
section per benchmark with its detail tables and plots, then the machine. The whole block is
written between the markers in the output file (docs/performance.md); text outside the
markers (the analysis people write) is kept.
"""

import os

from .common import cell, table

BEGIN, END = "<!-- bench/run: begin -->", "<!-- bench/run: end -->"


def summary(results):
    rows = []
    for r in results:
        if r.sbx_error and not r.rows:
            rows.append((r.title.split(":")[0], "-", f"failed: {r.sbx_error}", "-", "-", "-", "n/a"))
        for i, row in enumerate(r.rows):
            rows.append((r.title.split(":")[0] if i == 0 else "", *row))
        if r.sbx_error and r.rows:
            rows.append(("", "(rest)", f"failed: {r.sbx_error}", "-", "-", "-", "n/a"))
    return table(["benchmark", "measurement", "sbx", "peer(s)", "ratio", "target", "met/missed"], rows)


def render(results, machine, versions, output, quick):
    out = [f"{BEGIN}", "## Results" + (" (--quick: one run each, small sizes; a smoke check, not numbers to quote)"
                                         if quick else ""), "", summary(results), ""]
    for r in results:
        out += [f"### {r.title}", ""]
        if r.sbx_error:
            out += [f"sbx could not be measured: {cell(r.sbx_error)}", ""]
        for d in r.details:
            out += [d, ""]
        for path, caption in r.plots:
            rel = os.path.relpath(path, output.parent)
            out += [f"![{caption}]({rel})", ""]
        out += [f"(benchmark took {r.seconds:.0f} s)", ""]
    out += ["### Machine", ""] + [f"- {k}: {v}" for k, v in machine] + [f"- versions: {versions}", "", END, ""]
    return "\n".join(out)


def write(path, block):
    try:
        text = path.read_text()
    except OSError:
        text = "# sbx performance\n\nNumbers below are written by `bench/run`.\n\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
