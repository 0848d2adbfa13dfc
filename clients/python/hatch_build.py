"""Generates the protobuf and gRPC modules of `angzarr` from proto/angzarr/*.proto.

grpcio-tools writes `angzarr/<file>_pb2.py` (messages) and `<file>_pb2_grpc.py` (stubs and
servicers); mypy-protobuf writes their `.pyi` type stubs. They go into the wheel next to the
hand-written modules and are never committed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def protos(root: Path) -> Path:
    """The directory holding `angzarr/*.proto`: inside an sdist, else the repository's."""
    for candidate in (root / "proto", root.parent.parent / "proto"):
        if (candidate / "angzarr").is_dir():
            return candidate
    raise RuntimeError(f"no proto/angzarr/*.proto next to {root} or in the repository")


def plugin(name: str) -> str:
    """The path of a protoc plugin installed with mypy-protobuf."""
    found = shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts"))
    if found is None:
        raise RuntimeError(f"{name} not found: install mypy-protobuf in the build environment")
    return found


def generate(include: Path, files: list[Path], out: Path) -> None:
    """Runs grpcio-tools' protoc over `files` (relative to `include`) into `out`."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{include}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out=quiet:{out}",
        f"--mypy_grpc_out=quiet:{out}",
        *(str(f.relative_to(include)) for f in files),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {', '.join(map(str, files))}")


def generated_with(package: Path) -> list[str]:
    """Requirements on the runtimes the generated code checks for at import time."""
    text = (package / "types_pb2.py").read_text() + (package / "aggregate_pb2_grpc.py").read_text()
    protobuf = re.search(r"^# Protobuf Python Version: (\S+)$", text, re.MULTILINE)
    grpc = re.search(r"^GRPC_GENERATED_VERSION = '(\S+)'$", text, re.MULTILINE)
    if protobuf is None or grpc is None:
        raise RuntimeError(f"cannot tell which runtimes the code generated in {package} needs")
    return [f"protobuf>={protobuf[1]}", f"grpcio>={grpc[1]}"]


class ProtoBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        include = protos(Path(self.root))
        self._out = Path(tempfile.mkdtemp(prefix="angzarr-proto-"))
        generate(include, sorted((include / "angzarr").glob("*.proto")), self._out)
        for path in sorted(self._out.rglob("*.py*")):
            build_data["force_include"][str(path)] = str(path.relative_to(self._out))
        # The generated code refuses runtimes older than its generator.
        build_data["dependencies"] = generated_with(self._out / "angzarr")
        print(f"angzarr: generated {len(build_data['force_include'])} modules", file=sys.stderr)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        shutil.rmtree(self._out, ignore_errors=True)
