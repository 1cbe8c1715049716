"""The command: ``scripts/regenerate [--check]``."""

from __future__ import annotations

import argparse
import difflib
import filecmp
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import RegenerateError
from .generate import generate_into
from .provenance import explain, outputs_of, read
from .settings import GENERATED, PROVENANCE_NAME, SPEC_DIR

__all__ = ["differences", "main"]

_DESCRIPTION = "Regenerate generated/kie_api from the kie.ai OpenAPI documents in openapi/."


def _tree(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".ruff_cache" not in p.parts
    }


def differences(expected: Path, actual: Path) -> Iterator[str]:
    """Each way the tree ``actual`` differs from ``expected`` (the fresh output), with a short diff."""
    want, have = _tree(expected), _tree(actual)
    for rel in sorted(want.keys() - have.keys()):
        yield f"missing from generated/: {rel}"
    for rel in sorted(have.keys() - want.keys()):
        yield f"not produced by the generator: generated/{rel}"
    for rel in sorted(want.keys() & have.keys()):
        if not filecmp.cmp(want[rel], have[rel], shallow=False):
            diff = difflib.unified_diff(
                have[rel].read_text(encoding="utf-8", errors="replace").splitlines(),
                want[rel].read_text(encoding="utf-8", errors="replace").splitlines(),
                f"generated/{rel} (committed)",
                f"generated/{rel} (regenerated)",
                lineterm="",
                n=1,
            )
            yield f"differs: generated/{rel}\n" + "\n".join(list(diff)[:20])


def _causes(fresh: Path, committed: Path) -> list[str]:
    recorded = read(committed)
    current = read(fresh)
    if current is None:
        raise RegenerateError(f"the fresh run wrote no {PROVENANCE_NAME}")
    return explain(recorded, current, outputs_of(committed))


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit status (0 done or up to date, 1 out of date, 2 an error)."""
    parser = argparse.ArgumentParser(prog="scripts/regenerate", description=_DESCRIPTION)
    parser.add_argument("--check", action="store_true", help="fail if generated/ is not up to date")
    parser.add_argument("--spec-dir", type=Path, default=SPEC_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=GENERATED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="kie-regen-") as tmp:
            fresh = Path(tmp) / "generated"
            generate_into(fresh, args.spec_dir)
            problems = list(differences(fresh, args.output)) if args.output.exists() else []
            causes = _causes(fresh, args.output) if problems else []
            if args.check:
                if problems:
                    print("generated/ is out of date; run scripts/regenerate:", file=sys.stderr)
                    for line in causes:
                        print("  " + line, file=sys.stderr)
                    if causes:  # the record's own diff says no more than the lines above
                        problems = [p for p in problems if f"generated/{PROVENANCE_NAME}" not in p]
                    for problem in problems:
                        print("  " + problem.replace("\n", "\n    "), file=sys.stderr)
                    return 1
                print("generated/ is up to date")
                return 0
            # Swap wholesale: nothing of the old tree survives, so a removed endpoint disappears too.
            staging = args.output.with_name(args.output.name + ".new")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(fresh, staging)
            shutil.rmtree(args.output, ignore_errors=True)
            staging.rename(args.output)
            print(f"regenerated {args.output}" + "".join(f"\n  {line}" for line in causes))
            return 0
    except RegenerateError as exc:
        print(f"regenerate: {exc}", file=sys.stderr)
        return 2
