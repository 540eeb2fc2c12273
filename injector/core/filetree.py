"""What a resolved container's files look like: the mount's view and ``render files``' JSON.

Default view: one directory per secret/configMap/projected volume the container mounts, named
after the volume, holding the kubelet's layout; ``.env`` (the container's env-file) and, when the
pod has pull secrets, ``.docker/config.json`` for the container's own image (its registry host with
the credential the kubelet tries first). Volume names are DNS labels, so the dot-names never
collide. With ``volume``, the root is that one volume, as the kubelet shows it at its mountPath.
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Mapping
from typing import NamedTuple

from fuse.tree import DirSpec, FileSpec
from injector.core.dockerconfig import render_config_json
from injector.core.envfile import render_env
from injector.core.pullcredentials import docker_config
from injector.core.resolve import File, Resolution
from injector.errors import InjectorWarning, OutputError, Setting, UsageError

SECRET_FILE_MODE = 0o400
"""``.env`` and ``.docker/config.json``: readable by the owner only."""


class MountView(NamedTuple):
    """Files and directories of a mount, and its root directory's attributes."""

    files: dict[str, FileSpec]
    dirs: dict[str, DirSpec]
    root: DirSpec
    warnings: list[InjectorWarning]
    """What the view leaves out, and why (an env that cannot be written in the ``.env`` format)."""
    volumes: list[str]
    """The directories that are volumes, served with the kubelet's ``..data`` layout and swaps
    (``""``: the root); a subPath's directory is not one, as the kubelet bind-mounts it as it is."""
    version_dir: DirSpec = DirSpec(0o755)
    """Each volume's version directories (``..<timestamp>``) and the directories inside them."""


def _with_fs_group(resolution: Resolution, mode: int) -> DirSpec:
    """A directory the kubelet made with ``mode``, after SetVolumeOwnership: with an fsGroup, that group,
    setgid, and the group's read and search bits (its read-only mask 0440 and exec mask 0110)."""
    fs_group = resolution.pod.fs_group
    return DirSpec(mode) if fs_group is None else DirSpec(mode | 0o2550, None, fs_group)


def _inner_dir_spec(resolution: Resolution) -> DirSpec:
    # The atomic writer chmods each ..<timestamp> directory 0755 (and makes the ones inside it so).
    return _with_fs_group(resolution, 0o755)


def _volume_dir_spec(resolution: Resolution, source: str) -> DirSpec:
    # The volume's own directory is the emptyDir the kubelet wraps it in: a configMap's is on disk, made 0777;
    # the others' is a tmpfs, whose root is 1777.
    return _with_fs_group(resolution, 0o777 if source == "configMap" else 0o1777)


def _add_volume(
    view: MountView,
    resolution: Resolution,
    files: Mapping[str, File],
    prefix: str,
    source: str,
    *,
    swapped: bool = True,
) -> None:
    spec = _inner_dir_spec(resolution)
    if swapped:
        view.volumes.append(prefix.rstrip("/"))
    for path, file in files.items():
        view.files[f"{prefix}{path}"] = FileSpec(file.data, file.mode, None, file.gid)
        parent = path.rpartition("/")[0]
        while parent:
            view.dirs[f"{prefix}{parent}"] = spec
            parent = parent.rpartition("/")[0]
    if prefix:
        view.dirs[prefix.rstrip("/")] = _volume_dir_spec(resolution, source)


def mount_view(
    resolution: Resolution, *, volume: str | None = None, mount_path: str | None = None, env_format: str = "dotenv"
) -> MountView:
    """Files, directories and root directory attributes of the mount: the default view, one
    ``volume`` as the kubelet shows it at its mountPath, or what the container sees at ``mount_path``
    (a volume, or the part of one its subPath names)."""
    if mount_path is not None:
        return _view_at(resolution, mount_path)
    if volume is not None:
        for candidate in resolution.volumes:
            if candidate.name == volume:
                view = MountView(
                    {}, {}, _volume_dir_spec(resolution, candidate.source), [], [], _inner_dir_spec(resolution)
                )
                _add_volume(view, resolution, candidate.files, "", candidate.source)
                return view
        names = ", ".join(v.name for v in resolution.volumes) or "none"
        raise UsageError(
            f"container {resolution.container.name!r} mounts no secret, configMap or projected volume named "
            f"{volume!r} (it mounts: {names})",
            source=resolution.pod.origin,
            obj=resolution.pod.ref,
        )
    view = MountView({}, {}, DirSpec(0o755), [], [], _inner_dir_spec(resolution))
    for each in resolution.volumes:
        _add_volume(view, resolution, each.files, f"{each.name}/", each.source)
    entries = [(entry.name, entry.value) for entry in resolution.env.values()]
    try:
        view.files[".env"] = FileSpec(render_env(entries, env_format), SECRET_FILE_MODE)
    except OutputError as exc:  # the volumes are still served: only .env cannot be
        view.warnings.append(InjectorWarning((*exc.parts, "; .env is left out of the mount"), obj=exc.obj))
    if resolution.has_pull_secrets:
        # For the container's own image, which the resolution has checked (InvalidImageName is an error).
        auths, warnings = docker_config(resolution.keyring, resolution.container.image)
        view.files[".docker/config.json"] = FileSpec(render_config_json(auths), SECRET_FILE_MODE)
        view.dirs[".docker"] = DirSpec(0o700)
        view.warnings.extend(warnings)
    return view


def _view_at(resolution: Resolution, mount_path: str) -> MountView:
    wanted = posixpath.normpath(mount_path)
    for volume in resolution.volumes:
        for mount in volume.mounts:
            if posixpath.normpath(mount.mount_path) != wanted:
                continue
            kind, files = volume.seen_at(mount)
            if kind == "file":
                raise UsageError(
                    (
                        f"container {resolution.container.name!r} mounts the file {mount.sub_path!r} of volume "
                        f"{volume.name!r} at {mount_path} (subPath); a mount's root is a directory: serve the "
                        "volume with ",
                        Setting("volume"),
                        f" {volume.name}",
                    ),
                    source=resolution.pod.origin,
                    obj=resolution.pod.ref,
                    field=mount.at,
                )
            # A subPath directory is one inside a version, bind-mounted as it is.
            root = _inner_dir_spec(resolution) if mount.sub_path else _volume_dir_spec(resolution, volume.source)
            view = MountView({}, {}, root, [], [], _inner_dir_spec(resolution))
            _add_volume(view, resolution, files, "", volume.source, swapped=not mount.sub_path)
            return view
    paths = ", ".join(mount.mount_path for volume in resolution.volumes for mount in volume.mounts) or "none"
    raise UsageError(
        f"container {resolution.container.name!r} mounts no secret, configMap, projected or downwardAPI volume at "
        f"{mount_path} (it mounts them at: {paths})",
        source=resolution.pod.origin,
        obj=resolution.pod.ref,
    )


def _file_entry(file: File, *, show_values: bool) -> dict[str, object]:
    entry: dict[str, object] = {"mode": f"{file.mode:04o}", "size": len(file.data)}
    if file.gid is not None:
        entry["gid"] = file.gid
    if show_values:
        try:
            entry["value"] = file.data.decode("utf-8")
        except UnicodeDecodeError:
            entry["base64"] = base64.b64encode(file.data).decode("ascii")
    return entry


def render_files_json(resolution: Resolution, *, show_values: bool) -> bytes:
    """``render files``: each volume's files with mode, size and group (and content if asked), and
    for each of the container's mounts what it sees there (a subPath shows the part it names)."""
    volumes = []
    mounts = []
    for volume in resolution.volumes:
        files = {path: _file_entry(file, show_values=show_values) for path, file in volume.files.items()}
        volumes.append({"name": volume.name, "mountPaths": list(volume.mount_paths), "files": files})
        for mount in volume.mounts:
            kind, seen = volume.seen_at(mount)
            entry: dict[str, object] = {"mountPath": mount.mount_path, "volume": volume.name}
            if mount.sub_path:
                entry["subPath"] = mount.sub_path
            entry["type"] = kind
            if kind == "file":
                entry["file"] = _file_entry(seen[""], show_values=show_values)
            else:
                entry["files"] = {path: _file_entry(file, show_values=show_values) for path, file in seen.items()}
            mounts.append(entry)
    mounts.sort(key=lambda entry: str(entry["mountPath"]))
    return json.dumps({"volumes": volumes, "mounts": mounts}, indent=2).encode("utf-8") + b"\n"
