"""What a comparison recommends: per swept key its best value, for `freeze` the deepest freeze within the tolerance
of the best, and nothing at all when the runs carry no signal (scores at the floor, or differences inside the noise
of the repeats). Every function reads a points table (see :func:`pipeline.compare.results.points_table`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from pipeline.compare.intervals import NO_INTERVAL, has_intervals, paired_bounds
from pipeline.compare.results import shown_value
from pipeline.evaluation.intervals import LEVEL

# Below 1 point of mAP50-95 a detector has not learned to place boxes yet: the tiny differences between such runs
# are initialisation and seed noise, not an effect of the swept setting.
MIN_MAP50_95 = 0.01
# A classifier whose best top-1 is within 5 points of chance (1 / number of classes) is still guessing.
TOP1_CHANCE_MARGIN = 0.05
# Points whose spread is at most this many repeat std apart cannot be told apart by the sweep.
NOISE_FACTOR = 2.0
# Points that share at least this many seeds are compared seed by seed (see _noise_pts).
PAIRED_SEEDS = 3
# Points whose batches (optimizer steps) differ by more than this share are not at equal compute.
EQUAL_BATCHES = 0.10


def score_floor(score: str, n_classes: int) -> tuple[float, str]:
    """The best score a comparison needs before it says anything, and how that floor is set."""
    if score == "top1":
        chance = 1 / max(n_classes, 1)
        return chance + TOP1_CHANCE_MARGIN, f"chance level 1/{n_classes} + {TOP1_CHANCE_MARGIN:g}"
    return MIN_MAP50_95, f"{MIN_MAP50_95 * 100:g} point of mAP50-95"


def no_signal(points: pd.DataFrame, score: str, label: str, floor: tuple[float, str]) -> str | None:
    """The no-signal verdict when even the best point scores below the floor, else None."""
    best = points[score].max()
    if pd.notna(best) and best >= floor[0]:
        return None
    return (f"**No signal**: the best {label} is {best:.4f}, below the floor of {floor[0]:.4f} ({floor[1]}): these "
            "runs learned too little for their differences to mean anything; train longer, on more data or from "
            "pretrained weights. Nothing is recommended.")


def _common_seeds(points: pd.DataFrame) -> set:
    """The seeds every point was run with (empty when the table has no per-run scores)."""
    if "seeds" not in points or len(points) < 2:
        return set()
    return set.intersection(*(set(s) for s in points["seeds"]))


def _noise_pts(points: pd.DataFrame, score: str) -> tuple[float, str] | None:
    """The repeat noise in points and its name; None when no point was repeated.

    Points that share >= PAIRED_SEEDS seeds are compared seed by seed: a seed gives every point the same
    initialisation and data order, so its luck (a good or a bad seed for all) is taken out first; the noise is the
    largest std over seeds of a point's score minus that seed's mean over the points. Otherwise: the largest std.
    """
    if points["n"].max() < 2:
        return None
    common = _common_seeds(points)
    if len(common) < PAIRED_SEEDS:
        return points[f"{score}_std"].max() * 100, "std"
    runs = points[["config", "seeds", "scores"]].explode(["seeds", "scores"])
    runs = runs[runs["seeds"].isin(common)].astype({"scores": float})
    centered = runs["scores"] - runs.groupby("seeds")["scores"].transform("mean")
    return centered.groupby(runs["config"]).std().max() * 100, "seed-paired std"


def _inside_noise(points: pd.DataFrame, score: str, what: str) -> str | None:
    """The no-signal verdict when all the points' spread lies within the repeat noise, else None."""
    noise = _noise_pts(points, score)
    spread = (points[score].max() - points[score].min()) * 100
    if noise is None or spread > NOISE_FACTOR * noise[0]:
        return None
    return (f"no signal: {what} lie within the noise of the repeats (spread {spread:.1f} points, {noise[1]} up to "
            f"{noise[0]:.1f}), so the sweep cannot tell them apart and nothing is recommended; run more repeats or "
            "epochs.")


def _noise_note(points: pd.DataFrame, gap_pts: float, score: str) -> str:
    """What the repeat noise says about a gap of `gap_pts` points."""
    noise = _noise_pts(points, score)
    if noise is None:
        return " One run per point: the noise of the repeats is unknown (set `sweep.repeats: 3` to measure it)."
    if gap_pts <= noise[0]:
        return f" The gap ({gap_pts:.1f} points) is inside the noise of the repeats ({noise[1]} up to {noise[0]:.1f})."
    return f" Repeat noise: {noise[1]} up to {noise[0]:.1f} points."


def _change(pct: float, noun: str) -> str:
    return f"{abs(pct):.0f}% {'less' if pct >= 0 else 'more'} {noun}"


def _savings(points: pd.DataFrame, choice: pd.Series) -> str:
    """What the chosen freeze saves against the family's `freeze: none` point (empty when it is that point)."""
    base = points[points["frozen_layers"] == 0]
    if not len(base) or choice["frozen_layers"] == 0:
        return ""
    kind = "GPU" if choice["memory_kind"] == "cuda" else "RSS"
    fewer = 100 * (1 - choice["params_trainable"] / base["params_trainable"].iloc[0])
    return (f" Against `freeze: none` it trains {fewer:.0f}% fewer parameters and takes "
            f"{_change(choice['time_saved_pct'], 'time per epoch')} and "
            f"{_change(choice['memory_saved_pct'], f'peak {kind} memory')}.")


def freeze_verdicts(points: pd.DataFrame, tolerance: float, level: float) -> pd.DataFrame:
    """Per point, the paired intervals of every other point minus it (points of score): the most another point
    may beat it by (`beaten_hi`, and by which), the most it is shown beaten by (`beaten_lo`), and its verdict:
    `within` (no other point beats it by more than `tolerance`), `rejected` (one does, clearly) or `undecided`."""
    rows = []
    for i in points.index:
        pairs = {j: paired_bounds(points, j, i, level) for j in points.index if j != i}
        top = max(pairs, key=lambda j: pairs[j][1]) if pairs else None
        beaten_hi = pairs[top][1] if pairs else 0.0
        beaten_lo = max((b[0] for b in pairs.values()), default=0.0)
        verdict = "within" if beaten_hi <= tolerance else "rejected" if beaten_lo > tolerance else "undecided"
        rows.append({"beaten_hi": beaten_hi, "beaten_lo": beaten_lo, "by": top, "verdict": verdict})
    return pd.DataFrame(rows, index=points.index)


def _named(points: pd.DataFrame, index: list, verdicts: pd.DataFrame, bound: str = "up to") -> str:
    """Depths with how far behind another they may be (`up to`: the upper bound) or are shown (`at least`)."""
    column = "beaten_hi" if bound == "up to" else "beaten_lo"
    return ", ".join(f"`{points.at[i, 'freeze']}` ({bound} {verdicts.at[i, column]:.1f} points behind"
                     + (f" `{points.at[verdicts.at[i, 'by'], 'freeze']}`)" if bound == "up to" else ")") for i in index)


def _paired_freeze(points: pd.DataFrame, tolerance: float, label: str, score: str, level: float) -> str:
    """The deepest freeze that no other depth beats by more than `tolerance` points, by the paired intervals; no
    signal when no depth is shown so."""
    verdicts = freeze_verdicts(points, tolerance, level)
    order = points.sort_values(["frozen_layers", "params_trainable"], ascending=[False, True]).index
    within = [i for i in order if verdicts.at[i, "verdict"] == "within"]
    rejected = [i for i in order if verdicts.at[i, "verdict"] == "rejected"]
    shown = f"paired {level:.0%} intervals over val images{' and seeds' if points['n'].max() > 1 else ''}"
    tail = (f" Shown more than {tolerance:g} point(s) behind another depth: "
            f"{_named(points, rejected, verdicts, 'at least')}." if rejected else "")
    if not within:
        widest = verdicts["beaten_hi"].min()
        return (f"no signal: no freeze depth is shown within {tolerance:g} point(s) of every other ({shown}; the "
                f"closest may still be {widest:.1f} points behind), so nothing is recommended; more val images or "
                f"seeds narrow the intervals.{tail}")
    choice = points.loc[within[0]]
    deeper = [i for i in order[: list(order).index(within[0])] if verdicts.at[i, "verdict"] == "undecided"]
    text = (f"freeze `{choice['freeze']}` ({choice['frozen_layers']} layers frozen, {choice['params_trainable']:,} "
            f"trainable parameters), {label} {choice[score]:.4f} [{choice['score_lo']:.4f}, "
            f"{choice['score_hi']:.4f}]: no other depth beats it by more than {tolerance:g} point(s) ({shown}: "
            f"at most {verdicts.at[within[0], 'beaten_hi']:+.1f}).")
    if deeper:
        text += f" Deeper, not shown either way: {_named(points, deeper, verdicts)}."
    return text + _savings(points, choice) + tail


def recommend(points: pd.DataFrame, tolerance: float, score: str = "map50_95", label: str = "mAP50-95",
              context: str = "", level: float = LEVEL) -> str:
    """The deepest freeze within `tolerance` points of the others of one family (by the paired intervals when
    every point has per-image records, else by the repeats' noise), with its savings."""
    model = points["model"].iloc[0] + (f" from {points['weights'].iloc[0]}" if points["weights"].iloc[0] else "")
    head = f"**{model}**" + (f" ({context})" if context else "") + ": "
    if has_intervals(points):
        return head + _paired_freeze(points, tolerance, label, score, level)
    quiet = _inside_noise(points, score, "all freeze depths")
    if quiet:
        return head + quiet + f" ({NO_INTERVAL}: some runs have no per-image records.)"
    best = points.loc[points[score].idxmax()]
    within = points[(best[score] - points[score]) * 100 <= tolerance + 1e-9]
    choice = within.sort_values(["frozen_layers", "params_trainable"], ascending=[False, True]).iloc[0]
    gap = (best[score] - choice[score]) * 100
    text = head + (f"freeze `{choice['freeze']}` ({choice['frozen_layers']} layers frozen, "
                   f"{choice['params_trainable']:,} trainable parameters). Its {label} {choice[score]:.4f} is ")
    text += ("the best of this comparison." if choice["config"] == best["config"] else
             f"{gap:.1f} points below the best (`{best['freeze']}`, {best[score]:.4f}), within the "
             f"{tolerance:g}-point tolerance.")
    text += _savings(points, choice)
    return text + _noise_note(points, gap, score) + f" ({NO_INTERVAL}: some runs have no per-image records.)"


def _time_ratio(point: pd.Series, ref: pd.Series) -> str:
    if pd.isna(point["train_time_s"]) or not ref["train_time_s"]:
        return "training time not recorded"
    return f"training time ×{point['train_time_s'] / ref['train_time_s']:.1f}"


def _compute_note(point: pd.Series, ref: pd.Series, key: str, everyone: pd.DataFrame, score: str) -> str:
    """Whether `point` and `ref` trained as many batches; if not, the ratio and the equal-batches control: the best
    point among `everyone` with `ref`'s value of `key` and about `point`'s batches."""
    if "batches" not in point or pd.isna(point["batches"]) or pd.isna(ref["batches"]) or not ref["batches"]:
        return ""
    ratio = point["batches"] / ref["batches"]
    if abs(ratio - 1) <= EQUAL_BATCHES:
        return f" Equal compute: {point['batches']:.0f} and {ref['batches']:.0f} batches."
    ref_value, value = ref["values"].get(key, "—"), shown_value(key, point["values"].get(key, "—"))
    text = f" **Not at equal compute**: {ratio:.1f}x the batches ({point['batches']:.0f} vs {ref['batches']:.0f})"
    same = everyone["values"].map(lambda v: v.get(key, "—")) == ref_value
    controls = everyone[same & ((everyone["batches"] / point["batches"] - 1).abs() <= EQUAL_BATCHES)]
    if not len(controls):
        return (text + f"; no equal-batches control here: run `{shown_value(key, ref_value)}` with as many batches "
                f"before crediting `{value}`.")
    control = controls.loc[controls[score].idxmax()]
    return (text + f". The equal-batches control (`{shown_value(key, ref_value)}`, {control['batches']:.0f} "
            f"batches) scores {control[score]:.4f}: `{value}` is {(point[score] - control[score]) * 100:+.1f} points "
            "against it.")


def _paired_note(points: pd.DataFrame, a: int, b: int, level: float) -> tuple[str, bool]:
    """The paired interval of point `a` minus point `b` as text, and whether it excludes 0."""
    low, high = paired_bounds(points, a, b, level)
    shown = low > 0 or high < 0
    return (f" Paired {level:.0%} interval of the difference: [{low:+.1f}, {high:+.1f}] points"
            + (" (excludes 0)." if shown else " (includes 0: not a measured difference).")), shown


def recommend_axis(points: pd.DataFrame, key: str, order: list[str], score: str = "map50_95",
                   label: str = "mAP50-95", context: str = "", everyone: pd.DataFrame | None = None,
                   level: float = LEVEL) -> str:
    """The best value of swept `key` among points that differ in `key` only, against the axis' first value;
    `everyone` (default: `points`) is where an equal-batches control is looked for. With intervals, "no signal"
    when the paired interval of the best against the reference (or the runner-up) includes 0."""
    head = f"best `{key}` at this budget" + (f" ({context})" if context else "") + ": "
    paired = has_intervals(points)
    quiet = None if paired else _inside_noise(points, score, f"all values of `{key}`")
    if quiet:
        return head + quiet
    value = points["values"].map(lambda v: v.get(key, "—"))
    ref_value = next(v for v in order if v in set(value))
    best, ref = points.loc[points[score].idxmax()], points[value == ref_value].iloc[0]
    if value[best.name] == ref_value:
        others = points[value != ref_value]
        runner = others.loc[others[score].idxmax()]
        gap = (best[score] - runner[score]) * 100
        text = (f"`{shown_value(key, ref_value)}` itself ({label} {best[score]:.4f}), {gap:.1f} points above the "
                f"next best (`{shown_value(key, value[runner.name])}`, {_time_ratio(runner, ref)}).")
    else:
        gap = (best[score] - ref[score]) * 100
        text = (f"`{shown_value(key, value[best.name])}`, {gap:+.1f} points of {label} over "
                f"`{shown_value(key, ref_value)}` ({best[score]:.4f} vs {ref[score]:.4f}), {_time_ratio(best, ref)}.")
        text += _compute_note(best, ref, key, points if everyone is None else everyone, score)
    if not paired:
        return head + text + _noise_note(points, gap, score) + f" ({NO_INTERVAL}: some runs have no per-image records.)"
    other = runner.name if value[best.name] == ref_value else ref.name
    note, shown = _paired_note(points, best.name, other, level)
    return head + ("" if shown else "no signal, nothing is recommended: ") + text + note


def _contexts(points: pd.DataFrame, axes: dict[str, list[str]], key: str) -> Iterator[tuple[str, pd.DataFrame]]:
    """The groups of points that differ in `key` only, each with the other swept values as text."""
    others = [k for k in axes if k != key]
    context = points["values"].map(lambda v: ", ".join(f"{k} `{shown_value(k, v.get(k, '—'))}`" for k in others))
    for text, group in points.groupby(context, sort=False):
        if group["values"].map(lambda v: v.get(key, "—")).nunique() > 1:
            yield text, group


def recommendations(points: pd.DataFrame, axes: dict[str, list[str]], tolerance: float, score: str, label: str,
                    floor: tuple[float, str], level: float = LEVEL) -> list[str]:
    """Every recommendation of one comparison: one per swept key (per combination of the other swept values)."""
    quiet = no_signal(points, score, label, floor)
    if quiet:
        return [quiet]
    recs = [recommend(group, tolerance, score, label, context, level) if key == "freeze" else
            recommend_axis(group, key, order, score, label, context, points, level)
            for key, order in axes.items() for context, group in _contexts(points, axes, key)]
    if recs:
        return recs
    if len(points) == 1:
        return [f"one point only ({points['n'].sum()} run(s)), no swept key to compare: nothing is recommended."]
    return ["no two points differ in one swept key only (unfinished or failed points?): nothing is recommended."]
