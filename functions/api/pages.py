"""Server-rendered pages: Jinja2 templates in `functions/templates/`, autoescaped, one stylesheet each.

The environment is built on the first page a container renders (not at import: the customer
function's JSON routes and cold start do without Jinja2), then kept: templates are compiled once
per container. `StrictUndefined` turns a misspelt variable into an error instead of an empty string.

Every value a template prints is escaped with the standard library's `html.escape` (quotes too),
through `finalize`; markup only comes from the templates themselves or from `Markup` a module built
on purpose (the stylesheet). Stylesheets are inline, allowed by the page's Content-Security-Policy
through their SHA-256, which is computed here from the very text the page carries.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def stylesheet(name: str) -> str:
    """A stylesheet of `functions/templates/`, as the page embeds it (no trailing newline)."""
    return (TEMPLATES / name).read_text(encoding="utf-8").strip()


def style_hash(css: str) -> str:
    """The CSP source that allows exactly this inline `<style>` text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def security_headers(css: str, *, form_action: str) -> dict[str, str]:
    """Only our inline style (by hash); no scripts, images, frames or other sources."""
    return {
        "Content-Security-Policy": f"default-src 'none'; style-src {style_hash(css)}; form-action {form_action}; "
        "base-uri 'none'; frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def _finalize(value: Any) -> Any:
    """`html.escape` for every printed value that is not markup already (autoescape then leaves it be)."""
    from markupsafe import Markup

    return value if isinstance(value, Markup) else Markup(escape(str(value), quote=True))  # noqa: S704 - escaped


@cache
def environment() -> Environment:
    """The pages' Jinja2 environment: built once per container, on the first render."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the files do not change inside a container
    )


def trusted(text: str) -> Any:
    """Markup this code wrote itself (a stylesheet read from the package): printed as is."""
    from markupsafe import Markup

    return Markup(text)  # noqa: S704 - our own file, never a request's value


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
