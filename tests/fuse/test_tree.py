"""fuse.tree: inode-per-version trees, the invalidations a replacement needs, layouts (pure, no mount)."""

from __future__ import annotations

import pytest

from fuse.tree import ROOT_INODE, DirSpec, FileSpec, Layout, build_tree, changes, split_layout


def tree(files: dict[str, bytes], previous=None, now: int = 1, **kwargs):  # type: ignore[no-untyped-def]
    return build_tree(
        {p: FileSpec(d, 0o440) for p, d in files.items()}, uid=10, gid=20, now_ns=now, previous=previous, **kwargs
    )


def test_directories_are_implied_and_listed_in_order() -> None:
    t = tree({"b/x": b"1", "a": b"2", "b/c/y": b"3"})

    assert {"", "a", "b", "b/x", "b/c", "b/c/y"} == set(t.by_path)
    assert [b"a", b"b"] == list(t.root.children or {})
    assert ROOT_INODE == t.by_path[""]


def test_directory_attributes_come_from_dir_specs_not_files() -> None:
    t = build_tree(
        {"v/k": FileSpec(b"x", 0o400, None, 7)},
        dirs={"v": DirSpec(0o2755, None, 2000)},
        root=DirSpec(0o700),
        uid=1,
        gid=2,
        now_ns=1,
    )

    v, root, k = (t.nodes[t.by_path[p]] for p in ("v", "", "v/k"))
    assert (0o42755, 1, 2000) == (v.mode, v.uid, v.gid)
    assert (0o40700, 1, 2) == (root.mode, root.uid, root.gid)
    assert (0o100400, 1, 7) == (k.mode, k.uid, k.gid)


def test_unchanged_file_keeps_inode_and_mtime_changed_file_gets_new_inode() -> None:
    first = tree({"same": b"s", "changed": b"v1"}, now=100)
    second = tree({"same": b"s", "changed": b"v2"}, previous=first, now=200)

    assert first.by_path["same"] == second.by_path["same"]
    assert first.by_path["changed"] != second.by_path["changed"]
    assert 100 == second.nodes[second.by_path["same"]].mtime_ns
    assert 200 == second.nodes[second.by_path["changed"]].mtime_ns
    assert b"v1" == first.nodes[first.by_path["changed"]].data  # the old version is intact


def test_mode_change_alone_gives_new_inode_but_keeps_mtime() -> None:
    first = tree({"f": b"x"}, now=100)
    second = build_tree({"f": FileSpec(b"x", 0o400)}, uid=10, gid=20, now_ns=200, previous=first)

    assert first.by_path["f"] != second.by_path["f"]
    assert 100 == second.nodes[second.by_path["f"]].mtime_ns


def test_invalidations_name_changed_and_removed_entries() -> None:
    first = tree({"d/a": b"1", "d/b": b"2", "gone": b"3"})
    second = tree({"d/a": b"1", "d/b": b"changed"}, previous=first, now=2)

    result = changes(first, second)

    d = first.by_path["d"]
    assert {(d, b"b", first.by_path["d/b"]), (ROOT_INODE, b"gone", first.by_path["gone"])} == set(result.entries)
    assert {ROOT_INODE, d} == set(result.attributes)  # entries replaced in both: their mtimes move


def test_identical_rebuild_needs_no_invalidation() -> None:
    first = tree({"d/a": b"1"})

    assert ((), ()) == tuple(changes(first, tree({"d/a": b"1"}, previous=first, now=5)))


@pytest.mark.parametrize("path", ["/abs", "a/../b", "a//b", "./a", ""])
def test_unclean_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="not a clean relative path"):
        tree({path: b"x"})


def test_file_and_directory_clash_is_refused() -> None:
    with pytest.raises(ValueError, match="both a file and a directory"):
        tree({"a": b"1", "a/b": b"2"})


def test_repr_hides_content() -> None:
    t = tree({"k": b"CANARY"})

    assert "CANARY" not in repr(t) + repr(list(t.nodes.values())) + repr(FileSpec(b"CANARY"))


def test_kernel_opens_files_itself_unless_each_open_must_be_seen() -> None:
    """With the patched pyfuse3 (make builds it) opens skip the daemon; audit and --allowed-uid need them."""
    import os

    import pyfuse3

    from fuse.filesystem import Filesystem
    from fuse.mount import fast_paths_missing

    patched = bool(getattr(pyfuse3, "READ_HANDLE_IS_INODE_WITHOUT_OPEN", False))
    if fast_paths_missing() and os.environ.get("CI"):
        pytest.fail("CI must build pyfuse3 with vendor/pyfuse3.patch (make does)", pytrace=False)
    layout = Layout({"k": FileSpec(b"v")}, 0, 0)

    assert patched == Filesystem(layout).no_open
    assert not Filesystem(layout, on_open=lambda event: None).no_open
    assert not Filesystem(layout, allowed_uids=frozenset({0})).no_open


def test_a_layout_splits_into_the_outside_and_each_volumes_content() -> None:
    layout = Layout(
        {".env": FileSpec(b"A=1"), "v/k": FileSpec(b"1"), "v/d/x": FileSpec(b"2"), "w/k": FileSpec(b"3")},
        0,
        0,
        dirs={"v": DirSpec(0o2755, None, 7), "v/d": DirSpec(0o2755, None, 7), "w": DirSpec()},
        volumes=frozenset({"v", "w"}),
    )

    files, dirs, contents = split_layout(layout)

    assert ([".env"], {"v": DirSpec(0o2755, None, 7), "w": DirSpec()}) == (list(files), dirs)
    assert (["k", "d/x"], {"d": DirSpec(0o2755, None, 7)}) == (list(contents["v"].files), contents["v"].dirs)
    assert DirSpec(0o2755, None, 7) == contents["v"].root


@pytest.mark.parametrize(
    ("files", "volumes", "message"),
    [
        ({"v/..data": b"x"}, {"v"}, "reserved in a volume"),
        ({"..x": b"x"}, {""}, "reserved in a volume"),
        ({"v/w/k": b"x"}, {"v", "v/w"}, "is inside volume"),
        ({"k": b"x"}, {"", "v"}, "is inside volume"),
    ],
)
def test_volumes_keep_dot_dot_names_and_do_not_nest(files: dict[str, bytes], volumes: set[str], message: str) -> None:
    layout = Layout({path: FileSpec(data) for path, data in files.items()}, 0, 0, volumes=frozenset(volumes))

    with pytest.raises(ValueError, match=message):
        split_layout(layout)


def test_a_fresh_version_has_new_inodes_and_keeps_the_mtime_of_unchanged_content() -> None:
    first = tree({"same": b"s", "changed": b"v1"}, now=100)
    second = tree({"same": b"s", "changed": b"v2"}, previous=first, now=200, fresh=True, next_inode=50, root_inode=49)

    assert 49 == second.root.inode
    assert not set(first.nodes) & set(second.nodes)
    assert 100 == second.nodes[second.by_path["same"]].mtime_ns
    assert 200 == second.nodes[second.by_path["changed"]].mtime_ns
