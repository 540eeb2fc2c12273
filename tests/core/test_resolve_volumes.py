"""Secret, configMap and projected volumes resolve to the files the kubelet would write."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.manifests import config_map, container, error_lines, pod, resolve, secret

DB = secret("db", {"username": "admin", "password": "hunter2"})
MOUNT = [{"name": "creds", "mountPath": "/etc/secret"}]


def secret_volume(
    name: str = "db", *, items: list[Any] | None = None, default_mode: int | None = None, optional: bool | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"secretName": name}
    if items is not None:
        spec["items"] = items
    if default_mode is not None:
        spec["defaultMode"] = default_mode
    if optional is not None:
        spec["optional"] = optional
    return {"name": "creds", "secret": spec}


def files_of(
    volume: dict[str, Any], *objects: dict[str, Any], fs_group: int | None = None
) -> dict[str, tuple[bytes, int]]:
    resolution = resolve(pod(container(mounts=MOUNT), volumes=[volume], fs_group=fs_group), *objects)
    assert not resolution.errors, error_lines(resolution)
    (files,) = resolution.volumes
    return {path: (f.data, f.mode) for path, f in files.files.items()}


def test_every_key_becomes_a_file_with_default_mode_0644() -> None:
    assert {"password": (b"hunter2", 0o644), "username": (b"admin", 0o644)} == files_of(secret_volume(), DB)


def test_default_mode_applies_to_all_files() -> None:
    assert {"password": (b"hunter2", 0o400), "username": (b"admin", 0o400)} == files_of(
        secret_volume(default_mode=0o400), DB
    )


def test_items_select_keys_paths_and_modes() -> None:
    """TestMakePayload: only listed keys, at their paths, item mode over defaultMode."""
    items = [{"key": "password", "path": "db/pass", "mode": 0o400}, {"key": "username", "path": "user"}]

    assert {"db/pass": (b"hunter2", 0o400), "user": (b"admin", 0o440)} == files_of(
        secret_volume(items=items, default_mode=0o440), DB
    )


def test_item_paths_are_cleaned() -> None:
    assert {"a/b": (b"admin", 0o644)} == files_of(secret_volume(items=[{"key": "username", "path": "./a//b"}]), DB)


def test_same_item_path_later_wins() -> None:
    items = [{"key": "username", "path": "x"}, {"key": "password", "path": "x"}]

    assert {"x": (b"hunter2", 0o644)} == files_of(secret_volume(items=items), DB)


def test_fs_group_adds_group_read() -> None:
    """With fsGroup the kubelet sets the group and adds 0440 (read-only volume)."""
    resolution = resolve(pod(container(mounts=MOUNT), volumes=[secret_volume(default_mode=0o400)], fs_group=2000), DB)

    assert {(0o440, 2000)} == {(f.mode, f.gid) for f in resolution.volumes[0].files.values()}


def test_optional_missing_secret_gives_empty_volume() -> None:
    assert {} == files_of(secret_volume("nope", optional=True), DB)


def test_optional_missing_item_key_is_skipped() -> None:
    items = [{"key": "gone", "path": "g"}, {"key": "username", "path": "u"}]

    assert {"u": (b"admin", 0o644)} == files_of(secret_volume(items=items, optional=True), DB)


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (
            secret_volume("nope"),
            'spec.volumes[0].secret: MountVolume.SetUp failed for volume "creds": secret "nope" not found',
        ),
        (
            secret_volume(items=[{"key": "gone", "path": "g"}]),
            "spec.volumes[0].secret.items[0]: references non-existent secret key: gone",
        ),
        (
            {"name": "creds", "configMap": {"name": "cm", "items": [{"key": "gone", "path": "g"}]}},
            "spec.volumes[0].configMap.items[0]: configmap references non-existent config key: gone",
        ),
        (
            secret_volume(items=[{"key": "username", "path": "/etc/passwd"}]),
            "spec.volumes[0].secret.items[0].path: Invalid value: '/etc/passwd': must be a relative path",
        ),
        (
            secret_volume(items=[{"key": "username", "path": "../escape"}]),
            "spec.volumes[0].secret.items[0].path: Invalid value: '../escape': must not contain '..'",
        ),
        (
            secret_volume(items=[{"key": "username", "path": "a/../../b"}]),
            "spec.volumes[0].secret.items[0].path: Invalid value: 'a/../../b': must not contain '..'",
        ),
        (
            secret_volume(items=[{"key": "username", "path": "..data"}]),
            "spec.volumes[0].secret.items[0].path: Invalid value: '..data': must not start with '..'",
        ),
        (
            secret_volume(items=[{"key": "username", "path": "x" * 256}]),
            f"spec.volumes[0].secret.items[0].path: Invalid value: '{'x' * 256}': "
            "path elements must be no more than 255 characters",
        ),
        (
            secret_volume(default_mode=0o1000),
            "spec.volumes[0].secret.defaultMode: Invalid value: "
            "must be a number between 0 and 0777 (octal), both inclusive",
        ),
        (
            secret_volume(items=[{"key": "username", "path": "u", "mode": -1}]),
            "spec.volumes[0].secret.items[0].mode: Invalid value: must be a number between 0 and 0777 (octal), both "
            "inclusive",
        ),
        (
            secret_volume(items=[{"key": "username", "path": "a"}, {"key": "password", "path": "a/b"}]),
            "spec.volumes[0]: path 'a' is both a file and the directory of 'a/b'",
        ),
    ],
)
def test_volume_problems_name_the_field(volume: dict[str, Any], message: str) -> None:
    resolution = resolve(pod(container(mounts=MOUNT), volumes=[volume]), DB, config_map("cm", {"k": "v"}))

    assert [f"pod.yaml: Pod/shop/web-0: {message}"] == error_lines(resolution)


@pytest.mark.parametrize("path", [".hidden", "a/..b", "x/...", "./a"])
def test_unusual_but_valid_item_paths_are_accepted(path: str) -> None:
    """ValidateLocalNonReservedPath accepts these; only a '..' element or leading '..' is refused."""
    assert 1 == len(files_of(secret_volume(items=[{"key": "username", "path": path}]), DB))


def test_projected_sources_merge_with_later_source_winning() -> None:
    volume = {
        "name": "creds",
        "projected": {
            "defaultMode": 0o440,
            "sources": [
                {"secret": {"name": "db"}},
                {"configMap": {"name": "cm"}},
                {"secret": {"name": "other", "items": [{"key": "k", "path": "sub/k", "mode": 0o400}]}},
            ],
        },
    }
    objects = (
        DB,
        config_map("cm", {"username": "from-configmap"}, binary={"bin": b"\x00"}),
        secret("other", {"k": "v"}),
    )

    assert {
        "bin": (b"\x00", 0o440),
        "password": (b"hunter2", 0o440),
        "sub/k": (b"v", 0o400),
        "username": (b"from-configmap", 0o440),
    } == files_of(volume, *objects)


def test_projected_duplicate_item_paths_are_rejected() -> None:
    volume = {
        "name": "creds",
        "projected": {
            "sources": [
                {"secret": {"name": "db", "items": [{"key": "username", "path": "x"}]}},
                {"secret": {"name": "db", "items": [{"key": "password", "path": "x"}]}},
            ]
        },
    }
    resolution = resolve(pod(container(mounts=MOUNT), volumes=[volume]), DB)

    assert [
        'pod.yaml: Pod/shop/web-0: spec.volumes[0].projected: Invalid value: "db": conflicting duplicate paths'
    ] == error_lines(resolution)


def test_projected_downward_api_items() -> None:
    volume = {
        "name": "creds",
        "projected": {
            "sources": [
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        ]
                    }
                }
            ]
        },
    }

    # fieldpath.FormatMap: no newline after the last line.
    assert {"labels": (b'app="web"\ntier="front"', 0o644), "name": (b"web-0", 0o644)} == {
        path: value for path, value in files_of_pod(volume, labels={"tier": "front", "app": "web"}).items()
    }


def files_of_pod(volume: dict[str, Any], **metadata: Any) -> dict[str, tuple[bytes, int]]:
    resolution = resolve(pod(container(mounts=MOUNT), volumes=[volume], **metadata))
    assert not resolution.errors
    return {path: (f.data, f.mode) for path, f in resolution.volumes[0].files.items()}


def test_service_account_token_projection_is_a_warning() -> None:
    volume = {"name": "creds", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
    resolution = resolve(pod(container(mounts=MOUNT), volumes=[volume]))

    assert "serviceAccountToken projections cannot be served" in str(resolution.warnings[0])


def test_only_mounted_volumes_are_resolved_and_missing_volume_is_an_error() -> None:
    body = pod(container(mounts=[{"name": "ghost", "mountPath": "/x"}]), volumes=[secret_volume("nope")])
    resolution = resolve(body, DB)

    assert ['pod.yaml: Pod/shop/web-0: spec.containers[0].volumeMounts[0].name: Not found: "ghost"'] == error_lines(
        resolution
    )


def test_file_repr_hides_content() -> None:
    resolution = resolve(pod(container(mounts=MOUNT), volumes=[secret_volume()]), secret("db", {"k": "CANARY"}))

    assert "CANARY" not in repr(resolution.volumes)
