"""Chart archives from a real Helm repository on 127.0.0.1: index -> digest-checked archive ->
Chart.yaml, values.yaml, values.schema.json; the cache; the one URL fetcher's limits."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helm_repo_server import (
    HelmRepo,
    chart_archive,
    closed_port_url,
    drip,
    redirect,
    self_signed_certificate,
    serve_directory,
    subchart_folder,
    unsized,
)

from homelab_scaffold.errors import NetworkError
from homelab_scaffold.inspect import http
from homelab_scaffold.inspect.charts import (
    ARCHIVE_MAX_BYTES,
    ChartError,
    ChartFetcher,
    read_chart_archive,
    repository_key,
)
from homelab_scaffold.inspect.helm_index import Change, chart_entries

SCHEMA = {
    "$schema": "https://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"replicas": {"type": "integer"}},
}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_CACHE_HOME inside the test's folder; the chart cache is below it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "scaffold" / "charts"


@pytest.fixture
def repo(tmp_path: Path) -> HelmRepo:
    served = HelmRepo(tmp_path / "served" / "charts")
    served.publish("demo", "1.0.0", values={"replicas": 1, "log": {"level": "info"}},
                   schema=SCHEMA, changes=[{"kind": "added", "description": "First release"}])
    return served


@pytest.fixture
def server(tmp_path: Path, repo: HelmRepo) -> Iterator[str]:
    with serve_directory(tmp_path / "served") as url:
        yield url


def test_reads_the_files_of_a_chart_version(server: str, cache: Path) -> None:
    chart = ChartFetcher(timeout=10).chart(f"{server}/charts", "demo", "1.0.0")

    assert chart.version == "1.0.0"
    assert chart.metadata["name"] == "demo"
    assert chart.values == {"replicas": 1, "log": {"level": "info"}}
    assert chart.schema == SCHEMA
    assert chart.changes == (Change("added", "First release"),)


def test_archive_is_cached_under_repository_chart_version_and_digest(
    server: str, cache: Path, repo: HelmRepo
) -> None:
    ChartFetcher(timeout=10).chart(f"{server}/charts/", "demo", "1.0.0")

    digest = repo.details[("demo", "1.0.0")].digest
    cached = cache / repository_key(f"{server}/charts/") / "demo" / "1.0.0" / f"{digest}.tgz"
    assert cached.read_bytes() == (repo.root / "demo-1.0.0.tgz").read_bytes()


def test_second_run_uses_the_cache_without_the_server(
    tmp_path: Path, repo: HelmRepo, cache: Path
) -> None:
    with serve_directory(tmp_path / "served") as url:
        first = ChartFetcher(timeout=10).chart(f"{url}/charts", "demo", "1.0.0")

    # The server is gone: only the cache can answer now.
    second = ChartFetcher(timeout=2).chart(f"{url}/charts", "demo", "1.0.0")

    assert second == first


def test_a_cached_archive_that_no_longer_matches_its_digest_is_not_used(
    tmp_path: Path, repo: HelmRepo, cache: Path
) -> None:
    with serve_directory(tmp_path / "served") as url:
        ChartFetcher(timeout=10).chart(f"{url}/charts", "demo", "1.0.0")
    for cached in cache.rglob("*.tgz"):
        cached.write_bytes(chart_archive("demo", "1.0.0", values={"tampered": True}))

    with pytest.raises(NetworkError, match="cannot reach"):
        ChartFetcher(timeout=2).chart(f"{url}/charts", "demo", "1.0.0")


def test_a_republished_version_is_downloaded_again_when_the_index_is_at_hand(
    tmp_path: Path, repo: HelmRepo, cache: Path
) -> None:
    with serve_directory(tmp_path / "served") as url:
        ChartFetcher(timeout=10).chart(f"{url}/charts", "demo", "1.0.0")
        repo.publish("demo", "1.0.0", values={"replicas": 2})  # same version, new bytes
        fetcher = ChartFetcher(timeout=10)
        fetcher.index(f"{url}/charts")  # read anyway, as `outdated` does

        assert fetcher.chart(f"{url}/charts", "demo", "1.0.0").values == {"replicas": 2}


def test_a_republished_version_is_still_checked_against_the_index_digest(
    tmp_path: Path, repo: HelmRepo, cache: Path
) -> None:
    with serve_directory(tmp_path / "served") as url:
        ChartFetcher(timeout=10).chart(f"{url}/charts", "demo", "1.0.0")
        repo.publish("demo", "1.0.0", values={"replicas": 2}, digest="ab" * 32)
        fetcher = ChartFetcher(timeout=10)
        fetcher.index(f"{url}/charts")

        with pytest.raises(ChartError, match="does not match the digest " + "ab" * 32):
            fetcher.chart(f"{url}/charts", "demo", "1.0.0")


def test_relative_and_absolute_archive_urls(tmp_path: Path, cache: Path) -> None:
    charts = HelmRepo(tmp_path / "served" / "repo")
    (tmp_path / "served" / "elsewhere").mkdir()
    moved = chart_archive("moved", "2.0.0", values={"a": 1})
    (tmp_path / "served" / "elsewhere" / "moved-2.0.0.tgz").write_bytes(moved)
    charts.publish("relative", "1.0.0", values={"b": 2})
    with serve_directory(tmp_path / "served") as url:
        charts.publish("moved", "2.0.0", archive=moved, url=f"{url}/elsewhere/moved-2.0.0.tgz")
        fetcher = ChartFetcher(timeout=10)

        assert fetcher.chart(f"{url}/repo", "relative", "1.0.0").values == {"b": 2}
        assert fetcher.chart(f"{url}/repo", "moved", "2.0.0").values == {"a": 1}


def test_digest_mismatch_is_refused_in_one_line(tmp_path: Path, cache: Path) -> None:
    charts = HelmRepo(tmp_path / "served" / "charts")
    charts.publish("demo", "1.0.0", values={"a": 1}, digest="0" * 64)

    with serve_directory(tmp_path / "served") as url, pytest.raises(ChartError) as caught:
        ChartFetcher(timeout=10).chart(f"{url}/charts", "demo", "1.0.0")

    message = caught.value.message
    assert "does not match the digest " + "0" * 64 in message
    assert "\n" not in message
    assert not list(cache.rglob("*.tgz"))


def test_version_not_in_the_index(server: str, cache: Path) -> None:
    with pytest.raises(ChartError, match=r"does not list demo 9\.9\.9"):
        ChartFetcher(timeout=10).chart(f"{server}/charts", "demo", "9.9.9")


def test_unreachable_repository(cache: Path) -> None:
    url = closed_port_url()

    with pytest.raises(NetworkError, match=f"cannot reach {url}/index.yaml"):
        ChartFetcher(timeout=5).chart(url, "demo", "1.0.0")


def test_path_traversal_member_is_refused() -> None:
    archive = chart_archive("demo", "1.0.0", extra={"demo/../../etc/evil": b"x"})

    with pytest.raises(ChartError, match="path traversal"):
        read_chart_archive(archive, "demo", "demo-1.0.0.tgz")


def test_absolute_member_is_refused() -> None:
    archive = chart_archive("demo", "1.0.0", extra={"/etc/passwd": b"x"})

    with pytest.raises(ChartError, match="points outside the chart"):
        read_chart_archive(archive, "demo", "demo-1.0.0.tgz")


def test_oversized_member_is_refused() -> None:
    huge = b"# " + b"x" * (8 * 1024 * 1024) + b"\n"
    archive = chart_archive("demo", "1.0.0", values=huge.decode())

    with pytest.raises(ChartError, match="more than the"):
        read_chart_archive(archive, "demo", "demo-1.0.0.tgz")


def test_not_an_archive() -> None:
    with pytest.raises(ChartError, match="not a readable chart archive"):
        read_chart_archive(b"<html>not found</html>", "demo", "demo-1.0.0.tgz")


def test_archive_without_the_chart() -> None:
    archive = chart_archive("one", "1.0.0", folder="one", extra={"two/Chart.yaml": b"name: two\n"})

    with pytest.raises(ChartError, match="holds no demo/Chart.yaml"):
        read_chart_archive(archive, "demo", "x.tgz")


def test_archive_folder_named_otherwise_is_still_read() -> None:
    archive = chart_archive("demo", "1.0.0", values={"a": 1}, folder="packaged")

    assert read_chart_archive(archive, "demo", "x.tgz").values == {"a": 1}


def test_values_that_are_not_a_mapping() -> None:
    archive = chart_archive("demo", "1.0.0", values="- a\n- b\n")

    with pytest.raises(ChartError, match=r"values\.yaml is not a mapping"):
        read_chart_archive(archive, "demo", "x.tgz")


# --- subcharts bundled in the archive -------------------------------------------------------


def stack_archive(**extra: bytes) -> bytes:
    """A chart bundling grafana as a folder and redis (aliased ``cache``) as a nested archive,
    and listing a ``crds`` dependency it does not bundle."""
    redis = chart_archive("redis", "19.0.1", values={"auth": {"enabled": True}}, schema=SCHEMA)
    members = {
        **subchart_folder("stack", "grafana", "8.5.0", values={"adminUser": "admin"}),
        "stack/charts/redis-19.0.1.tgz": redis,
        **extra,
    }
    return chart_archive(
        "stack", "70.0.0", values={"grafana": {"enabled": True}}, extra=members,
        dependencies=[{"name": "grafana", "version": "8.x.x"},
                      {"name": "redis", "version": "19.0.1", "alias": "cache"},
                      {"name": "crds", "version": "0.0.0"}],
    )


def test_subcharts_are_read_from_folders_and_nested_archives() -> None:
    chart = read_chart_archive(stack_archive(), "stack", "stack-70.0.0.tgz")

    subcharts = dict(chart.subcharts)
    assert sorted(subcharts) == ["cache", "grafana"]
    assert (subcharts["grafana"].name, subcharts["grafana"].version) == ("grafana", "8.5.0")
    assert subcharts["grafana"].values == {"adminUser": "admin"}
    assert subcharts["cache"].name == "redis"
    assert subcharts["cache"].values == {"auth": {"enabled": True}}
    assert subcharts["cache"].schema == SCHEMA
    assert chart.unbundled == (("crds", "crds"),)


def test_a_nested_archive_is_held_to_the_same_traversal_rule() -> None:
    evil = chart_archive("redis", "19.0.1", extra={"redis/../../../etc/evil": b"x"})

    with pytest.raises(ChartError, match="path traversal"):
        read_chart_archive(stack_archive(**{"stack/charts/redis-19.0.1.tgz": evil}), "stack",
                           "stack-70.0.0.tgz")


def test_a_nested_archive_that_is_not_one_is_refused() -> None:
    broken = {"stack/charts/redis-19.0.1.tgz": b"<html>gone</html>"}

    with pytest.raises(ChartError, match=r"charts/redis-19\.0\.1\.tgz is not a readable"):
        read_chart_archive(stack_archive(**broken), "stack", "stack-70.0.0.tgz")


def test_a_nested_archive_shares_the_unpacked_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from homelab_scaffold.inspect import charts

    archive = stack_archive()
    outer = len(gzip.decompress(archive))
    # The outer archive alone fits; with the nested one it no longer does.
    monkeypatch.setattr(charts, "UNPACKED_MAX_BYTES", outer + 1024)

    with pytest.raises(ChartError, match="unpacks to more than"):
        read_chart_archive(archive, "stack", "stack-70.0.0.tgz")


def nested_charts(count: int) -> bytes:
    """``count`` charts, each bundling the next as a nested archive."""
    archive = chart_archive(f"c{count - 1}", "1.0.0")
    for level in reversed(range(count - 1)):
        inner = f"c{level}/charts/c{level + 1}-1.0.0.tgz"
        archive = chart_archive(f"c{level}", "1.0.0", extra={inner: archive})
    return archive


def test_subcharts_nested_too_deep_are_refused() -> None:
    from homelab_scaffold.inspect.charts import SUBCHART_MAX_DEPTH

    deepest = read_chart_archive(nested_charts(SUBCHART_MAX_DEPTH + 1), "c0", "c0.tgz")
    for _ in range(SUBCHART_MAX_DEPTH):
        deepest = dict(deepest.subcharts)[f"c{int(deepest.name[1:]) + 1}"]
    assert deepest.name == f"c{SUBCHART_MAX_DEPTH}"

    with pytest.raises(ChartError, match=f"nested more than {SUBCHART_MAX_DEPTH} deep"):
        read_chart_archive(nested_charts(SUBCHART_MAX_DEPTH + 2), "c0", "c0.tgz")


def test_index_entries_carry_urls_digests_and_change_notes(repo: HelmRepo) -> None:
    repo.publish("demo", "1.1.0", values={}, changes=["Plain note", {"kind": "fixed",
                                                                      "description": "A bug"}])
    text = (repo.root / "index.yaml").read_text()

    entries = {e.version: e for e in chart_entries(text, "demo")}

    assert entries["1.1.0"].urls == ("demo-1.1.0.tgz",)
    assert entries["1.1.0"].digest == repo.details[("demo", "1.1.0")].digest
    assert entries["1.1.0"].changes == (Change("", "Plain note"), Change("fixed", "A bug"))


# --- the one URL fetcher -------------------------------------------------------------------------


def test_a_dripping_server_cannot_hold_the_request_past_its_deadline(tmp_path: Path) -> None:
    # 40 bytes at one every 0.25 s: each read is quick, so only a deadline for the whole
    # request stops it before the body is complete (after 10 s).
    with serve_directory(tmp_path, {"/slow": drip(b"y" * 40, 0.25)}) as url:
        with pytest.raises(NetworkError, match=r"timed out after 1 s"):
            http.fetch(f"{url}/slow", 1.0)


def test_oversized_response_with_a_length_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"z" * 2048)

    with serve_directory(tmp_path) as url, pytest.raises(NetworkError, match="larger than"):
        http.fetch(f"{url}/big", 5.0, max_bytes=1024)


def test_oversized_response_without_a_length_is_cut_at_the_cap(tmp_path: Path) -> None:
    with serve_directory(tmp_path, {"/stream": unsized(ARCHIVE_MAX_BYTES + 1)}) as url:
        with pytest.raises(NetworkError, match="larger than 16 MiB"):
            http.fetch(f"{url}/stream", 10.0, max_bytes=ARCHIVE_MAX_BYTES)


def test_response_exactly_at_the_cap_is_read(tmp_path: Path) -> None:
    with serve_directory(tmp_path, {"/stream": unsized(4096, chunk=1000)}) as url:
        assert http.fetch(f"{url}/stream", 10.0, max_bytes=4096) == b"x" * 4096


def test_redirects_are_followed(tmp_path: Path) -> None:
    (tmp_path / "target.txt").write_text("arrived")
    routes = {"/a": redirect("/b"), "/b": redirect("/target.txt", 301)}

    with serve_directory(tmp_path, routes) as url:
        assert http.fetch(f"{url}/a", 5.0) == b"arrived"


def test_redirect_loop_is_one_line(tmp_path: Path) -> None:
    with serve_directory(tmp_path, {"/a": redirect("/b"), "/b": redirect("/a")}) as url:
        with pytest.raises(NetworkError) as caught:
            http.fetch(f"{url}/a", 5.0)

    assert caught.value.message.startswith(f"cannot fetch {url}/a: redirect loop")
    assert "\n" not in caught.value.message


def test_too_many_redirects(tmp_path: Path) -> None:
    routes = {f"/{i}": redirect(f"/{i + 1}") for i in range(20)}

    with serve_directory(tmp_path, routes) as url, pytest.raises(NetworkError) as caught:
        http.fetch(f"{url}/0", 5.0)

    assert caught.value.message == f"cannot fetch {url}/0: more than 10 redirects"


def test_redirect_to_another_scheme_is_refused(tmp_path: Path) -> None:
    with serve_directory(tmp_path, {"/a": redirect("file:///etc/passwd")}) as url:
        with pytest.raises(NetworkError, match="only http"):
            http.fetch(f"{url}/a", 5.0)


def test_missing_file_is_none(tmp_path: Path) -> None:
    with serve_directory(tmp_path) as url:
        assert http.fetch(f"{url}/nothing", 5.0) is None


def test_a_dripping_repository_times_out(tmp_path: Path, cache: Path) -> None:
    index = (b"apiVersion: v1\nentries: {}\n" * 4)
    with serve_directory(tmp_path, {"/slow/index.yaml": drip(index, 0.2)}) as url:
        with pytest.raises(NetworkError, match=rf"cannot reach {url}/slow/index.yaml: timed out"):
            ChartFetcher(timeout=1).chart(f"{url}/slow", "demo", "1.0.0")


def test_a_repository_that_redirects_in_a_loop(tmp_path: Path, cache: Path) -> None:
    routes = {"/loop/index.yaml": redirect("/loop/again.yaml"),
              "/loop/again.yaml": redirect("/loop/index.yaml")}
    with serve_directory(tmp_path, routes) as url, pytest.raises(NetworkError) as caught:
        ChartFetcher(timeout=5).chart(f"{url}/loop", "demo", "1.0.0")

    assert caught.value.message == (
        f"cannot fetch {url}/loop/index.yaml: redirect loop (back to {url}/loop/index.yaml)"
    )


def test_an_oversized_archive_is_refused(tmp_path: Path, cache: Path) -> None:
    charts = HelmRepo(tmp_path / "served" / "charts")
    charts.publish("demo", "1.0.0", values={"a": 1})
    routes = {"/charts/demo-1.0.0.tgz": unsized(ARCHIVE_MAX_BYTES + 1)}
    with serve_directory(tmp_path / "served", routes) as url:
        with pytest.raises(NetworkError, match="larger than 16 MiB"):
            ChartFetcher(timeout=10).chart(f"{url}/charts", "demo", "1.0.0")


def test_https_is_read_and_bounded_by_the_same_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls[0]))  # trust it as the system store would
    (tmp_path / "ok.txt").write_text("secure")
    routes = {"/slow": drip(b"s" * 40, 0.25), "/down": redirect("http://127.0.0.1:9/x")}

    with serve_directory(tmp_path, routes, tls=tls) as url:
        assert url.startswith("https://")
        assert http.fetch(f"{url}/ok.txt", 5.0) == b"secure"
        with pytest.raises(NetworkError, match="timed out after 1 s"):
            http.fetch(f"{url}/slow", 1.0)
        with pytest.raises(NetworkError, match="from https to plain http"):
            http.fetch(f"{url}/down", 5.0)


def slow_lookup(monkeypatch: pytest.MonkeyPatch, delay: float) -> list[str]:
    """socket.getaddrinfo that waits ``delay`` seconds, then finds localhost at 127.0.0.1;
    returns the names looked up."""
    import socket

    real = socket.getaddrinfo
    looked_up: list[str] = []

    def lookup(host: str, port: int, *args: object, **kwargs: object) -> object:
        looked_up.append(host)
        time.sleep(delay)
        return real("127.0.0.1" if host == "localhost" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return looked_up


def test_a_slow_host_name_lookup_ends_at_the_deadline_naming_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_lookup(monkeypatch, 5.0)
    started = time.monotonic()

    with pytest.raises(NetworkError) as caught:
        http.fetch("https://charts.example.invalid/index.yaml", 0.5)

    assert time.monotonic() - started < 2.0
    message = caught.value.message
    assert message == (
        "cannot reach https://charts.example.invalid/index.yaml: the host name lookup of "
        "charts.example.invalid did not finish within 0.5 s"
    )


def test_a_looked_up_name_keeps_the_host_header_and_the_certificate_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ok.txt").write_text("found")
    with serve_directory(tmp_path) as url:
        port = url.rsplit(":", 1)[1]
        looked_up = slow_lookup(monkeypatch, 0.1)
        assert http.fetch(f"http://localhost:{port}/ok.txt", 5.0) == b"found"
    assert looked_up == ["localhost"]

    # The certificate names 127.0.0.1 only: reached as localhost, it must not be trusted,
    # though the socket connects to 127.0.0.1.
    tls = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls[0]))
    with serve_directory(tmp_path, tls=tls) as url, pytest.raises(NetworkError) as caught:
        port = url.rsplit(":", 1)[1]
        assert http.fetch(f"{url}/ok.txt", 5.0) == b"found"  # by address: trusted
        http.fetch(f"https://localhost:{port}/ok.txt", 5.0)
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert "localhost" in caught.value.message


def test_untrusted_certificate_is_one_line(tmp_path: Path) -> None:
    tls = self_signed_certificate(tmp_path)

    with serve_directory(tmp_path, tls=tls) as url, pytest.raises(NetworkError) as caught:
        http.fetch(f"{url}/anything", 5.0)

    assert caught.value.message.startswith(f"cannot reach {url}/anything: ")
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert "\n" not in caught.value.message


def test_an_index_larger_than_other_yaml_is_read_whole() -> None:
    # Not Helm's layout (JSON), so it is parsed whole: 4.5 MB is over the 4 MiB cap on other
    # YAML scaffold reads, and under the cap for indexes.
    import json

    long = "x" * 450_000
    entries = [{"name": "app", "version": f"1.0.{i}", "description": long, "urls": [f"a-{i}.tgz"],
                "digest": "ab" * 32} for i in range(10)]
    text = json.dumps({"apiVersion": "v1", "entries": {"app": entries}})
    assert len(text) > 4 * 1024 * 1024

    found = chart_entries(text, "app")

    assert [e.version for e in found] == [f"1.0.{i}" for i in range(10)]


def test_an_index_that_expands_through_aliases_is_refused() -> None:
    from homelab_scaffold.inspect.helm_index import IndexUnreadable

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    bomb = "\n".join(lines) + "\nentries: {app: [{version: 1.0.0, bomb: *a7}]}\n"

    with pytest.raises(IndexUnreadable, match="expands through aliases"):
        chart_entries(bomb, "app")
