"""Import judge logs from elsewhere into the verdict table, so every audit runs on them (DESIGN §1).

One public function per format, registered by name in :data:`IMPORTERS`;
``import_log(fmt, path, **options)`` dispatches to it (the CLI passes ``--map key=value`` options,
so every option arrives as a string). Each importer returns a table that passes
:func:`~judgebench.verdicts.validate_verdicts` with the pair columns attached, except ``trl``:
prompt/chosen/rejected files carry no verdicts, so it returns a *pairs* table, ready to be judged.

Shared conventions (docs/design/importers.md): a winner becomes ``p_1`` (1 = response_1 wins,
0 = response_2 wins, 0.5 = tie) and ``p_first`` follows from the order; a missing, erroneous or
unparseable judgment is ``failed=True`` with NaN and the reason in ``error``, never a
preference; source columns the schema does not name are kept as metadata.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from judgebench.importers.alpacaeval import import_alpacaeval
from judgebench.importers.generic import import_generic, import_trl
from judgebench.importers.llmbar import import_llmbar
from judgebench.importers.mtbench import import_mtbench
from judgebench.importers.pandalm import import_pandalm

# Registry and dispatch

IMPORTERS: dict[str, Callable[..., pd.DataFrame]] = {
    "llmbar": import_llmbar,
    "alpacaeval": import_alpacaeval,
    "mtbench": import_mtbench,
    "pandalm": import_pandalm,
    "generic": import_generic,
    "trl": import_trl,
}


def import_log(fmt: str, path: str | Path, **options: str) -> pd.DataFrame:
    """Import an external judge log as a verdict table (``trl``: a pairs table).

    >>> import_log("mtbench", "gpt-4_pair.jsonl", questions="question.jsonl")  # doctest: +SKIP
    """
    if fmt not in IMPORTERS:
        raise ValueError(f"Unknown import format {fmt!r}; allowed formats: {sorted(IMPORTERS)}.")
    importer = IMPORTERS[fmt]
    params = inspect.signature(importer).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        allowed = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"Unknown option(s) {unknown} for format {fmt!r}; allowed: "
                             f"{allowed}.")
    return importer(path, **options)


__all__ = ["IMPORTERS", "import_alpacaeval", "import_generic", "import_llmbar", "import_log",
           "import_mtbench", "import_pandalm", "import_trl"]
