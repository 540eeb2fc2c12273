"""fuse.swap's plans, and a Filesystem making them by itself (as on a descriptor): pure, no mount."""

from __future__ import annotations

from fuse.filesystem import Filesystem, Notice
from fuse.swap import Plan, Step, VolumeState, swap_steps
from fuse.tree import FileSpec, Layout

OLD = "..2026_01_01_00_00_00.1"
NEW = "..2026_01_01_00_00_01.2"


def state(*names: str) -> VolumeState:
    return VolumeState(frozenset({"..data", OLD, *names}), OLD, {OLD: tuple((name, False) for name in names)})


def test_with_key_symlinks_the_plan_is_the_kubelet_writers_calls() -> None:
    plan = swap_steps(state("kept", "gone"), NEW, 0o755, ["kept", "new"])

    assert (
        Plan(
            (
                Step("mkdir", NEW, mode=0o700),
                Step("chmod", NEW, mode=0o755),
                Step("symlink", "..data_tmp", target=NEW),
                Step("rename", "..data_tmp", target="..data"),
                Step("symlink", "new", target="..data/new"),
                Step("unlink", "gone"),
            ),
            (Step("unlink", f"{OLD}/kept"), Step("unlink", f"{OLD}/gone"), Step("rmdir", OLD)),
        )
        == plan
    )


def test_with_key_files_names_are_switched_before_the_rename_and_new_files_linked() -> None:
    plan = swap_steps(state("kept", "gone"), NEW, 0o755, ["kept", "new", "dir"], new_files=["kept", "new"])

    assert (
        Step("mkdir", NEW, mode=0o700),
        Step("chmod", NEW, mode=0o755),
        Step("symlink", "..data_tmp", target=NEW),
        Step("switch", NEW),
        Step("rename", "..data_tmp", target="..data"),
        Step("symlink", "dir", target="..data/dir"),
        Step("link", "new", target=f"{NEW}/new"),
        Step("unlink", "gone"),
    ) == plan.publish


def layout(files: dict[str, bytes]) -> Layout:
    return Layout({f"v/{path}": FileSpec(data) for path, data in files.items()}, 0, 0, volumes=frozenset({"v"}))


def gone(fs: Filesystem, *inodes: int) -> bool:
    """No name reaches any of ``inodes`` (dropped, as the kernel never knew them)."""
    return all(inode in fs._unlinked or inode not in fs._nodes for inode in inodes)


def test_key_files_are_their_versions_files_and_follow_each_swap() -> None:
    fs = Filesystem(layout({"a": b"1", "b": b"1", "d/x": b"1"}))
    (volume,) = fs._volumes.values()
    first = volume.versions[next(iter(volume.versions))]
    assert volume.entries[b"a"] == first.by_path["a"]
    assert fs._nodes[volume.entries[b"d"]].data == b"..data/d"

    (swap,) = fs.prepare(layout({"a": b"2", "c": b"2", "d/x": b"2"})).swaps
    notices = fs.apply("v", swap.plan.publish)
    fs.finish(swap, done=True)

    second = volume.versions[swap.version.encode()]
    assert volume.entries[b"a"] == second.by_path["a"] and volume.entries[b"c"] == second.by_path["c"]
    # a and b switched (b to a stand-in, then unlinked), told with the inodes they named
    assert Notice(volume.inode, b"a", first.by_path["a"]) in notices
    assert Notice(volume.inode, b"b", first.by_path["b"]) in notices
    assert b"b" not in volume.entries
    assert fs._nodes[volume.entries[b"d"]].data == b"..data/d"
    # the old version's files keep their own names until it is removed
    assert not gone(fs, first.by_path["a"]) and not gone(fs, first.by_path["b"])
    fs.apply("v", swap.plan.retire)
    assert gone(fs, first.by_path["a"], first.by_path["b"])
    assert not gone(fs, second.by_path["a"]) and not gone(fs, second.by_path["c"])
    assert {second.by_path["a"], second.by_path["c"]} == fs._key_named


def test_a_version_dropped_with_its_volume_leaves_nothing_named() -> None:
    fs = Filesystem(layout({"a": b"1"}))
    (volume,) = fs._volumes.values()
    inode = volume.entries[b"a"]

    fs.prepare(Layout({}, 0, 0))

    assert gone(fs, inode) and not fs._key_named
