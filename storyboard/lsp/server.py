"""The language server: open documents, one analysis per change, and the features.

Every change is analysed once (blocks the edit left alone are not parsed again: incremental.py;
in one worker thread, so the event loop keeps answering) and the
diagnostics of the story and of every file it includes are published; changes that arrive while
an analysis runs are taken together by the next one. Hover, completion, navigation and the
actions read the last analysis, never parse again. A document that an open story includes is
analysed as part of that story, so its diagnostics are the ones `storyboard check` prints for it.

Full document sync: pygls applies incremental edits on lines split with `str.splitlines`, which
also breaks at U+2028 and form feeds where LSP does not, so a story holding one would drift out of
step with the editor."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from .. import paths
from ..api import analyse, compile_analysed
from ..providers.base import Provider
from . import actions, complete, hover, navigate
from .analysis import Result
from .convert import path_of, real_path, uri_of
from .incremental import IncrementalParser

log = logging.getLogger(__name__)


class StoryServer(LanguageServer):
    def __init__(self, provider: Provider, version: str):
        super().__init__("storyboard", version, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.provider = provider
        self.results: dict[Path, Result] = {}  # root story -> its last analysis
        self.published: dict[Path, set[str]] = {}  # root story -> uris it published diagnostics for
        self.running: dict[Path, asyncio.Task] = {}
        self.again: set[Path] = set()  # roots changed while their analysis ran
        self.analyser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storyboard-analysis")
        self.parser = IncrementalParser()  # used by the one analysis thread only
        self.includers: dict[Path, Path | None] = {}  # document -> the story on disk that includes it

    # ---- documents ----------------------------------------------------------------------

    def open_docs(self) -> dict[Path, TextDocument]:
        """Each open document by its real path (its `path` is the client's URI, unescaped)."""
        return {real_path(doc.path): doc for doc in self.workspace.text_documents.values() if doc.path}

    def open_texts(self) -> dict[Path, str]:
        return {path: doc.source for path, doc in self.open_docs().items()}

    def root_of(self, uri: str) -> Path | None:
        """The open story whose last analysis read this document, else a story beside it that
        includes it (an include holds no clips: checked alone it would be a film without any),
        else the document itself."""
        path = path_of(uri)
        if path is None:
            return None
        for root, result in self.results.items():
            if root != path and result.file_of(uri) is not None and self._is_open(root):
                return root
        if path not in self.includers:
            self.includers[path] = includer_on_disk(path)
        return self.includers[path] or path

    def _is_open(self, path: Path) -> bool:
        return real_path(str(path)) in self.open_docs()

    def result_for(self, uri: str) -> tuple[Result, str] | None:
        root = self.root_of(uri)
        result = self.results.get(root) if root else None
        file = result.file_of(uri) if result else None
        return (result, file) if file is not None else None

    async def ready(self, uri: str, compiled: bool = False) -> tuple[Result, str] | None:
        """The last analysis that covers `uri`; waits for the first one of a document just opened
        (and, `compiled`, for the plan of the analysis under way)."""
        found = self.result_for(uri)
        root = self.root_of(uri)
        waiting = found is None or (compiled and found[0].compiling)
        if waiting and root in self.running:
            await asyncio.shield(self.running[root])
            found = self.result_for(uri)
        return found

    # ---- analysis -----------------------------------------------------------------------

    def changed(self, uri: str) -> None:
        root = self.root_of(uri)
        if root is None:
            return
        if root in self.running:
            self.again.add(root)
            return
        self.running[root] = asyncio.get_running_loop().create_task(self._analyse_until_current(root))

    async def _analyse_until_current(self, root: Path) -> None:
        try:
            while True:
                self.again.discard(root)
                await self._analyse(root)
                if root not in self.again:
                    return
        finally:
            self.running.pop(root, None)

    async def _analyse(self, root: Path) -> None:
        """Check, publish, then compile: the check's diagnostics are out before the compile (a third
        of the work) runs; the compile publishes again only if it found more (SB430, a request the
        provider cannot take), and gives hover and the lenses their plan."""
        docs = self.open_docs()
        texts = {path: doc.source for path, doc in docs.items()}
        seen = {path: (doc.uri, doc.version) for path, doc in docs.items()}
        loop = asyncio.get_running_loop()
        try:
            checked = await loop.run_in_executor(self.analyser, functools.partial(
                analyse, root, self.provider, texts, self.parser.parse, compiled=False))
            result = Result(root, checked, self.workspace.position_codec, seen, compiling=True)
            self.results[root] = result
            self.publish(result)
            compiled = await loop.run_in_executor(self.analyser, compile_analysed, checked, self.provider)
        except Exception as exc:  # a bug must cost one analysis, never the server
            log.exception("analysing %s failed", root)
            self.window_log_message(types.LogMessageParams(types.MessageType.Error,
                                                           f"storyboard: analysing {root} failed: {exc!r}"))
            return
        result.analysis, result.compiling = compiled, False
        if compiled.diagnostics != checked.diagnostics:
            self.publish(result)

    def publish(self, result: Result) -> None:
        by_file: dict[str, list[types.Diagnostic]] = {name: [] for name in result.files.values()}
        for d in result.diagnostics:
            file = d.span.file if d.span else str(result.film.path)
            by_file.setdefault(file, []).append(actions.to_lsp(d, result.lines(file)))
        shown = {result.uri(file): file for file in by_file}
        for uri in self.published.get(result.root, set()) - shown.keys():  # no longer included: clear it
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        for uri, file in shown.items():
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, diagnostics=by_file[file], version=result.version(file)))
        self.published[result.root] = set(shown)

    def closed(self, uri: str) -> None:
        path = path_of(uri)
        if path is None:
            return
        self.includers.pop(path, None)
        covered = self.published.pop(path, set())
        for uri_shown in covered:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri_shown, diagnostics=[]))
        self.results.pop(path, None)
        for root in list(self.results):  # a story that included the closed buffer reads the disk again
            if self.results[root].file_of(uri) is not None and self._is_open(root):
                self.changed(uri_of(str(root)))
        for doc in list(self.workspace.text_documents.values()):  # the open files the closed story included
            if doc.uri != uri and doc.uri in covered:
                self.changed(doc.uri)


_INCLUDE = re.compile(r"^include[ \t]*:[ \t]*([^#\n]*?)[ \t]*(?:#.*)?$", re.M)
INCLUDER_LEVELS = 3  # folders looked in for a story that includes a document: its own and two above
INCLUDER_FILES = 200  # stories read at most (a folder of thousands of stories is not a film's)


def includer_on_disk(path: Path) -> Path | None:
    """A `.story` file in the document's folder or the two above it whose `include:` names it."""
    target = path.resolve()
    folder = target.parent
    read = 0
    for _ in range(INCLUDER_LEVELS):
        for story in sorted(folder.glob("*.story")):
            if story.resolve() == target or read >= INCLUDER_FILES:
                continue
            read += 1
            try:
                text = story.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if any(paths.resolve(story.resolve().parent, written).path == target for written in _INCLUDE.findall(text)):
                return story
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def make_server(provider: Provider, version: str) -> StoryServer:
    server = StoryServer(provider, version)
    _register_documents(server)
    complete.register(server)
    hover.register(server)
    navigate.register(server)
    actions.register(server)
    return server


def _register_documents(server: StoryServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: StoryServer, params: types.DidOpenTextDocumentParams):
        ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: StoryServer, params: types.DidChangeTextDocumentParams):
        ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: StoryServer, params: types.DidSaveTextDocumentParams):
        ls.changed(params.text_document.uri)  # files beside it (images) may have changed too

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: StoryServer, params: types.DidCloseTextDocumentParams):
        ls.closed(params.text_document.uri)


class _OneLine(logging.Formatter):
    """Log lines on stderr (the editor's output panel), an exception as one line, no traceback:
    a client's garbage or a bug is told in words, as the rest of storyboard tells problems."""

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return f"  ({ei[0].__name__}: {ei[1]})" if ei and ei[0] else ""

    def format(self, record: logging.LogRecord) -> str:
        record.stack_info = None
        return super().format(record).replace("\n  (", " (")


def serve(provider: Provider, version: str) -> None:
    """Speak LSP on stdin/stdout until the client says exit."""
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine("storyboard lsp: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    # The analysis thread holds the GIL for long stretches: hand it over more often (5 ms by
    # default), so a completion or hover request is answered while an analysis runs.
    sys.setswitchinterval(0.001)
    make_server(provider, version).start_io()
