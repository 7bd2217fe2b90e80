"""Synadia's Agent Protocol SDK (synadia-ai-agents) against a Lyra mesh, for test/real/synadia.test.ts.

Discovers every agent of the owner, prompts one role and reads its status, and prints one JSON
document on stdout: what the SDK saw. Then prompts a role whose answer fails, and
reports the error the SDK raised. Usage: synadia_probe.py NATS_URL OWNER ROLE PROMPT FAILING_ROLE
"""
import asyncio
import json
import logging
import sys

import nats
from synadia_ai.agents import Agents, DiscoverFilter, ProtocolError, ResponseChunk, StatusChunk


class Collect(logging.Handler):
    """Keeps the SDK's warnings: it logs what it finds wrong with an agent and then goes on."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def main(url: str, owner: str, role: str, prompt: str, failing_role: str) -> None:
    warnings = Collect()
    logging.getLogger("synadia_ai").addHandler(warnings)
    nc = await nats.connect(url)
    agents = Agents(nc=nc, stream_inactivity_timeout=30.0)
    try:
        found = await agents.discover(timeout=1.5, filter=DiscoverFilter(agent="lyra", owner=owner))
        out = {
            "agents": [
                {
                    "instance_id": a.instance_id,
                    "agent": a.agent,
                    "owner": a.owner,
                    "session_name": a.session_name,
                    "protocol_version": a.protocol_version,
                    "prompt_subject": a.prompt_subject,
                    "endpoints": [e.name for e in a.endpoints],
                }
                for a in found
            ],
            "chunks": [],
        }
        target = next((a for a in found if a.session_name == role), None)
        if target is None:
            raise SystemExit(f"no agent with session_name {role!r} among {[a.session_name for a in found]}")
        async for m in target.prompt(prompt, max_wait_s=60.0):
            if isinstance(m, ResponseChunk):
                out["chunks"].append({"type": "response", "text": m.text})
            elif isinstance(m, StatusChunk):
                out["chunks"].append({"type": "status", "status": m.status})
            else:
                out["chunks"].append({"type": type(m).__name__})
        hb = await target.status(timeout_s=5.0)
        out["status"] = json.loads(hb.model_dump_json())
        out["pings"] = [await agents.ping(a.instance_id, timeout=5.0) for a in found]
        out["sdk_warnings_before_error"] = list(warnings.lines)
        # A role whose answer fails: the SDK must get an error, not wait for the end of a stream.
        failing = next(a for a in found if a.session_name == failing_role)
        try:
            async for _ in failing.prompt(prompt, max_wait_s=60.0, timeout=20.0):
                pass
            out["error"] = None
        except ProtocolError as exc:
            out["error"] = {"class": type(exc).__name__, "message": str(exc)}
        print(json.dumps(out))
    finally:
        await agents.close()
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
