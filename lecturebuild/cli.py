"""The `lecturebuild` command: a new course, a build where the course has no dodo.py, the preview, the import.

    lecturebuild new PATH   a course folder that builds at once (course.yml, a lecture, dodo.py, templates/)
    lecturebuild build      doit, with the same arguments, for a course folder with or without a dodo.py
    lecturebuild serve      serve build/site/ and rebuild whenever a lecture, snippet or template is saved
    lecturebuild import     turn a notebook, script or Markdown lecture into a lecture of the course
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lecturebuild import __version__

RELOAD_PATH = "/__lecturebuild__/build"  # the preview's build counter; site.js polls it on localhost
WATCHED = ("lectures", "snippets", "templates", "data", "course.yml")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["build"]:  # every other argument is doit's, options included: argparse would take them
        return build_command(argv[1:])
    parser = argparse.ArgumentParser(prog="lecturebuild", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lecturebuild {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    new_parser = commands.add_parser("new", help="make a course folder that builds at once")
    new_parser.add_argument("path", help="the folder to make (it must be empty or not exist)")
    new_parser.add_argument("--force", action="store_true",
                            help="add the starter course to a folder that is not empty (files already there are kept)")
    commands.add_parser("build", help="run doit for the course here (--course PATH for another); "
                                      "takes doit's arguments: lecturebuild build check, lecturebuild build -n 2")
    serve_parser = commands.add_parser("serve", help="preview the course site, rebuilding on every save")
    serve_parser.add_argument("--course", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    import_parser = commands.add_parser("import", help="import a notebook (.ipynb), script (.py) or Markdown (.md)")
    import_parser.add_argument("source", type=Path)
    import_parser.add_argument("--course", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    import_parser.add_argument("--name", help="the lecture's name (default: the next number and the file name)")
    import_parser.add_argument("--format", choices=["ipynb", "py", "md"], help="when the extension does not say")
    import_parser.add_argument("--force", action="store_true", help="replace a lecture of the same name")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.course.resolve(), args.host, args.port)
    if args.command == "new":
        return new_command(args.path, args.force)
    return import_command(args)


def new_command(path: str, force: bool) -> int:
    from lecturebuild.errors import LectureBuildError
    from lecturebuild.scaffold import new_course

    try:
        written = new_course(path, force)
    except LectureBuildError as exc:
        print(f"lecturebuild: {exc}", file=sys.stderr)
        return 2
    print(f"lecturebuild: made a course in {path} ({len(written)} files); build it with\n\n"
          f"    cd {shlex.quote(str(path))} && doit\n\nthen open build/site/index.html, or preview it with `lecturebuild serve`")
    return 0


def build_command(args: list[str]) -> int:
    """doit for the course folder (here, or `--course PATH` first): with its own dodo.py where it has
    one, else with every task of the package, as if it had the dodo.py that `lecturebuild new` writes."""
    course = Path.cwd()
    if args[:1] == ["--course"] and len(args) > 1:
        course, args = Path(args[1]), args[2:]
    elif args[:1] and args[0].startswith("--course="):
        course, args = Path(args[0].split("=", 1)[1]), args[1:]
    if args[:1] in (["-h"], ["--help"]):
        print("usage: lecturebuild build [--course PATH] [doit arguments]\n\nRuns doit in the course folder "
              "with the course's dodo.py, or with every lecturebuild task where it has none; `lecturebuild build "
              "help` is doit's help.")
        return 0
    if not (course / "lectures").is_dir():
        print(f"lecturebuild: {course.resolve()} has no lectures/ folder: not a course (make one with "
              "`lecturebuild new PATH`)", file=sys.stderr)
        return 2
    from doit.cmd_base import DodoTaskLoader
    from doit.doit_cmd import DoitMain

    os.chdir(course)
    loader = DodoTaskLoader() if Path("dodo.py").is_file() else _package_loader()
    return DoitMain(loader).run(args)


def _package_loader():
    from doit.cmd_base import NamespaceTaskLoader

    class Loader(NamespaceTaskLoader):
        """The tasks of lecturebuild.dodo, imported once doit has read `name=value` arguments, as a dodo.py's are."""

        def setup(self, opt_values):
            import importlib
            import inspect

            self.namespace = dict(inspect.getmembers(importlib.import_module("lecturebuild.dodo")))

    return Loader()



def import_command(args) -> int:
    from lecturebuild.errors import LectureBuildError
    from lecturebuild.importer.write import import_lecture

    try:
        done = import_lecture(args.source, args.course.resolve(), args.name, args.format, args.force)
    except LectureBuildError as exc:
        print(f"lecturebuild: {exc}", file=sys.stderr)
        return 2
    course = args.course.resolve()
    print(f"lecturebuild: imported {args.source} as {done.lecture.relative_to(course)} with "
          f"{len(done.snippets)} snippet files in snippets/{done.name}/")
    for note in done.notes:
        print(f"  {note}")
    if done.claims:
        print(f"  the outputs the source showed are in {done.claims.relative_to(course)}; the next `doit` "
              "runs the lecture and reports every block that prints otherwise")
    return 0


class Preview:
    """Runs `doit` for the course, counting the builds so pages know when to reload."""

    def __init__(self, course: Path):
        self.course = course
        self.builds = 0
        self.ok = False
        self.lock = threading.Lock()

    def build(self) -> None:
        command = [sys.executable, "-m", "lecturebuild", "build", "--course", str(self.course)]
        done = subprocess.run(command, cwd=self.course)
        with self.lock:
            self.builds += 1
            self.ok = done.returncode == 0
        state = "built" if self.ok else "built with failures (the pages of failed lectures are their last good build)"
        print(f"lecturebuild: {state}; build {self.builds}", flush=True)


LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


class Handler(SimpleHTTPRequestHandler):
    preview: Preview

    def do_GET(self):
        if not self._host_allowed():
            self.send_error(403, "lecturebuild serve answers only requests for this machine (localhost)")
            return
        if self.path.split("?")[0] == RELOAD_PATH:
            with self.preview.lock:
                body = json.dumps({"build": self.preview.builds, "ok": self.preview.ok}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def do_HEAD(self):
        if not self._host_allowed():
            self.send_error(403)
            return
        super().do_HEAD()

    def _host_allowed(self) -> bool:
        """A page on another site that points a name of its own at 127.0.0.1 (DNS rebinding) sends its own
        name as Host: only requests naming this machine, or the address the preview was started on, pass."""
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        bound = self.server.server_address[0]
        return name in LOCAL_HOSTS or name == str(bound).lower() or name == f"[{str(bound).lower()}]"

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")  # a rebuilt page is always fetched anew
        super().end_headers()

    def log_message(self, format, *args):  # the build's output is what matters in the terminal
        pass


def serve(course: Path, host: str, port: int) -> int:
    from watchfiles import watch

    if not (course / "lectures").is_dir():
        print(f"lecturebuild: {course} has no lectures/ folder: not a course", file=sys.stderr)
        return 2
    preview = Preview(course)
    preview.build()
    site = course / "build" / "site"
    site.mkdir(parents=True, exist_ok=True)
    handler = type("PreviewHandler", (Handler,), {"preview": preview})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"lecturebuild: serving http://{host}:{server.server_address[1]}/ ; rebuilding when "
          f"{', '.join(WATCHED)} change (Ctrl-C stops)", flush=True)
    paths = [course / name for name in WATCHED if (course / name).exists()]
    try:
        for changes in watch(*paths, debounce=300, step=100):
            names = sorted({Path(path).relative_to(course).as_posix() for _, path in changes})
            print(f"lecturebuild: changed: {', '.join(names)}", flush=True)
            preview.build()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0
