"""The repository's Dockerfile, read as instructions: what the deployment tests compare the Dockerfile,
the Compose file and the Kubernetes manifests against."""

from __future__ import annotations

import re

from devtools.live_server import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [(m.group(1).upper(), m.group(2).strip()) for m in
            re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", text, flags=re.M) if not m.group(0).lstrip().startswith("#")]


def dockerfile(kind: str) -> str:
    """The arguments of the Dockerfile's one `kind` instruction (EXPOSE, CMD, HEALTHCHECK…)."""
    values = [v for k, v in dockerfile_instructions() if k == kind]
    assert len(values) == 1, f"the Dockerfile has {len(values)} {kind} instructions"
    return values[0]
