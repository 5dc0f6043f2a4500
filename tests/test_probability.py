"""The shared P(response_1 better) arithmetic (judgebench/probability.py): the one home of the
clip constants, the gold label map, the score-to-preference rule and the two-order average."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from judgebench import probability
from judgebench.probability import (
    GOLD_EPS,
    OFFSET_EPS,
    PROB_EPS,
    gold_p1,
    safe_logit,
    swap_average,
    win_score,
)
from judgebench.verdicts import SchemaError, label_to_p1


def test_gold_p1_maps_every_label_form():
    np.testing.assert_array_equal(gold_p1(pd.Series([1, 2, 0.5, 0.25])), [1.0, 0.0, 0.5, 0.25])
    assert np.isnan(gold_p1(np.array([np.nan]))[0])
    # The vectorised form of the table's scalar rule.
    labels = [1, 2, 0.5, 0.8, 0.0]
    assert gold_p1(np.array(labels)).tolist() == [label_to_p1(x) for x in labels]


def test_gold_p1_errors_name_the_entry():
    with pytest.raises(SchemaError, match="label must be 1, 2, 0.5"):
        gold_p1(np.array([1, 3]))
    with pytest.raises(SchemaError, match="entry 1 is 'A'"):
        gold_p1(pd.Series([1, "A"]))


def test_win_score_is_the_gold_label_and_the_win_against_a_half():
    a, b = np.array([3.0, 1.0, 2.0, np.nan, 1.0]), np.array([1.0, 3.0, 2.0, 1.0, np.inf])
    assert np.array_equal(win_score(a, b), [1.0, 0.0, 0.5, np.nan, np.nan], equal_nan=True)
    assert win_score([0.9, 0.5, 0.1], 0.5).tolist() == [1.0, 0.5, 0.0]


def test_swap_average_keeps_a_lone_order_and_fails_with_none():
    got = swap_average(np.array([0.8, np.nan, 0.2, np.nan]), np.array([0.4, 0.7, np.nan, np.nan]))
    assert got[:3] == pytest.approx([0.6, 0.7, 0.2]) and np.isnan(got[3])
    # An additive first-slot preference cancels: +b in order 12, -b in order 21 (logits).
    z, bias = np.array([0.3, -1.2]), 0.7
    assert swap_average(z + bias, z - bias) == pytest.approx(z)


def test_the_clip_constants_are_named_and_distinct_where_the_numbers_depend_on_it():
    assert (PROB_EPS, OFFSET_EPS, GOLD_EPS) == (1e-6, 1e-4, 0.01)
    assert safe_logit(np.array([1.0]))[0] == pytest.approx(logit(1 - 1e-6))
    assert safe_logit(np.array([0.0]), OFFSET_EPS)[0] == pytest.approx(-9.21, abs=0.01)
    assert np.isnan(safe_logit(np.array([np.nan]))[0])


def test_no_other_module_defines_a_clip_constant():
    # One home: a module that needs a clip imports it from judgebench.probability.
    root = Path(probability.__file__).parent
    pattern = re.compile(r"^\s*_?([A-Z0-9]+_)*(EPS|CLIP)\s*=", re.M)
    found = [str(p.relative_to(root)) for p in sorted(root.rglob("*.py"))
             if p.name != "probability.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert not found, f"clip constants outside judgebench/probability.py: {found}"
