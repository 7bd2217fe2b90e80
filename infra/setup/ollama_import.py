"""Imports a Hugging Face model folder into Ollama through its HTTP API (/api/blobs, /api/create).

`ollama create` (v0.24.0) names each uploaded file by its base name, so a sentence-transformers
folder's `1_Pooling/config.json` replaces the model's `config.json` and the conversion fails with
"unknown architecture". This uploads the same files under their paths in the folder.
Usage: python ollama_import.py NAME FOLDER   (OLLAMA_HOST as the ollama CLI reads it)
"""
import hashlib
import json
import os
import pathlib
import sys
import urllib.error
import urllib.request

name, folder = sys.argv[1], pathlib.Path(sys.argv[2])
host = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434")
base = host if host.startswith("http") else f"http://{host}"

# What Ollama's converter reads: the weights, every JSON file (nested ones too), the vocabulary.
paths = sorted(
    p for p in folder.rglob("*")
    if p.is_file() and (p.suffix in (".json", ".safetensors") or p.name == "vocab.txt")
)
files = {}
for p in paths:
    data = p.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:  # a blob Ollama has already is answered at once, before the body is read: ask first
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/blobs/{digest}", method="HEAD"))
    except urllib.error.HTTPError:
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/blobs/{digest}", data=data, method="POST")).read()
    files[p.relative_to(folder).as_posix()] = digest

body = json.dumps({"model": name, "files": files, "stream": False}).encode()
req = urllib.request.Request(f"{base}/api/create", data=body, method="POST", headers={"Content-Type": "application/json"})
answer = json.loads(urllib.request.urlopen(req).read() or b"{}")
if answer.get("error") or answer.get("status") != "success":
    sys.exit(f"ollama could not import {folder} as {name}: {answer}")
