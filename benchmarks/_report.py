"""Tables of bench_learning.py: markdown rows, the summary, a comparison with a run."""

import json

import numpy as np

HEADER = [
    "dataset",
    "problem",
    "metric",
    "cell",
    "skrnn mean ± sd",
    "fit s",
    "epochs",
    "ConvW",
    "floor",
    "best baseline",
    "skrnn ≥ best",
    "published DL",
    "baselines",
]


def fmt(value, task):
    if value is None or not np.isfinite(value):
        return "n/a"
    if task.metric == "accuracy":
        return f"{value:.3f}"
    return f"{value:.4g}"


def table_cells(row, task):
    """The markdown cells of one row."""
    if task is None:
        return [row["dataset"], row.get("error", "")] + [""] * (len(HEADER) - 2)
    seeds = row["seeds"]
    errors = sorted({r["error"] for r in seeds if "error" in r})
    if row["score_mean"] is None:
        skrnn = "error: " + "; ".join(errors)[:200]
    else:
        skrnn = f"{fmt(row['score_mean'], task)} ± {fmt(row['score_sd'], task)}"
        if errors:
            skrnn += f" ({len(errors)} failed: {errors[0][:80]})"
    epochs = [str(r["n_iter"]) for r in seeds if "n_iter" in r]
    conv = sum(r["convergence_warnings"] for r in seeds)
    other = sum(r["n_other_warnings"] for r in seeds)
    fit_s = row["fit_s_mean"]
    name, value = row["best_baseline"]
    beats = {True: "yes", False: "**no**"}.get(row.get("beats_best"), "n/a")
    baselines = row.get("baselines") or {}
    listed = ", ".join(f"{k} {fmt(v, task)}" for k, v in baselines.items())
    if "baseline_error" in row:
        listed = row["baseline_error"][:120]
    return [
        row["dataset"],
        task.shape,
        task.metric,
        row["cell"],
        skrnn,
        "n/a" if fit_s is None else f"{fit_s:.1f}",
        "/".join(epochs),
        f"{conv}" + (f" (+{other} other)" if other else ""),
        fmt(row.get("floor"), task),
        "n/a" if name is None else f"{name} {fmt(value, task)}",
        beats,
        task.published[0] if task.published else "n/a",
        listed,
    ]


def markdown_line(cells):
    return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"


def compare(rows, path):
    """Each row's score against the same row of an earlier --json file."""
    with open(path, encoding="utf-8") as fh:
        earlier = json.load(fh)
    before = {r["dataset"]: r for r in earlier["rows"]}
    seeds = earlier.get("meta", {}).get("seeds")
    print(
        f"\nagainst {path} (its seeds: {seeds}; its overrides: "
        f"{earlier.get('meta', {}).get('overrides')}):"
    )
    head = ["dataset", "metric", "before", "now", "change", "best baseline", "now ≥"]
    print(markdown_line(head))
    print(markdown_line(["---"] * len(head)))
    for row in rows:
        old = before.get(row["dataset"], {})
        now, was = row.get("score_mean"), old.get("score_mean")
        if now is None or was is None:
            continue
        up = row["higher_is_better"]
        better = now > was if up else now < was
        change = f"{now - was:+.3f}" if up else f"{100 * (now - was) / was:+.1f}%"
        name, value = row.get("best_baseline") or [None, None]
        if value is None:  # --no-baselines: the earlier run's
            name, value = old.get("best_baseline") or [None, None]
        beats = (
            "n/a"
            if value is None
            else ("yes" if (now >= value if up else now <= value) else "**no**")
        )
        same = abs(now - was) <= 1e-4 * max(abs(was), 1e-12)
        ok = "same" if same else ("better" if better else "worse")
        cells = [row["dataset"], row["metric"], f"{was:.4g}", f"{now:.4g}"]
        best = "n/a" if value is None else f"{name} {value:.4g}"
        print(markdown_line([*cells, f"{change} ({ok})", best, beats]))


def summary(rows):
    """Where skrnn stands against the baselines and the published figures."""
    scored = [r for r in rows if "beats_best" in r]
    lost = [r["dataset"] for r in scored if not r["beats_best"]]
    print(
        f"\nskrnn at or above the best baseline on {len(scored) - len(lost)} of "
        f"{len(scored)} rows" + (f"; below on {', '.join(lost)}" if lost else "")
    )
    near = [
        r
        for r in rows
        if r.get("metric") == "accuracy"
        and r.get("published")
        and r.get("score_mean") is not None
    ]
    far = [r["dataset"] for r in near if r["score_mean"] < r["published"][1] - 0.03]
    if near:
        print(
            f"within 3 points of the published deep-learning accuracy on "
            f"{len(near) - len(far)} of {len(near)} classification rows"
            + (f"; further on {', '.join(far)}" if far else "")
        )
    print("\nsplits:")
    for r in rows:
        if "split" in r:
            sizes = (
                f"{r['n_train']} train / {r['n_test']} test"
                if "n_train" in r
                else f"{r['n_points']} points, last {r['n_test']} tested"
            )
            print(f"- {r['dataset']}: {r['split']}; {sizes}")
