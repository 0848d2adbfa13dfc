"""Generates the example shop's messages from examples/proto/examples/*.proto.

grpcio-tools writes `examples/<file>_pb2.py` (the module path follows the .proto path, as the
descriptors other languages serve do) and mypy-protobuf their `.pyi` type stubs. They go into
the wheel as the `examples` package next to `shop` and are never committed.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def protos(root: Path) -> Path:
    """The directory holding `examples/*.proto`: inside an sdist, else the repository's."""
    for candidate in (root / "proto", root.parent / "proto"):
        if (candidate / "examples").is_dir():
            return candidate
    raise RuntimeError(f"no proto/examples/*.proto next to {root} or in the repository")


def plugin(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts"))
    if found is None:
        raise RuntimeError(f"{name} not found: install mypy-protobuf in the build environment")
    return found


class ProtoBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        import grpc_tools
        from grpc_tools import protoc

        self._out = Path(tempfile.mkdtemp(prefix="angzarr-examples-proto-"))
        include = protos(Path(self.root))
        files = sorted((include / "examples").glob("*.proto"))
        out = self._out / "python"
        out.mkdir()
        args = [
            "protoc",
            f"-I{include}",
            f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
            f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
            f"--python_out={out}",
            f"--mypy_out=quiet:{out}",
            *(str(f.relative_to(include)) for f in files),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {include / 'examples'}")
        (out / "examples" / "__init__.py").write_text(
            '"""The example shop\'s messages, generated from examples/proto/examples/*.proto."""\n'
        )
        (out / "examples" / "py.typed").write_text("")
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            build_data["force_include"][str(path)] = str(path.relative_to(out))
        print(f"angzarr-examples: generated {len(files)} message modules", file=sys.stderr)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        shutil.rmtree(self._out, ignore_errors=True)
