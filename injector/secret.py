"""``injector secret``: write Secrets as the consoles' wizards do, with no plaintext on disk.

    create   a Secret of one type, from files, stdin or the terminal (the wizard asks what is missing)
    edit     the YAML in $EDITOR (a memfd), or key by key (--set, --set-file, --unset)
    get      type, keys, sizes and fingerprints
    delete   after a yes (a terminal) or --yes

Destinations: an age-encrypted manifest (``-o FILE.age``, re-encrypted by ``edit`` to the recipients
its header names), one or several clusters (``--kube --context A --context B``: every cluster is
asked with a server-side dry run first, and nothing is written anywhere unless all of them accept),
or a pipe. Values come from files, stdin or the terminal, never from the command line.
"""

from __future__ import annotations

import base64
import datetime
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

from injector.core.authoring import (
    GENERIC_KEY_FIELD,
    TYPE_OF_KIND,
    WIZARD_FIELDS,
    Field,
    SecretSpec,
    check_key,
    check_name,
    check_values,
    describe_changes,
    docker_config_json,
    file_key,
    label_pairs,
    merge_values,
    parse_env_file,
    secret_body,
    spec_of,
    summary_lines,
    validated,
)
from injector.core.manifest import Document, parse_documents
from injector.core.objects import read_data_object
from injector.core.recipients import (
    mismatch,
    parse_recipients_file,
    read_recipients,
    recipients_header,
    stanzas,
    strip_recipients,
)
from injector.errors import (
    CombinedError,
    ConflictError,
    InjectorError,
    ManifestError,
    NotConfirmedError,
    OutputError,
    SourceError,
    UsageError,
)
from injector.settings import KubeSettings, SecretSettings
from injector.shell.files import read_bytes
from injector.shell.output import plaintext_stdout, write_all, write_file_atomically
from injector.shell.process import harden_process
from injector.shell.prompt import Terminal, read_stdin
from injector.shell.report import Reporter

EDIT_HELP = (
    "# Edit the Secret below: text values are under stringData, others base64 under data.\n"
    "# Save and quit to apply; quit without saving to cancel. This text is only in memory.\n"
)
RECIPIENTS_HELP = "# The file is re-encrypted to the age-recipient lines (public keys): edit them to re-key.\n"
ERROR_PREFIX = "# ERROR: "


def run_secret(settings: SecretSettings, reporter: Reporter) -> int:
    """``injector secret ACTION``: the process is hardened first (no core dumps, for the editor too)."""
    harden_process(reporter, with_child=False)
    terminal = Terminal.open()
    try:
        action = {"create": create, "edit": edit, "get": get, "delete": delete}[settings.action]
        return action(settings, reporter, terminal)
    finally:
        if terminal is not None:
            terminal.close()


# -- values ----------------------------------------------------------------------------------------------


class Asker:
    """Answers for the wizard: the command line's when given, else the terminal's, else a usage error."""

    def __init__(self, terminal: Terminal | None, command: str) -> None:
        self.terminal = terminal
        self.command = command
        self.asked = False

    def text(self, field: Field, given: str | None, option: str) -> str:
        if given:
            return given
        if self.terminal is None:
            raise UsageError(f"{self.command} needs {option} (or a terminal to ask on)")
        self.asked = True
        while True:
            answer = self.terminal.ask(field.label)
            if answer or not field.required:
                return answer
            self.terminal.say(f"{field.label} is required")

    def secret(self, label: str, option: str) -> bytes:
        if self.terminal is None:
            raise UsageError(f"{self.command} needs {option} (or a terminal to ask on)")
        self.asked = True
        return self.terminal.ask_secret(label)


def _password(settings: SecretSettings, asker: Asker) -> bytes:
    if settings.password_stdin and settings.prompt_password:
        raise UsageError("--password-stdin and --prompt: choose one")
    if settings.password_stdin:
        value = read_stdin("--password-stdin")
        # As docker login --password-stdin: the line's end is not part of the password.
        return value[:-2] if value.endswith(b"\r\n") else value[:-1] if value.endswith(b"\n") else value
    return asker.secret("password", "--password-stdin or --prompt")


def gather(settings: SecretSettings, terminal: Terminal | None, reporter: Reporter) -> tuple[str, dict[str, bytes]]:
    """The type and data of the Secret ``create`` builds, asking on the terminal for what is missing."""
    kind = str(settings.kind)
    asker = Asker(terminal, f"create {kind}")
    fields = {field.key: field for field in WIZARD_FIELDS[kind]}
    secret_type = TYPE_OF_KIND[kind]
    if kind == "generic":
        secret_type = settings.secret_type or secret_type
        sources: list[tuple[str, bytes, str]] = []
        for spec in settings.from_files:
            key, path = file_key(spec)
            sources.append((key, read_bytes(path), f"--from-file {path}"))
        for path in settings.from_env_files:
            sources += [
                (key, value, f"--from-env-file {path}") for key, value in parse_env_file(read_bytes(path), path)
            ]
        if settings.from_stdin:
            key = check_key(settings.from_stdin, "--from-stdin")
            sources.append((key, read_stdin("--from-stdin"), "--from-stdin"))
        for key in settings.prompt_keys:
            check_key(key, "--prompt")
            sources.append((key, asker.secret(f"value of {key}", f"a terminal for --prompt {key}"), "--prompt"))
        if not sources and terminal is not None:
            terminal.say(f"Secret {settings.name}: its keys and values (an empty key ends)")
            while key := asker.text(GENERIC_KEY_FIELD, None, ""):
                check_key(key, "the key")
                sources.append((key, asker.secret(f"value of {key}", ""), "the terminal"))
        return secret_type, merge_values(sources)
    if kind == "tls":
        cert_path = asker.text(fields["cert"], settings.cert, "--cert")
        key_path = asker.text(fields["key"], settings.key, "--key")
        return secret_type, {"tls.crt": read_bytes(cert_path), "tls.key": read_bytes(key_path)}
    if kind == "ssh-auth":
        key_path = asker.text(fields["ssh_key"], settings.ssh_key, "--ssh-key")
        data = {"ssh-privatekey": read_bytes(key_path)}
        if settings.known_hosts:
            data["known_hosts"] = read_bytes(settings.known_hosts)
        return secret_type, data
    if kind == "basic-auth":
        username = asker.text(fields["username"], settings.username, "--username")
        return secret_type, {"username": username.encode("utf-8"), "password": _password(settings, asker)}
    # docker-registry
    server = asker.text(fields["server"], settings.server, "--server")
    username = asker.text(fields["username"], settings.username, "--username")
    password = _password(settings, asker)
    email = settings.email
    if email is None and asker.asked:
        email = asker.text(fields["email"], None, "--email") or None
    if settings.verify:
        from injector.shell.registry import verify_login

        verify_login(server, username, password)
        reporter.say(f"logged in to {server} as {username}")
    return secret_type, {".dockerconfigjson": docker_config_json(server, username, password, email)}


def checked(spec: SecretSpec, reporter: Reporter, origin: str) -> dict[str, Any]:
    """The manifest of ``spec``, validated as the API server does and checked as a console does."""
    body = secret_body(spec)
    validated(body, origin)
    for warning in check_values(spec, datetime.datetime.now(datetime.UTC), origin):
        reporter.warning(warning)
    return body


# -- manifests and age files -------------------------------------------------------------------------------


def manifest_text(body: Mapping[str, Any], recipients: Sequence[str] = ()) -> bytes:
    import yaml

    text = yaml.safe_dump(dict(body), sort_keys=False, allow_unicode=True, width=1 << 20)
    return (recipients_header(recipients) + text).encode("utf-8")


def recipients_of(settings: SecretSettings) -> list[str]:
    """``--age-recipient`` and the lines of ``--age-recipients-file``, in order."""
    found = list(settings.recipients)
    for path in settings.recipients_files:
        try:
            text = read_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("not a recipients file (not UTF-8)", source=path) from None
        found += parse_recipients_file(text)
    return found


def encrypted(body_text: bytes, recipients: Sequence[str]) -> bytes:
    from injector.shell.age import encrypt_age, parse_recipients

    return encrypt_age(body_text, parse_recipients(recipients))


def check_age_path(path: str) -> None:
    if not path.endswith((".yaml.age", ".yml.age", ".json.age")):
        raise UsageError("an encrypted manifest is named NAME.yaml.age (as --secrets reads it)", source=path)


def open_age_file(settings: SecretSettings, path: str) -> tuple[bytes, str]:
    """The file's bytes and its decrypted text."""
    from injector.shell.age import decrypt_age, parse_identities

    if not path.endswith(".age"):
        raise UsageError("not an age-encrypted manifest (FILE.age): secret get and edit read no plaintext", source=path)
    data = read_bytes(path)
    if not settings.age_identities:
        raise UsageError("decrypting it needs --age-identity (or INJECTOR_AGE_IDENTITY)", source=path)
    identities = parse_identities([(p, read_bytes(p)) for p in settings.age_identities])
    plain = decrypt_age(data, identities, path)
    try:
        return data, plain.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError("the decrypted manifest is not UTF-8", source=path) from None


def file_recipients(settings: SecretSettings, path: str, data: bytes, text: str) -> list[str]:
    """Who ``path`` is re-encrypted to: ``--age-recipient`` when given, else its header's recipients,
    checked against the file's stanzas."""
    given = recipients_of(settings)
    if given:
        return given
    named = read_recipients(text)
    if not named:
        raise UsageError("the manifest names no recipients (# age-recipient: lines): give --age-recipient", source=path)
    found = stanzas(data)
    problem = None if found is None else mismatch(named, found)
    if problem is not None:
        raise UsageError(f"{problem}: give --age-recipient to choose who may read it", source=path)
    return named


class FileSecret(NamedTuple):
    """The one Secret of an age-encrypted manifest, as read."""

    path: str
    data: bytes
    text: str
    body: dict[str, Any]
    spec: SecretSpec


def read_file_secret(settings: SecretSettings, path: str) -> FileSecret:
    data, text = open_age_file(settings, path)
    documents = [doc for doc in parse_documents(text.encode("utf-8"), path) if doc.body.get("kind") == "Secret"]
    if len(documents) != 1:
        raise UsageError(f"holds {len(documents)} Secrets: edit works on a manifest of one", source=path)
    document = documents[0]
    spec = _spec_of_document(document, settings.namespace or "default")
    return FileSecret(path, data, text, document.body, spec)


def _spec_of_document(document: Document, namespace: str) -> SecretSpec:
    obj, problems, _ = read_data_object(document, namespace)
    if problems:
        raise CombinedError(problems) if len(problems) > 1 else problems[0]
    assert obj is not None
    metadata = document.body.get("metadata") or {}
    return spec_of(obj, metadata, document.body.get("immutable"))


# -- create ---------------------------------------------------------------------------------------------


def default_namespace(settings: SecretSettings, apis: Sequence[Any] = ()) -> str:
    if settings.namespace:
        return settings.namespace
    namespaces = sorted({api.default_namespace for api in apis})
    if len(namespaces) > 1:
        raise UsageError(f"the contexts have different namespaces ({', '.join(namespaces)}): give -n")
    return namespaces[0] if namespaces else "default"


def create(settings: SecretSettings, reporter: Reporter, terminal: Terminal | None) -> int:
    assert settings.name is not None
    recipients = recipients_of(settings)
    if settings.output is not None:
        check_age_path(settings.output)
        if not recipients:
            raise UsageError("-o FILE.age needs --age-recipient or --age-recipients-file", source=settings.output)
    if settings.kube and recipients:
        raise UsageError("--age-recipient is for -o FILE.age or stdout, not --kube")
    labels = label_pairs(settings.labels, "--label")
    annotations = label_pairs(settings.annotations, "--annotation")
    if settings.kube:
        return _create_in_clusters(settings, reporter, terminal, labels, annotations)
    namespace = default_namespace(settings)
    check_name(settings.name, namespace)
    secret_type, data = gather(settings, terminal, reporter)
    spec = SecretSpec(settings.name, namespace, secret_type, data, labels, annotations, settings.immutable or None)
    body = checked(spec, reporter, settings.output or "<stdout>")
    if settings.output is not None:
        if settings.dry_run:
            _print_plan(settings.output, spec, None, spec)
            return 0
        ciphertext = encrypted(manifest_text(body, recipients), recipients)
        try:
            write_file_atomically(settings.output, ciphertext, replace=False)
        except FileExistsError:
            raise ConflictError("exists already: edit it, or delete it first", source=settings.output) from None
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror}", source=settings.output) from None
        reporter.say(
            f"wrote Secret {namespace}/{settings.name} to {settings.output}, "
            f"encrypted to {len(recipients)} recipient(s)"
        )
        return 0
    if settings.dry_run:
        _print_plan("<stdout>", spec, None, spec)
        return 0
    if recipients:
        write_all(1, encrypted(manifest_text(body, recipients), recipients))
    else:
        write_all(plaintext_stdout(), manifest_text(body))
    return 0


def _print_plan(where: str, obj: SecretSpec, before: SecretSpec | None, after: SecretSpec | None) -> None:
    verb, lines = describe_changes(before, after)
    print(
        f"{where}: Secret {obj.namespace}/{obj.name}: would {verb}"
        if verb != "no change"
        else f"{where}: Secret {obj.namespace}/{obj.name}: no change"
    )
    for line in lines:
        print(line)


# -- clusters ---------------------------------------------------------------------------------------------


def context_label(settings: KubeSettings, fallback: str) -> str:
    return settings.context or fallback


def refusal(api: Any, exc: Exception, verb: str, namespace: str, name: str) -> InjectorError:
    """An API server's answer to a write, as one of injector's errors (by who must act)."""
    from injector.shell.kube import ApiRefusalError

    where = api.where
    assert isinstance(exc, ApiRefusalError)
    message = exc.message
    if exc.code == 409:
        return ConflictError(message, source=where, obj=f"Secret/{namespace}/{name}")
    if exc.code == 404 and verb in ("update", "delete"):
        return ConflictError(
            "deleted since it was read: nothing written", source=where, obj=f"Secret/{namespace}/{name}"
        )
    if exc.code in (400, 422):
        return ManifestError(f"refused: {message}", source=where, obj=f"Secret/{namespace}/{name}")
    if exc.code == 403:
        return SourceError(f"forbidden: {message}", source=where)
    if exc.code == 401:
        return SourceError("unauthorized: the API server did not accept the credentials", source=where)
    return SourceError(f"API error {exc.code} ({exc.reason or 'unknown'}) on {verb} {namespace}/{name}", source=where)


class Write(NamedTuple):
    """One write to one cluster: what it does and the call that does it (dry run or for real)."""

    api: Any
    verb: str
    """``create``, ``update`` or ``delete``."""
    before: SecretSpec | None
    after: SecretSpec | None
    call: Callable[[bool], Awaitable[Any]]


def cluster_apis(settings: SecretSettings) -> list[Any]:
    """One SecretApi per ``--context`` (their configuration loaded; no connection yet)."""
    from injector.shell.kube import SecretApi

    apis = []
    for number, kube in enumerate(settings.kube, start=1):
        api = SecretApi(kube, "")
        api.label = kube.context or api.config.context_name or f"#{number}"
        apis.append(api)
    return apis


def read_all(apis: Sequence[Any], namespace: str, name: str) -> list[dict[str, Any] | None]:
    """The Secret as each cluster holds it (None where it does not exist)."""
    from injector.shell.loop import run_trio

    async def read() -> list[dict[str, Any] | None]:
        from contextlib import AsyncExitStack

        found: list[dict[str, Any] | None] = []
        async with AsyncExitStack() as stack:
            for api in apis:
                await stack.enter_async_context(api)
                try:
                    found.append(await api.get(namespace, name))
                except Exception as exc:  # noqa: BLE001 - an ApiRefusalError becomes injector's error
                    raise _refusal_or(exc, api, "get", namespace, name) from None
        return found

    return run_trio(read)


def apply(writes: Sequence[Write], settings: SecretSettings, reporter: Reporter, name: str, namespace: str) -> int:
    from injector.shell.loop import run_trio

    async def connected() -> int:
        from contextlib import AsyncExitStack

        async with AsyncExitStack() as stack:
            for api in {id(write.api): write.api for write in writes}.values():
                await stack.enter_async_context(api)
            return await _apply(writes, settings, reporter, name, namespace)

    return run_trio(connected)


async def _apply(
    writes: Sequence[Write], settings: SecretSettings, reporter: Reporter, name: str, namespace: str
) -> int:
    """Dry-run every write; if any cluster refuses, report each refusal and write nowhere. Then write,
    reporting per cluster."""
    from injector.shell.kube import ApiRefusalError

    refused: list[InjectorError] = []
    for write in writes:
        try:
            await write.call(True)
        except ApiRefusalError as exc:
            refused.append(refusal(write.api, exc, write.verb, namespace, name))
    if refused:
        for error in refused:
            reporter.error(error)
        contexts = ", ".join(write.api.label for write in writes)
        first = refused[0]
        raise type(first)(
            f"{len(refused)} of {len(writes)} cluster(s) refused: nothing was written in any of them ({contexts})",
            obj=f"Secret/{namespace}/{name}",
        )
    for write in writes:
        if settings.dry_run:
            assert write.before is not None or write.after is not None
            _print_plan(f"context {write.api.label}", (write.after or write.before), write.before, write.after)  # type: ignore[arg-type]
    if settings.dry_run:
        return 0
    done: list[str] = []
    for write in writes:
        try:
            await write.call(False)
        except (ApiRefusalError, InjectorError) as exc:
            # Accepted by the dry run, refused now (a change in between, a server gone): say how far it got.
            if done:
                reporter.say(f"written before this failure: context {', '.join(done)}")
            if isinstance(exc, InjectorError):
                raise
            raise refusal(write.api, exc, write.verb, namespace, name) from None
        done.append(write.api.label)
        verb = {"create": "created", "update": "updated", "delete": "deleted"}[write.verb]
        reporter.say(f"{verb} Secret {namespace}/{name} in context {write.api.label} ({write.api.server})")
    return 0


def _create_in_clusters(
    settings: SecretSettings,
    reporter: Reporter,
    terminal: Terminal | None,
    labels: dict[str, str],
    annotations: dict[str, str],
) -> int:
    assert settings.name is not None
    apis = cluster_apis(settings)
    namespace = default_namespace(settings, apis)
    check_name(settings.name, namespace)
    secret_type, data = gather(settings, terminal, reporter)
    spec = SecretSpec(settings.name, namespace, secret_type, data, labels, annotations, settings.immutable or None)
    body = checked(spec, reporter, "the new Secret")
    writes = [Write(api, "create", None, spec, partial(_create_call, api, body)) for api in apis]
    return apply(writes, settings, reporter, settings.name, namespace)


async def _create_call(api: Any, body: Mapping[str, Any], dry_run: bool) -> Any:
    return await api.create(body, dry_run=dry_run)


async def _replace_call(api: Any, body: Mapping[str, Any], dry_run: bool) -> Any:
    return await api.replace(body, dry_run=dry_run)


async def _delete_call(api: Any, raw: Mapping[str, Any], dry_run: bool) -> Any:
    metadata = raw["metadata"]
    return await api.delete(
        metadata["namespace"],
        metadata["name"],
        uid=metadata.get("uid", ""),
        resource_version=metadata.get("resourceVersion", ""),
        dry_run=dry_run,
    )


def spec_from_api(raw: Mapping[str, Any], api: Any) -> SecretSpec:
    from injector.shell.kube import to_data_object

    obj, problems = to_data_object(raw, "Secret", api.server)
    if obj is None:
        raise problems[0] if problems else SourceError("the API returned an unreadable Secret", source=api.where)
    return spec_of(obj, raw.get("metadata") or {}, raw.get("immutable"))


def updated_body(raw: Mapping[str, Any], spec: SecretSpec) -> dict[str, Any]:
    """The cluster's object with the edited fields laid over it: everything else (uid, resourceVersion,
    owners, finalizers) is kept, so an update changes only what was edited, and only that version."""
    body = dict(raw)
    metadata = dict(body.get("metadata") or {})
    for field, value in (("labels", spec.labels), ("annotations", spec.annotations)):
        if value:
            metadata[field] = dict(value)
        else:
            metadata.pop(field, None)
    metadata.pop("managedFields", None)
    body["metadata"] = metadata
    body["apiVersion"], body["kind"], body["type"] = "v1", "Secret", spec.type
    body["data"] = {key: base64.b64encode(value).decode("ascii") for key, value in sorted(spec.data.items())}
    body.pop("stringData", None)
    if spec.immutable is not None:
        body["immutable"] = spec.immutable
    else:
        body.pop("immutable", None)
    return body


# -- edit ---------------------------------------------------------------------------------------------------


def edit(settings: SecretSettings, reporter: Reporter, terminal: Terminal | None) -> int:
    if settings.kube and (settings.recipients or settings.recipients_files):
        raise UsageError("--age-recipient is for FILE.age, not --kube")
    if settings.kube:
        return _edit_in_clusters(settings, reporter, terminal)
    assert settings.file is not None
    current = read_file_secret(settings, settings.file)
    recipients = file_recipients(settings, settings.file, current.data, current.text)
    if _key_value_mode(settings):
        after = apply_key_values(current.spec, settings, terminal)
        new_recipients = recipients
    else:
        edited = edit_yaml(current.spec, recipients, settings, reporter, current.spec.namespace)
        if edited is None:
            reporter.say("edit cancelled, no changes made")
            return 0
        after, new_recipients = edited
    body = checked(after, reporter, settings.file)
    verb, _ = describe_changes(current.spec, after)
    if verb == "no change" and new_recipients == recipients and not settings.recipients:
        reporter.say(f"Secret {after.namespace}/{after.name}: no change")
        return 0
    if settings.dry_run:
        _print_plan(settings.file, after, current.spec, after)
        return 0
    ciphertext = encrypted(manifest_text(body, new_recipients), new_recipients)
    try:
        write_file_atomically(settings.file, ciphertext, replace=True)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}", source=settings.file) from None
    reporter.say(
        f"updated Secret {after.namespace}/{after.name} in {settings.file}, "
        f"encrypted to {len(new_recipients)} recipient(s)"
    )
    return 0


def _key_value_mode(settings: SecretSettings) -> bool:
    return bool(settings.set_keys or settings.set_files or settings.unset_keys)


def apply_key_values(spec: SecretSpec, settings: SecretSettings, terminal: Terminal | None) -> SecretSpec:
    """The console's key-value editor: ``--set KEY`` (stdin for one key, else asked), ``--set-file
    KEY=PATH``, ``--unset KEY``."""
    data = dict(spec.data)
    for key in settings.unset_keys:
        if key not in data:
            raise UsageError(f"--unset {key}: the Secret has no such key")
        del data[key]
    for item in settings.set_files:
        key, equals, path = item.partition("=")
        if not equals:
            raise UsageError(f"--set-file takes KEY=PATH, not {item!r}")
        data[check_key(key, "--set-file")] = read_bytes(path)
    asker = Asker(terminal, "edit --set")
    piped = len(settings.set_keys) == 1 and not os.isatty(0)
    for key in settings.set_keys:
        check_key(key, "--set")
        data[key] = read_stdin(f"--set {key}") if piped else asker.secret(f"new value of {key}", "stdin (one --set)")
    return spec._replace(data=data)


def edit_yaml(
    spec: SecretSpec, recipients: Sequence[str], settings: SecretSettings, reporter: Reporter, namespace: str
) -> tuple[SecretSpec, list[str]] | None:
    """The Secret as the user leaves it in the editor, and the recipients its header then names; None
    when the user saved nothing. A text that does not validate is shown again with the errors on top;
    saved again unchanged, the errors stand."""
    from injector.shell.editor import edit_in_memory

    help_text = EDIT_HELP + (RECIPIENTS_HELP if recipients else "")
    original = help_text + manifest_text(secret_body(spec, readable=True), recipients).decode("utf-8")
    shown = original
    errors: list[InjectorError] = []
    while True:
        text = edit_in_memory(shown.encode("utf-8"), settings.editor, reporter).decode("utf-8", "replace")
        if text == shown:
            if errors:
                raise CombinedError(errors) if len(errors) > 1 else errors[0]
            return None
        body_text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith(ERROR_PREFIX))
        try:
            after = _parse_edited(body_text, spec, namespace)
            new_recipients = read_recipients(body_text)
            if not settings.kube and not new_recipients:
                raise UsageError("no # age-recipient: lines left: the file would be readable by nobody")
            for warning in check_values(after, datetime.datetime.now(datetime.UTC), "the edited Secret"):
                reporter.warning(warning)
            return after, new_recipients
        except CombinedError as failed:
            errors = list(failed.errors)
        except InjectorError as exc:
            errors = [exc]
        header = "".join(f"{ERROR_PREFIX}{reporter.describe(error)}\n" for error in errors)
        shown = header + strip_errors(body_text)
        reporter.say(f"the edited Secret is not valid ({len(errors)} problem(s)): opening the editor again")


def strip_errors(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(ERROR_PREFIX))


def _parse_edited(text: str, before: SecretSpec, namespace: str) -> SecretSpec:
    documents = parse_documents(strip_recipients(text).encode("utf-8"), "the edited Secret")
    if len(documents) != 1 or documents[0].body.get("kind") != "Secret":
        raise ManifestError("must be exactly one Secret", source="the edited Secret")
    document = documents[0]
    after = _spec_of_document(document, namespace)
    if (after.namespace, after.name) != (before.namespace, before.name):
        raise ManifestError(
            f"metadata.name and namespace cannot change (was {before.namespace}/{before.name})",
            source="the edited Secret",
        )
    return after


def _edit_in_clusters(settings: SecretSettings, reporter: Reporter, terminal: Terminal | None) -> int:
    from injector.core.authoring import drift

    name = settings.name
    assert name is not None
    apis = cluster_apis(settings)
    namespace = default_namespace(settings, apis)
    raws = read_all(apis, namespace, name)
    found = [(api, raw) for api, raw in zip(apis, raws, strict=True) if raw is not None]
    if not found:
        raise SourceError(f'secrets "{name}" not found in namespace "{namespace}"', source=_labels(apis))
    first_api, first_raw = found[0]
    before = spec_from_api(first_raw, first_api)
    sides = [(api.label, spec_from_api(raw, api).data if raw else None) for api, raw in zip(apis, raws, strict=True)]
    for problem in drift(f"Secret/{namespace}/{name}", "data", sides):
        reporter.warning(f"{problem.render()} (the edit starts from context {first_api.label})")
    if _key_value_mode(settings):
        after = apply_key_values(before, settings, terminal)
    else:
        edited = edit_yaml(before, (), settings, reporter, namespace)
        if edited is None:
            reporter.say("edit cancelled, no changes made")
            return 0
        after = edited[0]
    checked(after, reporter, "the edited Secret")
    writes = []
    for api, raw in zip(apis, raws, strict=True):
        if raw is None:
            writes.append(Write(api, "create", None, after, partial(_create_call, api, secret_body(after))))
            continue
        current = spec_from_api(raw, api)
        if describe_changes(current, after)[0] == "no change":
            reporter.say(f"Secret {namespace}/{name}: no change in context {api.label}")
            continue
        writes.append(Write(api, "update", current, after, partial(_replace_call, api, updated_body(raw, after))))
    if not writes:
        return 0
    return apply(writes, settings, reporter, name, namespace)


def _refusal_or(exc: Exception, api: Any, verb: str, namespace: str, name: str) -> BaseException:
    from injector.shell.kube import ApiRefusalError

    if isinstance(exc, ApiRefusalError):
        return refusal(api, exc, verb, namespace, name)
    return exc


def _labels(apis: Sequence[Any]) -> str:
    return "context " + ", ".join(api.label for api in apis)


# -- get ----------------------------------------------------------------------------------------------------


def get(settings: SecretSettings, reporter: Reporter, terminal: Terminal | None) -> int:
    if settings.kube:
        return _get_in_clusters(settings)
    assert settings.file is not None
    _, text = open_age_file(settings, settings.file)
    documents = [
        doc for doc in parse_documents(text.encode("utf-8"), settings.file) if doc.body.get("kind") == "Secret"
    ]
    for document in documents:
        for line in summary_lines(_spec_of_document(document, settings.namespace or "default")):
            print(line)
    for recipient in read_recipients(text):
        print(f"  age recipient: {recipient}")
    return 0


def _get_in_clusters(settings: SecretSettings) -> int:
    name = settings.name
    assert name is not None
    apis = cluster_apis(settings)
    namespace = default_namespace(settings, apis)
    missing = []
    for api, raw in zip(apis, read_all(apis, namespace, name), strict=True):
        if raw is None:
            missing.append(api.label)
            print(f"context {api.label}: Secret {namespace}/{name} not found")
            continue
        print(f"context {api.label}:")
        for line in summary_lines(spec_from_api(raw, api)):
            print(line)
    if missing:
        raise SourceError(
            f'secrets "{name}" not found in namespace "{namespace}"', source="context " + ", ".join(missing)
        )
    return 0


# -- delete -------------------------------------------------------------------------------------------------


def confirm(settings: SecretSettings, terminal: Terminal | None, what: str) -> None:
    if settings.yes or settings.dry_run:
        return
    if terminal is None:
        raise UsageError(f"delete {what}: without a terminal to ask on, give --yes")
    if not terminal.confirm(f"delete {what}?"):
        raise NotConfirmedError(f"not deleted: {what}")


def delete(settings: SecretSettings, reporter: Reporter, terminal: Terminal | None) -> int:
    if settings.kube:
        return _delete_in_clusters(settings, reporter, terminal)
    path, name = settings.file, settings.name
    assert path is not None and name is not None
    data, text = open_age_file(settings, path)
    namespace = settings.namespace or "default"
    documents = parse_documents(text.encode("utf-8"), path)
    target = [
        doc
        for doc in documents
        if doc.body.get("kind") == "Secret"
        and (doc.body.get("metadata") or {}).get("name") == name
        and ((doc.body.get("metadata") or {}).get("namespace") or "default") == namespace
    ]
    if not target:
        raise SourceError(f"no Secret {namespace}/{name} in it", source=path)
    spec = _spec_of_document(target[0], namespace)
    rest = [doc for doc in documents if doc is not target[0]]
    what = f"Secret {namespace}/{name} ({spec.type}, {len(spec.data)} keys) from {path}"
    if settings.dry_run:
        print(f"{path}: Secret {namespace}/{name}: would delete" + ("" if rest else f" (and {path}, its only object)"))
        for line in describe_changes(spec, None)[1]:
            print(line)
        return 0
    recipients = file_recipients(settings, path, data, text) if rest else []
    confirm(settings, terminal, what)
    try:
        if rest:
            import yaml

            body = yaml.safe_dump_all([doc.body for doc in rest], sort_keys=False, allow_unicode=True, width=1 << 20)
            plain = (recipients_header(recipients) + body).encode("utf-8")
            write_file_atomically(path, encrypted(plain, recipients), replace=True)
        else:
            os.unlink(path)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror}", source=path) from None
    reporter.say(f"deleted {what}")
    return 0


def _delete_in_clusters(settings: SecretSettings, reporter: Reporter, terminal: Terminal | None) -> int:
    name = settings.name
    assert name is not None
    apis = cluster_apis(settings)
    namespace = default_namespace(settings, apis)
    writes = []
    absent = []
    for api, raw in zip(apis, read_all(apis, namespace, name), strict=True):
        if raw is None:
            absent.append(api.label)
            continue
        writes.append(Write(api, "delete", spec_from_api(raw, api), None, partial(_delete_call, api, raw)))
    if absent:
        reporter.say(f"Secret {namespace}/{name} is not in context {', '.join(absent)}")
    if not writes:
        raise SourceError(f'secrets "{name}" not found in namespace "{namespace}"', source=_labels(apis))
    contexts = ", ".join(f"{write.api.label} ({write.api.server})" for write in writes)
    confirm(settings, terminal, f"Secret {namespace}/{name} in context {contexts}")
    return apply(writes, settings, reporter, name, namespace)
