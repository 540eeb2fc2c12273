"""The one reporter: text or JSON lines, settings spelled for the user, values never written."""

from __future__ import annotations

import io
import json

from injector.core.resolve import EnvEntry
from injector.errors import InjectorWarning, Setting, UsageError
from injector.shell.report import Reporter


def test_text_lines_name_the_program_and_spell_settings() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream=stream, spell=lambda setting: f"--{setting.name.replace('_', '-')}")

    reporter.error(UsageError(("several Pods, pick one with ", Setting("pod_name")), source="all.yaml"))
    reporter.warning(InjectorWarning("not set", source="pod.yaml", field="status.podIP"))
    reporter.say("serving /mnt")

    assert [
        "injector: all.yaml: several Pods, pick one with --pod-name",
        "injector: warning: pod.yaml: status.podIP: not set",
        "injector: serving /mnt",
    ] == stream.getvalue().splitlines()


def test_json_lines_are_one_object_each_with_a_time() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream=stream, json_lines=True)

    reporter.event("starting", pod="Pod/shop/web-0")
    reporter.error(UsageError("bad"))

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert ("starting", "Pod/shop/web-0") == (first["event"], first["pod"])
    assert ("error", "bad", 2) == (second["event"], second["message"], second["exit_code"])
    assert isinstance(first["time"], float)


def test_fields_that_can_hold_values_are_redacted() -> None:
    """A value that reaches a report by mistake is written as [secure], in text and in JSON."""
    canary = "CANARY-value"
    for json_lines in (False, True):
        stream = io.StringIO()
        Reporter(stream=stream, json_lines=json_lines).event(
            "oops", raw=canary.encode(), entry=EnvEntry("A", canary.encode(), True), names=["A", b"x"], code=403
        )

        text = stream.getvalue()
        assert canary not in text
        assert "[secure]" in text and "403" in text
