"""Helpers for .ci/validate-integrations.sh, run with the validators' Python (ruamel.yaml comes
with check-jsonschema).

  component OUT_DIR FILE...   split GitLab components at `---`, substitute the input defaults
                              into the body, write spec and body as separate files
  scripts OUT_DIR FILE...     write every `script:` block of GitLab/Bitbucket files as a bash
                              file for shellcheck
"""

import pathlib
import re
import sys

from ruamel.yaml import YAML


def component(out_dir, files):
    yaml = YAML(typ="safe")
    for name in files:
        text = pathlib.Path(name).read_text()
        header, body = re.split(r"^---\s*$", text, maxsplit=1, flags=re.M)
        spec = yaml.load(header)
        inputs = spec["spec"]["inputs"]

        def value(match):
            default = inputs[match.group(1)].get("default", "")
            return str(default).lower() if isinstance(default, bool) else str(default)

        body = re.sub(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", value, body)
        stem = pathlib.Path(name).parent.name
        (out_dir / f"{stem}.spec.yml").write_text(header)
        (out_dir / f"{stem}.body.gitlab-ci.yml").write_text(body)
        print(f"{name}: spec and body (inputs at their defaults) written")


def scripts(out_dir, files):
    yaml = YAML(typ="safe")
    count = 0

    def walk(node, origin):
        nonlocal count
        if isinstance(node, dict):
            for key, child in node.items():
                if key in ("script", "before_script", "after_script") and isinstance(child, list):
                    lines = [c for c in child if isinstance(c, str)]
                    if lines:
                        count += 1
                        path = out_dir / f"{pathlib.Path(origin).name}.{count}.sh"
                        path.write_text(
                            f"#!/usr/bin/env bash\n# from {origin}\n" + "\n".join(lines) + "\n"
                        )
                else:
                    walk(child, origin)
        elif isinstance(node, list):
            for child in node:
                walk(child, origin)

    for name in files:
        text = pathlib.Path(name).read_text()
        for document in re.split(r"^---\s*$", text, flags=re.M):
            walk(yaml.load(document), name)


if __name__ == "__main__":
    command, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    {"component": component, "scripts": scripts}[command](out, sys.argv[3:])
