"""Markdown into HTML: CommonMark plus GFM tables by cmark-gfm, for every Markdown body."""

from __future__ import annotations

import functools
from typing import Any


def markdown_to_html(text: str) -> str:
    """CommonMark plus GFM tables, by GitHub's cmark-gfm (C). Raw HTML is the author's to use,
    so it passes through (CMARK_OPT_UNSAFE); no other GFM extension changes the text."""
    return _cmark().to_html(text)


class _Cmark:
    """cmark-gfm through cmarkgfm's compiled bindings, freeing what they leave allocated.

    cmarkgfm's own markdown_to_html_with_extensions frees neither the document tree nor the
    HTML string cmark-gfm returns: about 40 KB per call with this corpus, 2.5 GB for the
    pages of 100,000 articles. The two functions that free them are exported by the same
    library but not declared in its bindings, so they are looked up here with ctypes (cffi
    would parse a declaration with pycparser first: 50 ms more at each start)."""

    def __init__(self) -> None:
        import ctypes

        from cmarkgfm import _cmark

        self.lib, self.ffi = _cmark.lib, _cmark.ffi
        self.lib.cmark_gfm_core_extensions_ensure_registered()
        self.table = self.lib.cmark_find_syntax_extension(b"table")
        # Table alignment as style="text-align: ..." (HTML5), not the obsolete align attribute.
        self.options = self.lib.CMARK_OPT_UNSAFE | self.lib.CMARK_OPT_TABLE_PREFER_STYLE_ATTRIBUTES
        library = ctypes.CDLL(_cmark.__file__)
        self.node_free, self.free = library.cmark_node_free, library.free
        for function in (self.node_free, self.free):
            function.argtypes, function.restype = [ctypes.c_void_p], None

    def _pointer(self, cdata: Any) -> int:
        address: int = int(self.ffi.cast("uintptr_t", cdata))
        return address

    def to_html(self, text: str) -> str:
        lib = self.lib
        data = text.encode("utf-8")
        parser = lib.cmark_parser_new(self.options)
        try:
            lib.cmark_parser_attach_syntax_extension(parser, self.table)
            lib.cmark_parser_feed(parser, data, len(data))
            root = lib.cmark_parser_finish(parser)
            try:
                raw = lib.cmark_render_html(
                    root, self.options, lib.cmark_parser_get_syntax_extensions(parser)
                )
                try:
                    # cmark-gfm writes &#xFFFE; and &#xFFFF; as the single bytes FE and FF
                    # (utf8proc's encoder), never valid UTF-8: dropped, as xml_safe would.
                    html_text: str = self.ffi.string(raw).decode("utf-8", "ignore")
                finally:
                    self.free(self._pointer(raw))
            finally:
                self.node_free(self._pointer(root))
        finally:
            lib.cmark_parser_free(parser)
        return html_text


@functools.cache
def _cmark() -> _Cmark:
    return _Cmark()
