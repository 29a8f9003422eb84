"""Templates: Jinja2 in a bounded sandbox, a site's own templates over the packaged ones.

Every template feedpub renders (pages, the digest, the web app's pages) comes from here, so
that none can reach Python's internals, read a file outside templates/, or fill the memory.
Imports only the basics (config, errors, plugins), and Jinja2 when a template is first made.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from feedpub.config import Site, packaged_templates
from feedpub.i18n import human_date as in_language
from feedpub.i18n import words
from feedpub.plugins import registry
from feedpub.text import isolate
from feedpub.theme import theme_of

# Jinja2 takes tens of milliseconds to import: it is imported when a template is first made
# (environment(), Sandbox), so that a build with nothing to render does not load it. The
# classes built on Jinja2's are made then too, once (_jinja).
if TYPE_CHECKING:
    import jinja2
    import jinja2.runtime
    from jinja2.sandbox import SandboxedEnvironment


# The most characters (or items) one operation of a template may make: a page is far smaller,
# and ``"x" * 3000000000`` would take 8.8 GB before anything failed.
MAX_TEMPLATE_SIZE = 10_000_000
# Jinja2's sandbox allows range(100000); a template needs far fewer.
MAX_RANGE = 100_000
_WIDTH = re.compile(r"\d{8,}")  # a width or precision in a format string, as in %3000000000d
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")  # a width from an argument: "{:{}}"


def _too_big(size: int) -> Exception:
    from jinja2.exceptions import SecurityError

    return SecurityError(
        f"this would make {size:,} characters or items; a template may make at most "
        f"{MAX_TEMPLATE_SIZE:,} at once"
    )


def _check_size(size: int) -> None:
    if size > MAX_TEMPLATE_SIZE:
        raise _too_big(size)


def _check_format(spec: object) -> None:
    if isinstance(spec, str):
        for digits in _WIDTH.findall(spec):
            _check_size(int(digits))


def _bounded_range(*args: int) -> range:
    from jinja2.exceptions import SecurityError

    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(
            f"range() of {len(numbers):,} numbers; a template may count to {MAX_RANGE:,} at most"
        )
    return numbers


def _bounded(function: Callable[..., Any], argument: str) -> Callable[..., Any]:
    """``function`` (a filter or global), refusing a size argument over MAX_TEMPLATE_SIZE."""
    signature = inspect.signature(function)
    # A filter that Jinja2 hands its context or environment first: that is not in the signature.
    passed = 1 if getattr(function, "jinja_pass_arg", None) else 0

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        try:
            value = signature.bind(*args[passed:], **kwargs).arguments.get(argument)
        except TypeError:
            value = None  # the function itself says what is wrong with the arguments
        if isinstance(value, int):
            _check_size(value)
        return function(*args, **kwargs)

    return bounded


def _format_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_format(value)
        return function(value, *args, **kwargs)

    return bounded


class _Jinja(NamedTuple):
    """feedpub's classes on Jinja2's: the sandbox, the confined loader and its error."""

    sandbox: type[SandboxedEnvironment]
    confined: type[jinja2.FileSystemLoader]
    link_out: type[jinja2.TemplateError]


@functools.cache
def _jinja() -> _Jinja:
    """Jinja2, imported, and feedpub's classes on it, made once."""
    import jinja2
    import jinja2.exceptions
    import jinja2.runtime
    import jinja2.sandbox
    import jinja2.utils
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.loaders import split_template_path

    class _BoundedCode(CodeGenerator):
        """Jinja2's code, with the result of ``~`` checked like that of ``+``: a loop that doubles
        a string with ``~`` stops at the bound instead of filling the memory."""

        def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
            self.write("environment.sized(")
            super().visit_Concat(node, frame)
            self.write(")")

    class Sandbox(jinja2.sandbox.SandboxedEnvironment):
        """Jinja2's sandbox (no attribute starting with '_', no unsafe method: a template cannot
        reach Python's internals), also bounding what one operation may make."""

        intercepted_binops = frozenset({"*", "**", "%", "+"})
        code_generator_class = _BoundedCode

        @staticmethod
        def sized(value: str) -> str:
            _check_size(len(value))
            return value

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            spec: str = value.__self__
            _check_format(spec)
            nested = _NESTED_SPEC.search(spec) is not None

            def bounded(*args: Any, **kwargs: Any) -> str:
                if nested:  # a width given as an argument: "{:{}}".format(1, 3000000000)
                    for argument in (*args, *kwargs.values()):
                        if isinstance(argument, int):
                            _check_size(abs(argument))
                return wrapped(*args, **kwargs)

            return bounded

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.globals["range"] = _bounded_range
            self.globals["lipsum"] = _bounded(jinja2.utils.generate_lorem_ipsum, "n")
            for name, argument in (("center", "width"), ("indent", "width"), ("slice", "slices")):
                self.filters[name] = _bounded(self.filters[name], argument)
            self.filters["format"] = _format_filter(self.filters["format"])

        def call_binop(
            self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
        ) -> Any:
            if operator == "*":
                for items, count in ((left, right), (right, left)):
                    if isinstance(items, str | bytes | list | tuple) and isinstance(count, int):
                        _check_size(len(items) * count)
            elif operator == "+":
                if isinstance(left, str | bytes | list | tuple) and hasattr(right, "__len__"):
                    _check_size(len(left) + len(right))
            elif operator == "**":
                if isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                    _check_size(right * abs(left).bit_length() // 3)  # about its decimal digits
            elif operator == "%":
                _check_format(left)
            return super().call_binop(context, operator, left, right)

        def call(
            __self,  # the double underscores: the signature of Jinja2's own call
            __context: jinja2.runtime.Context,
            __obj: Any,
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, str):
                name = getattr(__obj, "__name__", "")
                if name in {"center", "ljust", "rjust", "zfill", "expandtabs"}:
                    for value in (*args, *kwargs.values()):
                        if isinstance(value, int):
                            _check_size(value * (1 if name != "expandtabs" else len(owner)))
            return super().call(__context, __obj, *args, **kwargs)

    class _Confined(jinja2.FileSystemLoader):
        """A folder's templates; a template that is a link (or in a linked folder) leading out of
        the folder is refused, so that no template can include /etc/shadow into every page."""

        def __init__(self, folder: Path, shown: str) -> None:
            super().__init__(folder)
            self.folder = folder.resolve()
            self.shown = shown

        def get_source(
            self, environment: jinja2.Environment, template: str
        ) -> tuple[str, str, Callable[[], bool]]:
            path = self.folder.joinpath(*split_template_path(template))
            if os.path.lexists(path):
                real = path.resolve()
                if not real.is_relative_to(self.folder):
                    raise LinkOutError(
                        f"{self.shown}/{template}: error: a link to {real}, outside "
                        f"{self.shown}/; copy the template into {self.shown}/ instead"
                    )
            return super().get_source(environment, template)

    class LinkOutError(jinja2.TemplateError):
        """A template leads out of its folder."""

    return _Jinja(Sandbox, _Confined, LinkOutError)


def __getattr__(name: str) -> type[SandboxedEnvironment]:
    """``Sandbox``: Jinja2's sandbox (no attribute starting with '_', no unsafe method: a
    template cannot reach Python's internals), also bounding what one operation may make."""
    if name == "Sandbox":
        return _jinja().sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _isolated(value: object) -> object:
    """What ``{{ }}`` writes: text holding a bidi control between FSI and PDI (text.isolate).
    Markup can isolate a value in a page's body (<bdi>, dir="auto"), but not in <title>, an
    attribute, the digest's hidden preheader or its text part, where an override a title left
    open would reverse the text after it. HTML (Markup) is left as it is."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return isolate(value)
    return value


def environment(site: Site) -> jinja2.Environment:
    import jinja2

    made = _jinja()
    loaders: list[jinja2.BaseLoader] = []
    if site.templates_dir.is_dir():
        loaders.append(made.confined(site.templates_dir, "templates"))
    loaders.append(jinja2.FileSystemLoader(packaged_templates()))
    env = made.sandbox(
        loader=jinja2.ChoiceLoader(loaders),
        # Everything is escaped but plain-text templates (the digest's text part).
        # Templates do not change while a build runs: no stat() of the file at each page.
        auto_reload=False,
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_isolated,
        # The words a reader sees are written {{ _("…") }} (Jinja2's i18n extension, new-style
        # gettext: the result is escaped like any other value).
        extensions=["jinja2.ext.i18n"],
    )
    install_words(env, site.site.language)
    env.filters["html_datetime"] = html_datetime
    env.filters.update(registry(site).filters)
    # The publication's colours, font, logo and icons, for the pages and the emails alike.
    env.globals["theme"] = theme_of(site)
    return env


def _isolating(made: Callable[..., str]) -> Callable[..., str]:
    """Jinja2's new-style ``made`` (gettext or ngettext), each value it puts in isolated."""

    def isolating(context: jinja2.runtime.Context, *args: Any, **variables: Any) -> str:
        return made(context, *args, **{k: _isolated(v) for k, v in variables.items()})

    return isolating


def install_words(env: jinja2.Environment, tag: str) -> None:
    """Have ``env``'s templates speak the language ``tag``: ``_()``, ``gettext``, ``ngettext``
    and ``{% trans %}`` from its catalogue, and the ``human_date`` filter in its way (i18n).
    The values put into a message (``_("Get %(name)s", name=…)``) are isolated as ``{{ }}``
    isolates a value (_isolated), since a translated message is one piece of text."""
    from jinja2 import pass_context

    said = words(tag)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=said.gettext, ngettext=said.ngettext, newstyle=True
    )
    for name in ("gettext", "ngettext"):
        made: Callable[..., str] = env.globals[name]  # type: ignore[assignment]
        env.globals[name] = pass_context(_isolating(made))
    env.filters["human_date"] = said.date


def template_problem(exc: BaseException, site: Site, fallback: str) -> str:
    """``PATH:LINE: error: what; fix`` for an exception raised while a template was compiled
    or rendered: the innermost template in its traceback (Jinja2 rewrites the traceback so that
    its frames are the templates' lines), else ``fallback``'s name."""
    import jinja2

    if isinstance(exc, _jinja().link_out):
        return str(exc)
    path, line = "", 0
    if isinstance(exc, jinja2.TemplateSyntaxError):
        path, line = exc.filename or "", exc.lineno
    else:
        folders = tuple(str(f) for f in (site.templates_dir, packaged_templates()))
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if name.startswith(folders):
                path, line = name, tb.tb_lineno
            tb = tb.tb_next
    shown = _shown(site, path) if path else fallback
    where = f"{shown}:{line}" if line else shown
    return f"{where}: error: {template_error_text(exc)}"


def _shown(site: Site, path: str) -> str:
    found = Path(path)
    for folder, name in ((site.templates_dir, "templates"), (packaged_templates(), "templates")):
        if found.is_relative_to(folder):
            inside = found.relative_to(folder).as_posix()
            return f"{name}/{inside}" if folder == site.templates_dir else f"(packaged) {inside}"
    return path


def template_error_text(exc: BaseException) -> str:
    import jinja2
    import jinja2.exceptions

    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"template syntax: {exc.message}; fix the template"
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"there is no template {exc.name!r} in templates/ or the packaged ones"
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return (
            f"{exc}: templates run in a sandbox; use the values feedpub passes to the "
            "template, not Python's internals or huge values"
        )
    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message}; use only the names the template is given (see the packaged one)"
    if isinstance(exc, RecursionError):
        return "a macro or include calls itself without end; give the recursion an end"
    return f"{type(exc).__name__}: {exc}; fix this line of the template"


def human_date(value: datetime) -> str:
    """'March 4, 2026': the day in English (i18n.human_date; never the locale of a program
    that imports feedpub). Templates get the site's language's own as the filter."""
    return in_language(value, "en")


def html_datetime(value: datetime) -> str:
    """A valid HTML date and time for ``<time datetime>``: '2026-03-04T09:30:00+01:00'.

    isoformat() alone writes microseconds ('09:30:00.123456') and offsets with seconds (a zone's
    local mean time before 1900, '+00:53:28'), which HTML does not allow: the seconds are the
    finest part kept, and an offset that is not whole minutes is written in UTC instead."""
    offset = value.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        value = value.astimezone(UTC)
    return value.replace(microsecond=0).isoformat()
