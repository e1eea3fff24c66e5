"""The report on a hand-made result file: which rows count, how gaps read, tables, figures.

The file holds three envs: ``comm`` sweeps ``snr_db`` and reports error rates (the oracle
makes no error at 8 dB), ``denoise`` reports squared errors in dB, ``lq`` control costs. The
agent ``learner`` has two budgets and a training curve, ``twin A`` and ``twin B`` have equal
costs and one budget, ``broken`` fails (its trial id holds ``|``), and ``learner`` on
``comm`` has stale rows of an older configuration.
"""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from mbdl_control.evaluation import plots
from mbdl_control.evaluation.report import per_agent, summarize, training_curves, write_report
from mbdl_control.evaluation.store import ResultStore
from mbdl_control.evaluation.trial import COLUMNS

ORACLE_RATE = {0: 0.1, 8: 0.0}
COMM_RATE = {  # (agent, samples) → error rate per SNR
    ("learner", 0): {0: 0.3, 8: 0.05},
    ("learner", 100): {0: 0.15, 8: 0.01},
    ("twin A", 0): {0: 0.2, 8: 0.02},
    ("twin B", 0): {0: 0.2, 8: 0.02},
}
MSE = {("oracle", 0): 0.01, ("learner", 0): 0.05, ("learner", 1000): 0.02, ("twin A", 0): 0.04}
MSE[("twin B", 0)] = MSE[("twin A", 0)]
CURVE = [1.0, 0.5, None, 0.25]
STALE_COST = 0.9


def _row(env, agent, cost, oracle, *, axes=None, steps=0, samples=0, **extra):
    """A result row with every column; ``extra`` overrides any of them."""
    axes = axes or {}
    row = dict.fromkeys(COLUMNS)
    row.update(
        study="fixture",
        env=env,
        env_id=f"fixture/{env}",
        axes=json.dumps(axes, sort_keys=True),
        mismatch=0.0,
        agent=agent,
        agent_class=agent,
        family="model-based" if agent == "oracle" else "learned-optimizer",
        knowledge="nominal",
        n_parameters=0 if agent == "oracle" else 3,
        budget_steps=steps,
        budget_samples=samples,
        seed=0,
        episodes=10,
        mean_cost=cost,
        std_error=0.01 * cost,
        oracle_cost=oracle,
        gap_to_oracle=cost - oracle,
        gap_to_oracle_se=0.005 * cost,
        curve=json.dumps(CURVE if agent == "learner" else []),
        config="c1",
        status="ok",
        error="",
    )
    row.update(extra)
    where = "".join(f"|{name}={value:g}" for name, value in axes.items())
    row["trial"] = (
        f"{env}{where}|mismatch={row['mismatch']:g}|{agent}|steps={steps},samples={samples}"
        f"|seed={row['seed']}|config={row['config']}"
    )
    return row


def _comm_rows(mismatch, seed):
    for snr, oracle in ORACLE_RATE.items():
        axes = {"snr_db": snr}
        common = {"axes": axes, "mismatch": mismatch, "seed": seed, "cost_display": "log"}
        yield _row("comm", "oracle", oracle, oracle, knowledge="true", **common)
        for (agent, samples), rates in COMM_RATE.items():
            yield _row("comm", agent, rates[snr], oracle, samples=samples, **common)


def _other_rows(mismatch, seed):
    common = {"mismatch": mismatch, "seed": seed}
    for (agent, steps), mse in MSE.items():
        knowledge = "true" if agent == "oracle" else "nominal"
        yield _row(
            "denoise", agent, mse, 0.01, steps=steps, knowledge=knowledge, cost_display="dB",
            bound=0.008, **common,
        )  # fmt: skip
    yield _row("lq", "oracle", 2.0, 2.0, knowledge="true", cost_display="linear", **common)
    yield _row("lq", "twin A", 3.0, 2.0, cost_display="linear", **common)


def write_results(path):
    """The fixture study's result file (module docstring)."""
    store = ResultStore(path)
    for seed in (0, 1):  # stale: learner on comm before its arguments were edited
        store.write(
            _row("comm", "learner", STALE_COST, 0.1, axes={"snr_db": 0}, seed=seed, config="c0")
        )
    for mismatch in (0.0, 0.2):
        for seed in (0, 1):
            for row in [*_comm_rows(mismatch, seed), *_other_rows(mismatch, seed)]:
                store.write(row)
    costs = dict.fromkeys(["mean_cost", "std_error", "oracle_cost", "gap_to_oracle"])
    failed = _row("comm", "broken", 0.0, 0.0, axes={"snr_db": 0}, status="failed", **costs)
    store.write({**failed, "error": "ValueError: boom", "curve": None})
    return store.path


@pytest.fixture
def results(tmp_path):
    return write_results(tmp_path / "fixture.csv")


@pytest.fixture
def summary(results):
    return summarize(ResultStore(results).read())


@pytest.fixture
def styles(summary):
    return plots.agent_styles(summary["agent"])


def _section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _line(summary, env, agent, **where):
    rows = summary[(summary["env"] == env) & (summary["agent"] == agent)]
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1
    return rows.iloc[0]


def test_stale_rows_are_left_out_and_counted(results, summary):
    learner = summary[(summary["env"] == "comm") & (summary["agent"] == "learner")]
    assert STALE_COST not in set(learner["mean_cost"]) and (learner["seeds"] == 2).all()
    markdown = write_report(results).markdown.read_text()
    assert "- 2 stale rows left out" in _section(markdown, "How the study was run")


def test_summary_groups_by_every_swept_axis_and_both_budgets(summary):
    assert {"snr_db", "budget_steps", "budget_samples"} <= set(summary.columns)
    assert summary.loc[summary["env"] != "comm", "snr_db"].isna().all()
    learner = summary[(summary["env"] == "comm") & (summary["agent"] == "learner")]
    assert len(learner) == 2 * 2 * 2  # mismatch × snr × samples budget, over 2 seeds each
    assert _line(summary, "comm", "learner", snr_db=0, mismatch=0.0, budget_samples=100)[
        "mean_cost"
    ] == pytest.approx(0.15)


def test_gap_measure_fits_each_cost_display(summary):
    at = {"mismatch": 0.0, "budget_steps": 0, "budget_samples": 0}
    ratio = _line(summary, "comm", "twin A", snr_db=0, **at)["gap_measure"]
    assert ratio == pytest.approx(0.2 / 0.1)
    assert np.isnan(_line(summary, "comm", "twin A", snr_db=8, **at)["gap_measure"])
    in_db = _line(summary, "denoise", "twin A", **at)
    assert in_db["gap_measure"] == pytest.approx(10 * np.log10(0.04 / 0.01))
    assert in_db["shown_cost"] == pytest.approx(-10 * np.log10(25))
    assert _line(summary, "lq", "twin A", **at)["gap_measure"] == pytest.approx(0.5)
    points = per_agent(summary).set_index(["env", "agent"])
    assert points.loc[("comm", "twin A"), "gap_measure"] == pytest.approx(2.0)  # NaN skipped
    assert points.loc[("comm", "twin A"), "measure_name"] == "error-rate ratio"


def _table(markdown: str, env: str) -> pd.DataFrame:
    lines = [line for line in _section(markdown, env).splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return pd.DataFrame(cells[2:], columns=cells[0])


def test_env_tables_show_swept_axes_absolute_gap_and_the_fitting_measure(results):
    markdown = write_report(results).markdown.read_text()
    comm, denoise, lq = (_table(markdown, env) for env in ("comm", "denoise", "lq"))
    assert {"snr_db", "budget (steps)", "budget (samples)", "error-rate ratio"} <= set(comm)
    assert "snr_db" not in denoise and "gap (dB)" in denoise and "cost (dB) ± s.e." in denoise
    assert "relative gap" in lq
    twin = comm[(comm["agent"] == "twin A") & (comm["mismatch"] == "0.0")]
    by_snr = twin.set_index("snr_db")
    assert by_snr.loc["8", "error-rate ratio"] == "n/a"
    assert by_snr.loc["8", "gap to oracle ± s.e."].startswith("0.02 ± ")
    assert by_snr.loc["0", "error-rate ratio"] == "2"


def test_markdown_escapes_pipes_and_words_the_bound_as_expected_cost(results):
    markdown = write_report(results).markdown.read_text()
    failed = _section(markdown, "Failed trials")
    assert "| comm\\|snr_db=0\\|mismatch=0\\|broken\\|" in failed
    for line in failed.strip().splitlines():
        assert line.replace("\\|", "").count("|") == 3  # two cells
    note = _section(markdown, "denoise")
    assert "bound on the expected cost per step: -20.97 dB; sample means may fall below it" in (
        note
    )
    assert "no policy" not in markdown


def test_report_writes_every_figure(results):
    report = write_report(results)
    assert [path.name for path in report.figures] == [
        "spectrum_map.png",
        "cost_vs_mismatch.png",
        "cost_vs_budget.png",
        "cost_vs_snr_db.png",
        "training_curves.png",
    ]
    for path in report.figures:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({path.name})" in report.markdown.read_text()


def _lines_by_label(figure, env):
    """The panel of ``env`` and its data lines by label (an errorbar's label is on its
    container)."""
    axis = next(axis for axis in figure.axes if axis.get_title() == env)
    lines = {line.get_label(): line for line in axis.get_lines()}
    lines.update({bars.get_label(): bars.lines[0] for bars in axis.containers})
    return axis, lines


def test_an_agent_has_one_colour_in_every_figure(summary, styles):
    budgets = plots.cost_vs_budget(summary[summary["mismatch"] == 0.2], styles)
    curves = pd.DataFrame({"env": ["denoise"], "agent": ["learner"], "curve": [CURVE]})
    training = plots.training_curves(curves, styles)
    colours = [
        _lines_by_label(figure, env)[1]["learner"].get_color()
        for figure, env in ((budgets, "comm"), (budgets, "denoise"), (training, "denoise"))
    ]
    assert all(to_rgba(colour) == to_rgba(styles["learner"].colour) for colour in colours)
    assert len({style.colour for style in styles.values()}) == len(styles)
    matplotlib.pyplot.close("all")


def test_single_budget_and_single_x_panels_draw_points(summary, styles):
    at = (summary["mismatch"] == 0.2) & (summary["snr_db"].isin([0]) | summary["snr_db"].isna())
    figure = plots.cost_vs_budget(summary[at], styles)
    axis, lines = _lines_by_label(figure, "comm")
    assert axis.get_xlabel() == "data budget (labelled samples)"
    assert list(lines["twin A"].get_xdata()) == [0] and lines["twin A"].get_linestyle() == "None"
    assert list(lines["learner"].get_xdata()) == [0, 100]
    assert lines["learner"].get_linestyle() != "None"
    one_snr = summary[(summary["snr_db"] == 8) & (summary["mismatch"] == 0.0)]
    figure = plots.cost_against(one_snr, "snr_db", styles)
    _, lines = _lines_by_label(figure, "comm")
    assert all(len(line.get_xdata()) >= 1 for line in lines.values())
    assert {"twin A", "twin B", "learner"} <= set(lines)
    matplotlib.pyplot.close("all")


def test_identical_agents_stay_visible(summary, styles):
    rows = summary[(summary["budget_samples"] == 0) & (summary["mismatch"] == 0.0)]
    figure = plots.cost_against(rows, "snr_db", styles)
    figure.canvas.draw()
    _, lines = _lines_by_label(figure, "comm")
    a, b = lines["twin A"], lines["twin B"]
    np.testing.assert_array_equal(a.get_ydata(), b.get_ydata())
    shown_a, shown_b = (line.get_transform().transform(line.get_xydata()) for line in (a, b))
    assert (np.abs(shown_a[:, 0] - shown_b[:, 0]) >= 3).all()  # pixels apart
    assert a.get_marker() != b.get_marker() and a.get_linestyle() != b.get_linestyle()
    matplotlib.pyplot.close("all")


def test_y_axis_follows_the_cost_display(summary, styles):
    figure = plots.cost_against(summary[summary["budget_steps"] == 0], "mismatch", styles)
    comm, _ = _lines_by_label(figure, "comm")
    denoise, lines = _lines_by_label(figure, "denoise")
    lq, _ = _lines_by_label(figure, "lq")
    assert (comm.get_yscale(), denoise.get_yscale(), lq.get_yscale()) == ("log", "linear", "linear")
    assert "dB" in denoise.get_ylabel()
    np.testing.assert_allclose(lines["twin A"].get_ydata(), 10 * np.log10(0.04))
    matplotlib.pyplot.close("all")


def test_spectrum_map_has_a_colour_bar_per_env_and_labels_that_do_not_collide(summary, styles):
    points = per_agent(summary)
    points.loc[(points["env"] == "lq") & (points["agent"] == "twin A"), "gap_measure"] = np.nan
    figure = plots.spectrum_map(points, styles)
    figure.canvas.draw()
    panels = {axis.get_title(): axis for axis in figure.axes if axis.get_title()}
    bars = {axis.get_ylabel() for axis in figure.axes if not axis.get_title()}
    assert bars == {"error-rate ratio", "gap (dB)", "relative gap"}
    for axis in panels.values():
        frame = axis.get_window_extent()
        boxes = [text.get_window_extent() for text in axis.texts]
        assert all(frame.x0 <= box.x0 and box.x1 <= frame.x1 for box in boxes)
        for index, box in enumerate(boxes):
            assert not any(box.overlaps(other) for other in boxes[index + 1 :])
    faces = [points.get_facecolor() for points in panels["lq"].collections]
    filled = [len(face) > 0 and face[0][3] > 0 for face in faces]
    assert sorted(filled) == [False, True]  # twin A, whose measure is NaN, is hollow
    matplotlib.pyplot.close("all")


def test_training_curves_skip_agents_without_one_and_use_log_losses(results, styles):
    curves = training_curves(ResultStore(results).read())
    assert list(zip(curves["env"], curves["agent"], strict=True)) == [
        ("comm", "learner"),
        ("denoise", "learner"),
    ]
    assert all(curve == CURVE for curve in curves["curve"])
    figure = plots.training_curves(curves, styles)
    axis, lines = _lines_by_label(figure, "comm")
    assert set(lines) == {"learner"} and axis.get_yscale() == "log"
    assert np.isnan(lines["learner"].get_ydata()[2])
    matplotlib.pyplot.close("all")


def test_an_error_rate_of_zero_shows_its_upper_confidence_bound(tmp_path):
    store = ResultStore(tmp_path / "zero.sqlite")
    metrics = json.dumps({"trials": 1000.0})
    for seed in (0, 1):
        for agent, rate in (("oracle", 0.0), ("detector", 0.002)):
            store.write(
                _row("comm", agent, rate, 0.0, seed=seed, cost_display="log", metrics=metrics)
            )
    text = write_report(tmp_path / "zero.sqlite").markdown.read_text()
    assert "< 0.00015 (0 errors in 20000)" in text  # 2 seeds × 10 episodes × 1000 symbols
    assert "0.002" in text


def test_log_scale_error_bars_are_cut_short_of_zero(summary, styles):
    rows = summary[(summary["env"] == "comm") & (summary["mismatch"] == 0.0)].copy()
    rows["shown_cost_se"] = (1 - 1e-12) * rows["shown_cost"]  # few errors: s.e. ≈ the value
    figure = plots.cost_against(rows, "snr_db", styles)
    axis, _ = _lines_by_label(figure, "comm")
    assert axis.get_yscale() == "log"
    positive = rows["shown_cost"][rows["shown_cost"] > 0]
    # the axis reaches a decade below the smallest point at most, not towards 0
    assert axis.get_ylim()[0] >= plots.LOG_BAR_FLOOR * positive.min() / 2
    matplotlib.pyplot.close("all")
