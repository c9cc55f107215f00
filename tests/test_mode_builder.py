"""One option table (migrator/mode.py OPTIONS) and one Mode builder for the command line, the
config file and the KRM functionConfig: the same values give the same Mode, whichever way they
came in, and each front end accepts exactly the table's choices."""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator import cli, config
from migrator.integrations import krm
from migrator import flags as cli_flags  # the run's config lives there (the typer app's module imports it)
from migrator.text.documents import parse
from migrator.mode import OPTIONS, Mode

VALUES = st.fixed_dictionaries({
    o.field: (st.booleans() if o.kind == "bool" else
              st.sampled_from(o.choices) if o.default is not None else st.none() | st.sampled_from(o.choices))
    for o in OPTIONS})


def _cli(v: dict[str, Any]) -> Mode:
    enum = {"kube_version": cli.KubeVersion, "placement": cli.Templates, "sharing": cli.Sharing,
            "gitops": cli.GitOps, "migration_path": cli.MigrationPath}
    args = {k: (enum[k](x) if k in enum and x is not None else x) for k, x in v.items()}
    return cli._mode(**{"kube_version": args["kube_version"], "placement": args["placement"],
                        "convert_unknown": args["convert_unknown"], "keep_node_labels": args["keep_node_labels"],
                        "sharing": args["sharing"], "gitops": args["gitops"],
                        "migration_path": args["migration_path"]})


def _config(v: dict[str, Any]) -> dict[str, Any]:
    text = yaml.safe_dump({o.config: v[o.field] for o in OPTIONS if v[o.field] is not None})
    return config._from_yaml(text, ".dra-migrate.yaml").flags


def _krm(v: dict[str, Any]) -> Mode:
    data = {o.krm: (str(v[o.field]).lower() if o.kind == "bool" else v[o.field] or "")
            for o in OPTIONS if o.krm}
    node = parse(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "data": data}), "fn.yaml")[0].root
    mode, problems = krm.mode_from_config(node)
    assert problems == []
    return mode


@settings(max_examples=80, deadline=None)
@given(VALUES)
def test_every_front_end_builds_the_same_mode(v: dict[str, Any]) -> None:
    cli_flags._CONFIG = config.Config()  # no project file around (main() reads it again on each run)
    try:
        from_cli = _cli(v)
    finally:
        cli_flags._CONFIG = None
    flags = _config(v)
    assert flags == {o.config: v[o.field] for o in OPTIONS if v[o.field] is not None}
    cli_flags._CONFIG = config.Config()
    try:
        from_config = _cli({o.field: flags.get(o.config, v[o.field] if o.kind == "bool" else o.default)
                            for o in OPTIONS})
    finally:
        cli_flags._CONFIG = None
    assert from_config == from_cli
    from_krm = _krm(v)  # KRM has no templates or gitops option: those keep their defaults
    want = dataclasses.replace(from_cli, krm=True, placement="inline", gitops=None)
    assert from_krm == want


def test_each_front_end_accepts_exactly_the_table() -> None:
    enums = {"kube_version": cli.KubeVersion, "placement": cli.Templates, "sharing": cli.Sharing,
             "gitops": cli.GitOps, "migration_path": cli.MigrationPath}
    for o in OPTIONS:
        if o.kind == "bool":
            assert o.config in config.BOOL_KEYS
            continue
        assert tuple(m.value for m in enums[o.field]) == o.choices, o.field
        if o.kind == "choice":
            assert config.CHOICES[o.config] == o.choices
    assert config.FLAG_KEYS == tuple(o.config for o in OPTIONS)
    assert krm.OPTIONS == tuple(o.krm for o in OPTIONS if o.krm)
