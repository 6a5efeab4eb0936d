"""One analysis of a story as the editor holds it: the pipeline's `analyse` (load, check,
compile: the same diagnostics as `storyboard check`), with what the features look up in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pygls.workspace.position_codec import PositionCodec

from ..api import Analysis
from ..diagnostics import Diagnostic
from ..language.load import Film
from ..plan import RenderPlan
from .convert import Lines, path_of, real_path, uri_of
from .index import Index, build


@dataclass
class Result:
    root: Path  # the story the editor's document belongs to (itself, or the open story that includes it)
    analysis: Analysis
    codec: PositionCodec
    open_docs: dict[Path, tuple[str, int | None]] = field(default_factory=dict)  # real path -> (the
    # client's uri, the version analysed) of each document open when the analysis started
    compiling: bool = False  # checked; the plan is still being made

    @property
    def film(self) -> Film:
        return self.analysis.film

    @property
    def plan(self) -> RenderPlan | None:
        return self.analysis.plan

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.analysis.diagnostics

    @cached_property
    def files(self) -> dict[Path, str]:
        """real path -> the file's name in spans and `film.sources`. Paths, not URIs: clients
        escape URIs their own ways (VS Code's is not Python's `quote`)."""
        return {real_path(name): name for name in self.film.sources}

    def uri(self, file: str) -> str:
        """A file's URI as the client spelt it when it opened the file, else ours."""
        found = self.open_docs.get(real_path(file))
        return found[0] if found else uri_of(file)

    def version(self, file: str) -> int | None:
        found = self.open_docs.get(real_path(file))
        return found[1] if found else None

    @cached_property
    def index(self) -> Index:
        return build(self.film)

    def lines(self, file: str) -> Lines:
        return Lines(self.film.sources.get(file, ""), self.codec)

    def file_of(self, uri: str) -> str | None:
        path = path_of(uri)
        return self.files.get(real_path(str(path))) if path is not None else None

    def rel_dir(self, file: str) -> str:
        """The file's folder relative to the story's: what paths written in it are relative to."""
        here = Path(file).resolve().parent
        base = self.film.base_dir
        return here.relative_to(base).as_posix() if here.is_relative_to(base) and here != base else ""

    def is_main(self, file: str) -> bool:
        return file == str(self.film.path)
