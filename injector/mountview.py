"""What the mount shows for a resolved container: volumes, ``.env`` and ``.docker/config.json``.

Default view: one directory per secret/configMap/projected volume the container mounts, named
after the volume, holding the kubelet's layout; ``.env`` (the container's env-file) and, when the
pod has pull secrets, ``.docker/config.json``. Volume names are DNS labels, so the dot-names never
collide. With ``volume``, the root is that one volume, as the kubelet shows it at its mountPath.
"""

from __future__ import annotations

from fuse.tree import DirSpec, FileSpec
from injector.dockerconfig import render_config_json
from injector.envfile import render_env
from injector.errors import UsageError
from injector.resolve import Resolution, VolumeFiles

SECRET_FILE_MODE = 0o400
"""``.env`` and ``.docker/config.json``: readable by the owner only."""


def _volume_files(volume: VolumeFiles, prefix: str) -> dict[str, FileSpec]:
    return {f"{prefix}{path}": FileSpec(file.data, file.mode, None, file.gid) for path, file in volume.files.items()}


def _volume_dir_spec(resolution: Resolution) -> DirSpec:
    fs_group = resolution.pod.fs_group
    # With an fsGroup the kubelet gives directories the group, and setgid.
    return DirSpec(0o755) if fs_group is None else DirSpec(0o2755, None, fs_group)


def _volume_dirs(resolution: Resolution, volume: VolumeFiles, prefix: str) -> dict[str, DirSpec]:
    spec = _volume_dir_spec(resolution)
    dirs = {}
    for path in volume.files:
        parent = path.rpartition("/")[0]
        while parent:
            dirs[f"{prefix}{parent}"] = spec
            parent = parent.rpartition("/")[0]
    if prefix:
        dirs[prefix.rstrip("/")] = spec
    return dirs


def mount_view(
    resolution: Resolution, *, volume: str | None = None, env_format: str = "dotenv"
) -> tuple[dict[str, FileSpec], dict[str, DirSpec], DirSpec]:
    """Files, directories and root directory attributes of the mount."""
    if volume is not None:
        for candidate in resolution.volumes:
            if candidate.name == volume:
                root = (
                    DirSpec(0o755)
                    if resolution.pod.fs_group is None
                    else DirSpec(0o2755, None, resolution.pod.fs_group)
                )
                return _volume_files(candidate, ""), _volume_dirs(resolution, candidate, ""), root
        names = ", ".join(v.name for v in resolution.volumes) or "none"
        raise UsageError(
            f"container {resolution.container.name!r} mounts no secret, configMap or projected volume named "
            f"{volume!r} (it mounts: {names})",
            source=resolution.pod.origin,
            obj=resolution.pod.ref,
        )
    files: dict[str, FileSpec] = {}
    dirs: dict[str, DirSpec] = {}
    for each in resolution.volumes:
        files.update(_volume_files(each, f"{each.name}/"))
        dirs.update(_volume_dirs(resolution, each, f"{each.name}/"))
    entries = [(entry.name, entry.value) for entry in resolution.env.values()]
    files[".env"] = FileSpec(render_env(entries, env_format), SECRET_FILE_MODE)
    if resolution.has_pull_secrets:
        files[".docker/config.json"] = FileSpec(render_config_json(resolution.registry_credentials), SECRET_FILE_MODE)
        dirs[".docker"] = DirSpec(0o700)
    return files, dirs, DirSpec(0o755)
