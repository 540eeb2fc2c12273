"""Make injector's relocatable runtime: a Python, its standard library, injector and its dependencies, and every
shared library they load (the C library and its loader included), in one directory that runs in any Linux image.

    python3 image/bundle.py VENV PREFIX

VENV: a virtual environment where injector is installed (with the patched pyfuse3); PREFIX: where the runtime
lives (it must be used at that path: image/launcher.c names it). Run in the image's build stage.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

STDLIB_LEFT_OUT = {
    "site-packages", "dist-packages", "test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip",
    "lib2to3", "pydoc_data", "__pycache__", "venv", "unittest", "distutils",
}
DYNLOAD_LEFT_OUT = re.compile(r"(_dbm|_gdbm|_sqlite3|readline|_curses|_curses_panel|nis|_tkinter|_test|_ctypes_test|xx)")
"""Extension modules injector never imports, and the libraries they would bring (Berkeley DB, SQLite, ncurses...)."""
PACKAGES_LEFT_OUT = re.compile(r"(pip|setuptools|wheel|_distutils_hack|pkg_resources)([-_.].*)?$|distutils-precedence\.pth$")
LDD_LINE = re.compile(r"^\s*(?:(\S+) => )?(/\S+) \(0x[0-9a-f]+\)$")


def python_paths(python: str) -> dict[str, str]:
    code = (
        "import json, os, sys, sysconfig; p = sysconfig.get_paths();"
        "print(json.dumps({'executable': os.path.realpath(sys.executable), 'stdlib': p['stdlib'],"
        "'purelib': p['purelib'], 'platlib': p['platlib'], 'version': sysconfig.get_python_version()}))"
    )
    paths: dict[str, str] = json.loads(subprocess.run([python, "-c", code], check=True, capture_output=True).stdout)
    return paths


def shared_libraries(elf: Path) -> dict[str, Path]:
    """The libraries ``elf`` loads (by the name it asks for), the loader as ``ld.so``."""
    out = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, check=False).stdout
    found = {}
    for line in out.splitlines():
        match = LDD_LINE.match(line)
        if match:
            name, path = match.groups()
            found[name or "ld.so"] = Path(path)
    return found


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def main() -> None:
    venv, prefix = Path(sys.argv[1]), Path(sys.argv[2])
    paths = python_paths(str(venv / "bin" / "python"))
    version = paths["version"]
    shutil.rmtree(prefix, ignore_errors=True)
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib").mkdir()
    python = prefix / "bin" / "python3"
    shutil.copy2(paths["executable"], python)
    stdlib = prefix / "lib" / f"python{version}"
    shutil.copytree(
        paths["stdlib"],
        stdlib,
        symlinks=True,
        ignore=lambda _, names: [
            n
            for n in names
            if n in STDLIB_LEFT_OUT or n.startswith("config-") or (n.endswith(".so") and DYNLOAD_LEFT_OUT.match(n))
        ],
    )
    loader_run = [str(prefix / "lib" / "ld.so"), "--library-path", str(prefix / "lib"), str(python), "-I", "-B"]
    libraries: dict[str, Path] = {}
    for elf in [Path(paths["executable"]), *stdlib.glob("lib-dynload/*.so")]:
        libraries.update(shared_libraries(elf))
    for name, path in libraries.items():
        shutil.copy2(path, prefix / "lib" / name)
    # Where the relocated Python looks for packages (Debian's python: dist-packages; python.org's: site-packages).
    site_code = "import site; print('\\n'.join(site.getsitepackages()))"
    candidates = subprocess.run([*loader_run, "-c", site_code], capture_output=True, text=True, check=True).stdout
    site = next(p for p in map(Path, candidates.split()) if p.parent == stdlib and p.name.endswith("-packages"))
    for source in dict.fromkeys([paths["purelib"], paths["platlib"]]):
        shutil.copytree(
            source,
            site,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=lambda _, names: [n for n in names if PACKAGES_LEFT_OUT.match(n) or n == "__pycache__"],
        )
    for elf in [p for p in site.rglob("*.so*") if p.is_file() and is_elf(p)]:
        for name, path in shared_libraries(elf).items():
            if not (prefix / "lib" / name).exists():
                shutil.copy2(path, prefix / "lib" / name)
    # Debug symbols of the extensions built here (pyfuse3, yaml): they are most of their size.
    for elf in [p for p in prefix.rglob("*.so*") if p.is_file() and is_elf(p)]:
        subprocess.run(["strip", "--strip-unneeded", str(elf)], capture_output=True, check=False)
    # Compiled once, next to each module (the legacy layout, read without its source), sources left out: the
    # runtime is copied into memory for each pod that wraps a command, and is read-only there.
    subprocess.run([*loader_run, "-m", "compileall", "-q", "-b", "-j0", str(stdlib), str(site)], check=True)
    for source in [*stdlib.rglob("*.py"), *stdlib.rglob("__pycache__")]:
        if source.is_dir():
            shutil.rmtree(source)
        elif source.parent.name != "bin":
            source.unlink()
    os.chmod(python, 0o755)
    size = sum(p.stat().st_size for p in prefix.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"bundle: {prefix}: Python {version}, {len(list((prefix / 'lib').glob('*.so*')))} libraries, {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
