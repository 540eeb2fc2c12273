"""The container's own command: command + args, $(VAR) expanded against its env as the kubelet does."""

from __future__ import annotations

from typing import Any

import pytest

from injector.core.command import container_argv
from tests.support.manifests import container, pod, resolve, secret, secret_key_ref, value


def argv_of(body: dict[str, Any], *objects: dict[str, Any]) -> tuple[bytes, ...] | None:
    resolution = resolve(pod(body), *objects)
    assert not resolution.errors, resolution.errors
    return container_argv(resolution.container, resolution.env)


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        (["app"], None, [b"app"]),
        (["app", "--name=$(NAME)"], ["$(NAME)"], [b"app", b"--name=web", b"web"]),
        (["app"], ["$(UNDEFINED)", "$(HOME)"], [b"app", b"$(UNDEFINED)", b"$(HOME)"]),  # not the parent's env
        (["app"], ["$$(NAME)", "$$NAME", "$NAME"], [b"app", b"$(NAME)", b"$NAME", b"$NAME"]),
        (["sh", "-c", "echo $(TOKEN)"], None, [b"sh", b"-c", b"echo s3cret"]),
        (["app"], ["$(NAME"], [b"app", b"$(NAME"]),
    ],
)
def test_command_and_args_are_expanded_against_the_containers_env(
    command: list[str], args: list[str] | None, expected: list[bytes]
) -> None:
    body = container(env=[value("NAME", "web"), secret_key_ref("TOKEN", "api", "token")])
    body["command"] = command
    if args is not None:
        body["args"] = args

    assert tuple(expected) == argv_of(body, secret("api", {"token": "s3cret"}))


def test_args_without_a_command_leave_the_image_entrypoint_unknown() -> None:
    body = container()
    body["args"] = ["--serve"]

    assert argv_of(body) is None
    assert argv_of(container()) is None
