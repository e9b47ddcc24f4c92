"""The committed stubs under gen/python are exactly what `buf generate` produces now."""

import filecmp
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BUF = REPO / ".tools" / "node_modules" / ".bin" / "buf"
GEN = REPO / "gen" / "python"


def tree(root: Path) -> set[Path]:
    return {
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_stubs_regenerate_byte_identical(tmp_path: Path) -> None:
    assert BUF.exists(), f"{BUF} is missing: run `make setup`"
    template = yaml.safe_load((REPO / "buf.gen.yaml").read_text())
    outs = {plugin["out"] for plugin in template["plugins"]}
    assert outs == {"gen/python"}, f"every plugin should write gen/python, found {outs}"
    out = tmp_path / "out"
    for plugin in template["plugins"]:
        plugin["out"] = str(out)
    (tmp_path / "buf.gen.yaml").write_text(yaml.safe_dump(template))

    # Plugin paths in the template are relative to the repository root.
    result = subprocess.run(
        [str(BUF), "generate", "--template", str(tmp_path / "buf.gen.yaml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    generated = tree(out)
    assert generated, "buf generate wrote nothing"
    assert tree(GEN) == generated
    differing = sorted(str(p) for p in generated if not filecmp.cmp(out / p, GEN / p, shallow=False))
    assert differing == [], "stale stubs: run `make proto` and commit gen/python"
