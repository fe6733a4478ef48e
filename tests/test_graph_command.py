"""`scaffold graph`: the plan's Applications by wave, as text, mermaid and JSON; the README's
mermaid diagram is the same text."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import Generated, invoke, snapshot, write_config

from homelab_scaffold.generate.answers import parse_answers
from homelab_scaffold.repo.answers_file import read_config_file as read_answers_file
from homelab_scaffold.generate.appgraph import app_graph, graph_mermaid
from homelab_scaffold.generate.pipeline import load_catalog_for
from homelab_scaffold.generate.plan import Plan, build_plan

NODE = re.compile(r'^    (app_\w+)\["([^"]+)"\]$')
NEED = re.compile(r"^  (app_\w+) --> (app_\w+)$")
AFTER = re.compile(r"^  (app_\w+) -\.-> (app_\w+)$")


def plan_of(repo: Path) -> Plan:
    answers = parse_answers(read_answers_file(repo / "scaffold.yaml"), "scaffold.yaml")
    return build_plan(answers, load_catalog_for(answers, repo))


def graph(repo: Path, output: str) -> str:
    run = invoke("graph", "-C", repo, "--output", output)
    assert run.exit_code == 0, run.stderr
    return run.stdout


def test_json_lists_every_application_of_the_plan_with_its_wave_and_needs(
    full_stack: Generated,
) -> None:
    data = json.loads(graph(full_stack.root, "json"))
    plan = plan_of(full_stack.root)
    assert [a["name"] for a in data["applications"]] == [app.name for app in plan.apps]
    for entry, app in zip(data["applications"], plan.apps, strict=True):
        assert entry["wave"] == app.wave
        assert entry["component"] == app.component
        assert entry["needs"] == list(app.spec.needs)
        assert set(entry["after"]) <= set(app.spec.after)
    vaultwarden = next(a for a in data["applications"] if a["name"] == "vaultwarden")
    assert "sealed-secrets" in vaultwarden["needs"]


def test_every_need_points_to_an_earlier_wave(full_stack: Generated) -> None:
    apps = json.loads(graph(full_stack.root, "json"))["applications"]
    waves = {a["name"]: a["wave"] for a in apps}
    for app in apps:
        for first in [*app["needs"], *app["after"]]:
            assert waves[first] < app["wave"], (first, app["name"])


def test_mermaid_has_one_node_per_application_and_one_edge_per_need(
    full_stack: Generated,
) -> None:
    lines = graph(full_stack.root, "mermaid").splitlines()
    assert lines[0] == "flowchart LR"
    nodes = dict(m.groups() for line in lines if (m := NODE.match(line)))
    needs = [m.groups() for line in lines if (m := NEED.match(line))]
    afters = [m.groups() for line in lines if (m := AFTER.match(line))]
    plan = plan_of(full_stack.root)
    selected = {app.name for app in plan.apps}
    assert sorted(nodes.values()) == sorted(selected)
    assert len(nodes) == len(plan.apps)
    assert sorted((nodes[a], nodes[b]) for a, b in needs) == sorted(
        (need, app.name) for app in plan.apps for need in app.spec.needs
    )
    assert sorted((nodes[a], nodes[b]) for a, b in afters) == sorted(
        (first, app.name) for app in plan.apps for first in app.spec.after if first in selected
    )


def test_mermaid_groups_the_applications_by_wave(full_stack: Generated) -> None:
    text = graph(full_stack.root, "mermaid")
    plan = plan_of(full_stack.root)
    for wave in sorted({app.wave for app in plan.apps}):
        block = text.split(f'subgraph wave_{wave}["wave {wave}"]\n', 1)[1].split("  end\n", 1)[0]
        shown = [NODE.match(line).group(2) for line in block.splitlines()]  # type: ignore[union-attr]
        assert shown == [app.name for app in plan.apps if app.wave == wave]


def test_text_shows_each_wave_and_what_each_application_waits_for(
    full_stack: Generated,
) -> None:
    lines = graph(full_stack.root, "text").splitlines()
    assert lines[0] == "wave 0"
    assert lines[1].split() == ["argocd"]
    plan = plan_of(full_stack.root)
    traefik = next(app for app in plan.apps if app.name == "traefik")
    line = next(line for line in lines if line.split()[:1] == ["traefik"])
    assert line.split(None, 1)[1] == "needs " + ", ".join(traefik.spec.needs)
    assert lines.index(f"wave {traefik.wave}") < lines.index(line)


def test_the_readme_shows_the_same_mermaid_graph(full_stack: Generated) -> None:
    readme = (full_stack.root / "README.md").read_text()
    expected = graph_mermaid(app_graph(plan_of(full_stack.root)))
    assert f"```mermaid\n{expected}```\n" in readme
    assert graph(full_stack.root, "mermaid") == expected


def test_graph_follows_scaffold_yaml_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "in.yaml", {"components": {"test-app": {}}})
    repo = tmp_path / "repo"
    assert invoke("init", repo, "--config", config).exit_code == 0
    before = snapshot(repo)
    names = [a["name"] for a in json.loads(graph(repo, "json"))["applications"]]
    assert "test-app" in names and "longhorn" not in names
    for output in ("text", "mermaid"):
        graph(repo, output)
    assert snapshot(repo) == before


def test_a_mermaid_keyword_as_an_application_name_stays_a_label() -> None:
    from homelab_scaffold.generate.appgraph import GraphNode

    text = graph_mermaid([GraphNode("end", "end", 1, "x", (), ())])
    assert '    app_end["end"]' in text.splitlines()


def test_a_folder_without_scaffold_yaml_exits_2(tmp_path: Path) -> None:
    run = invoke("graph", "-C", tmp_path)
    assert run.exit_code == 2
    assert run.stderr_lines == [
        f"Error: no scaffold.yaml in {tmp_path.resolve()}; run `scaffold init` first, "
        "or pass -C DIR for the repository"
    ]


def test_an_unknown_output_format_exits_2(full_stack: Generated) -> None:
    run = invoke("graph", "-C", full_stack.root, "--output", "svg")
    assert run.exit_code == 2
    assert "'svg' is not one of 'text', 'mermaid', 'json'" in run.stderr_lines[-1]
