"""PandaLM test set: three human annotators, and a judge result file (one order)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.importers._common import _error_text, _existing, _finish, _read_records, _require

# ---------------------------------------------------------------------------------------------
# PandaLM test set (Wang et al. 2024)

def import_pandalm(path: str | Path, *, testset: str | None = None) -> pd.DataFrame:
    """PandaLM judge results joined with its human-annotated test set; one order ("12").

    ``path`` is a judge result file (records with ``idx`` and one ``*_result`` field, e.g.
    gpt-3.5-turbo-testset-v1.json; judge = the stem less the test set's name) or a folder (every
    judge file in it is imported). The test set is ``testset``, else the file beside the judge
    file holding ``annotator1``. Results 1/2 map to p_1 = 1/0, "Tie"/0 to 0.5, anything else
    ("garbage") to failed. label = the human majority of annotator1..3 (0 = tie -> 0.5); with
    no majority (three different votes; none in testset-v1) the label is NaN: gold unknown.
    annotator1..3 are kept. Scoring ties as a third class and failed
    verdicts as wrong, over all 999 pairs, reproduces the published accuracies (0.698, 0.668).

    >>> import_pandalm("PandaLM/data/gpt-3.5-turbo-testset-v1.json")  # doctest: +SKIP
    """
    path = _existing(path, "PandaLM result file or folder")
    loaded: dict[Path, pd.DataFrame] = {}

    def read(file: Path) -> pd.DataFrame:
        if file not in loaded:
            loaded[file] = _read_records(file)
        return loaded[file]

    siblings = sorted(path.glob("*.json")) if path.is_dir() else [path]
    judged = [f for f in siblings if any(c.endswith("_result") for c in read(f).columns)]
    if not judged:
        raise ValueError(f"No PandaLM judge results (records with a '*_result' field) in "
                         f"{str(path)!r}; give a judge file such as gpt-3.5-turbo-testset-v1.json"
                         " or the folder holding it.")
    if testset:
        tfile = _existing(testset, "PandaLM test set")
    else:
        # Look beside the judge file, first at "<x>.json" for a judge file "<judge>-<x>.json".
        near = sorted(judged[0].parent.glob("*.json"),
                      key=lambda f: (not judged[0].stem.endswith(f"-{f.stem}"), f.name))
        tfile = next((f for f in near if "annotator1" in read(f).columns), None)
        if tfile is None:
            raise ValueError(f"No PandaLM test set (records with annotator1..3) beside "
                             f"{str(judged[0])!r}; pass testset=PATH.")
    pairs = _pandalm_pairs(read(tfile), tfile)
    parts = []
    for file in judged:
        res = loaded[file]
        col = next(c for c in res.columns if c.endswith("_result"))
        unknown = sorted(set(res["idx"]) - set(pairs["idx"]))
        if unknown:
            raise ValueError(f"{file.name} judges idx {unknown[:5]} that the test set "
                             f"{tfile.name} lacks; pass the matching testset=PATH.")
        code = res[col].astype(str).str.strip().str.lower()
        p1 = code.map({"1": 1.0, "2": 0.0, "tie": 0.5, "0": 0.5}).astype(float)
        prefix = col[: -len("result")]  # gpt_result -> gpt_reason, gpt_reference go to raw
        raw = [{k[len(prefix):]: v for k, v in r.items() if k.startswith(prefix)}
               for r in res.to_dict("records")]
        parts.append(pd.DataFrame({
            "idx": res["idx"], "judge": file.stem.replace(f"-{tfile.stem}", ""), "order": "12",
            "p_1": p1, "failed": p1.isna(), "error": _error_text(p1, res[col], col), "raw": raw,
        }).merge(pairs, on="idx", how="left"))
    return _finish(pd.concat(parts, ignore_index=True))


def _pandalm_pairs(ts: pd.DataFrame, file: Path) -> pd.DataFrame:
    votes = ["annotator1", "annotator2", "annotator3"]
    _require(ts, ["idx", "instruction", "response1", "response2", *votes], file)
    v = ts[votes].apply(pd.to_numeric).astype(float).to_numpy()  # (n, 3) in {0 tie, 1, 2}
    # The majority is the vote at least two annotators share; three different votes: none.
    majority = np.where((v[:, 0] == v[:, 1]) | (v[:, 0] == v[:, 2]), v[:, 0],
                        np.where(v[:, 1] == v[:, 2], v[:, 1], np.nan))
    inp = ts["input"].fillna("").astype(str) if "input" in ts else pd.Series("", index=ts.index)
    prompt = ts["instruction"].where(inp == "", ts["instruction"] + "\n\n" + inp)
    # cmp_key "a_b" names the models of response1 and response2, in that order.
    models = (ts["cmp_key"] if "cmp_key" in ts else pd.Series("_", index=ts.index)).astype(
        str).str.split("_", n=1)
    meta = [c for c in ("motivation_app", "cmp_key", "instruction", "input") if c in ts]
    return pd.concat([pd.DataFrame({
        "idx": ts["idx"], "pair_id": "pandalm/" + ts["idx"].astype(str), "prompt": prompt,
        "response_1": ts["response1"], "response_2": ts["response2"],
        "label": np.where(majority == 0, 0.5, majority),
        "model_1": models.str[0], "model_2": models.str[1], "source": "pandalm",
    }), ts[votes].apply(pd.to_numeric), ts[meta]], axis=1)


