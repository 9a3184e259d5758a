"""Helpers for .ci/validate-integrations.sh, run with the validators' Python (ruamel.yaml comes
with check-jsonschema).

  component OUT_DIR FILE...   split GitLab components at `---`, substitute the input defaults
                              into the body, write spec and body as separate files
  scripts OUT_DIR FILE...     write every `script:` block of GitLab/Bitbucket files as a bash
                              file for shellcheck
  bitbucket-oidc OUT_DIR FILE...
                              copy Bitbucket files with `oidc: {audiences: [...]}` written as
                              `oidc: true`: the vendored schema predates step audiences, which
                              Bitbucket added later ("Bitbucket Pipelines OIDC now supports
                              multiple audiences", Atlassian blog); prints the copies' paths
  zizmor-allowed OUT_DIR FILE...
                              read zizmor's JSON findings (one file per example); fail unless
                              each is `unpinned-uses` of chuks/publish-action, the one finding
                              allowed until a first release exists
"""

import json

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
            if isinstance(default, bool):
                return str(default).lower()
            if isinstance(default, (list, dict)):
                return json.dumps(default)
            return str(default)

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


def bitbucket_oidc(out_dir, files):
    for name in files:
        text = pathlib.Path(name).read_text()
        text = re.sub(
            r"^(\s*)oidc:\n\1  audiences:\n(?:\1    - .*\n)+",
            lambda m: f"{m.group(1)}oidc: true\n",
            text,
            flags=re.M,
        )
        copy = out_dir / name.replace("/", "__")
        copy.write_text(text)
        print(copy)


def zizmor_allowed(_out_dir, files):
    bad = []
    for name in files:
        for finding in json.loads(pathlib.Path(name).read_text() or "[]"):
            features = [loc["concrete"]["feature"] for loc in finding["locations"]]
            # One location is the `uses:` value itself.
            ours = any(re.fullmatch(r"chuks/publish-action(/\S*)?@\S+", f.strip()) for f in features)
            if finding["ident"] != "unpinned-uses" or not ours:
                bad.append(f"{name}: {finding['ident']}: {finding['desc']}: {features}")
    for line in bad:
        print(line)
    if bad:
        sys.exit(1)
    print(f"{len(files)} examples: only chuks/publish-action is unpinned")


if __name__ == "__main__":
    command, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    commands = {
        "component": component,
        "scripts": scripts,
        "bitbucket-oidc": bitbucket_oidc,
        "zizmor-allowed": zizmor_allowed,
    }
    commands[command](out, sys.argv[3:])
