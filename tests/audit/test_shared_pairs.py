"""run_audit builds the per-pair table of the verdicts once and hands it to every measure."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

import judgebench
import judgebench.audit  # noqa: F401  (the measure modules are looked up in sys.modules)
from judgebench.audit import position
from judgebench.audit.agreement import agreement_table, panel_agreement
from judgebench.audit.decisions import mcnemar_table
from judgebench.audit.features import features_table
from judgebench.audit.position import pairs_of, position_table
from judgebench.audit.self_preference import self_preference_table
from judgebench.audit.suite import PAIR_COLUMNS, run_audit
from judgebench.audit.verbosity import length_bins_table, verbosity_table
from judgebench.judges.simulated import SimulatedJudge
from judgebench.stats import per_pair


def _modules(attr: str) -> list:
    """Every loaded judgebench.audit module that holds ``attr`` (as imported by name)."""
    return [m for name, m in sorted(sys.modules.items())
            if name.startswith("judgebench.audit") and m is not None and hasattr(m, attr)]


def _count_per_pair(monkeypatch) -> list[pd.DataFrame]:
    """Patch per_pair wherever the audit imported it; returns the tables it was called on."""
    calls: list[pd.DataFrame] = []

    def counted(verdicts, columns=()):
        calls.append(verdicts)
        return per_pair(verdicts, columns)

    for m in _modules("per_pair"):
        monkeypatch.setattr(m, "per_pair", counted)
    return calls


def _per_measure_path(monkeypatch) -> None:
    """The old path: every measure rebuilds its own per-pair table, whatever it is handed."""
    def rebuild(verdicts, columns=(), pp=None):
        return per_pair(verdicts, columns)

    for m in _modules("pairs_of"):
        monkeypatch.setattr(m, "pairs_of", rebuild)


def _two_judges() -> pd.DataFrame:
    pairs = judgebench.bundled_pairs()
    a = SimulatedJudge(position=1.0, verbosity=0.5, seed=0).judge(pairs, progress=False)
    b = SimulatedJudge(position=0.2, seed=1).judge(pairs, progress=False)
    return pd.concat([a, b.assign(judge="other")], ignore_index=True)


def _same(res_a, res_b) -> None:
    assert json.dumps(res_a.to_dict(), sort_keys=True, default=str) == \
        json.dumps(res_b.to_dict(), sort_keys=True, default=str)
    assert list(res_a.tables) == list(res_b.tables)
    for name in res_a.tables:
        pd.testing.assert_frame_equal(res_a.tables[name], res_b.tables[name], check_exact=True)


def test_run_audit_builds_the_per_pair_table_once(monkeypatch):
    v = _two_judges()  # several judges (panel agreement) and sources (position by source)
    calls = _count_per_pair(monkeypatch)
    res = run_audit(v, seed=0, n_boot=50, judge_model="verbose-bot")
    assert len(calls) == 1
    assert "panel" in res.to_dict() and "features" in res.tables
    assert (res.tables["position"]["source"] != "all").any()


def test_with_a_judge_only_the_probe_tables_get_their_own(monkeypatch):
    pairs = judgebench.bundled_pairs().head(40)
    calls = _count_per_pair(monkeypatch)
    res = run_audit(judge=SimulatedJudge(position=1.0, seed=0), pairs=pairs, seed=0, n_boot=20,
                    probe_sample=10, progress=False, padding_doses=(50,))
    main = [c for c in calls if len(c) == len(res.verdicts) and c.equals(res.verdicts)]
    assert len(main) == 1
    # The others are probe verdicts (or the probe sample's baseline), never the whole table.
    assert all(len(c) != len(res.verdicts) or not c.equals(res.verdicts)
               for c in calls if c is not main[0])


@pytest.mark.parametrize("with_judge", [False, True])
def test_shared_table_gives_the_per_measure_results(monkeypatch, with_judge):
    if with_judge:
        kw = {"judge": SimulatedJudge(position=1.0, verbosity=0.5, seed=0),
              "pairs": judgebench.bundled_pairs().head(60), "probe_sample": 12,
              "progress": False}
    else:
        kw = {"verdicts": _two_judges(), "judge_model": "verbose-bot"}
    shared = run_audit(seed=0, n_boot=50, **kw)
    with monkeypatch.context() as mp:
        _per_measure_path(mp)
        separate = run_audit(seed=0, n_boot=50, **kw)
    _same(shared, separate)


def test_measures_take_the_shared_table_or_build_their_own():
    v = _two_judges()
    pp = per_pair(v, PAIR_COLUMNS)
    kw = {"n_boot": 30, "seed": 0}
    for f, args, extra in ((position_table, (), kw), (position_table, ("source",), kw),
                           (mcnemar_table, (), {}), (verbosity_table, (), kw),
                           (length_bins_table, (), kw), (self_preference_table, ("verbose-bot",), kw),
                           (agreement_table, (), kw), (features_table, (["lexical"],), kw)):
        pd.testing.assert_frame_equal(f(v, *args, **extra, pp=pp), f(v, *args, **extra),
                                      check_exact=True)
    assert panel_agreement(v, pp=pp, **kw) == panel_agreement(v, **kw)


def test_a_shared_table_without_a_needed_column_is_refused():
    v = _two_judges()
    with pytest.raises(ValueError, match="lacks column"):
        agreement_table(v, n_boot=0, seed=0, pp=per_pair(v))
    # Columns the verdicts lack are not needed.
    assert pairs_of(v.drop(columns="label"), ["label"], per_pair(v)) is not None
    assert position.pairs_of is pairs_of and np.isfinite(
        position_table(v, n_boot=0, seed=0, pp=per_pair(v, ["prompt"]))["estimate"]).any()
