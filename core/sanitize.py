"""Text that is safe wherever a protocol shows it: pump.io's HTML cut to a whitelist, and HTML as plain text.

pump.io content is HTML and pump.io clients render it; Mastodon statuses and descriptions are plain text.
Each is kept in its own form and turned into the other's where the other protocol shows it.

pump.io scrubs `content` and `summary` on the way in with DOMPurify and its defaults (lib/scrubber.js);
the whitelist here is narrower, pump.io's documented one without DOMPurify's wider defaults (style
attributes, svg, math, forms): elements of text structure and `img`, with `a` href/title/rel, `img`
src/alt/title/width/height and `abbr`/`acronym` title, and URLs of http, https and mailto only. Links get
no added `rel`, as in pump.io: an author's own `rel` stays, and nothing here can open a link in a new
window (`target` is not allowed), which is what `noopener` guards against.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset({
    "a", "abbr", "acronym", "b", "blockquote", "br", "cite", "code", "dd", "del", "dfn", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "samp",
    "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt",
    "u", "ul", "var",
})
ALLOWED_ATTRIBUTES = {
    "a": frozenset({"href", "title", "rel"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "abbr": frozenset({"title"}),
    "acronym": frozenset({"title"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# The `via` of the posts pump.io makes.
PUMPIO = "pumpio"
# Dropped with everything inside them, not unwrapped: their text is code or a document's head, never prose.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "title", "template", "noscript", "iframe", "object", "embed",
                                  "svg", "math", "textarea", "select", "xmp", "noembed", "noframes"})

# Built once: the cleaner is configured, not changed, by use.
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    # "*" empty: no attribute on every element (ammonia's default allows lang and title anywhere).
    attributes={"*": set(), **{tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}},
    url_schemes=set(URL_SCHEMES),
    link_rel=None,
    strip_comments=True,
)

# Where a block starts or ends, plain text breaks its line; a paragraph leaves a blank line.
_PARAGRAPHS = frozenset({"p", "blockquote", "pre", "table", "ul", "ol", "dl", "hr",
                         "h1", "h2", "h3", "h4", "h5", "h6"})
_LINES = frozenset({"div", "li", "dt", "dd", "tr"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\n\r\f\v]+")
_LINK = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def safe_html(text: str) -> str:
    """HTML cut to pump.io's whitelist: unknown elements unwrapped, scripts and the like dropped whole."""
    return _CLEANER.clean(text)


class _Text(HTMLParser):
    """The text of cleaned HTML; a number in `parts` is a break of that many newlines between blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str | int] = []
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark(tag)
        if tag in _CELLS:
            self.parts.append(" ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        self._mark(tag)

    def handle_data(self, data: str) -> None:
        # Outside <pre>, a run of white space is one space, as a browser shows it.
        self.parts.append(data.replace("\r\n", "\n").replace("\r", "\n") if self._pre else _SPACES.sub(" ", data))

    def _mark(self, tag: str) -> None:
        if tag in _PARAGRAPHS:
            self.parts.append(2)
        elif tag in _LINES:
            self.parts.append(1)

    def text(self) -> str:
        out: list[str] = []
        pending = 0
        for part in self.parts:
            if isinstance(part, int):
                # Breaks that meet (the end of one item and the start of the next) are the larger of them.
                pending = max(pending, part)
            elif part.strip(" "):
                if out and pending:
                    out.append("\n" * pending)
                out.append(part)
                pending = 0
            elif out and not pending:
                out.append(part)
        lines = "\n".join(line.strip(" ") for line in "".join(out).split("\n"))
        return re.sub(r"\n{3,}", "\n\n", lines).strip("\n")


def plain_text(text: str) -> str:
    """What HTML reads as: tags gone, entities decoded, a line per line and a blank line between paragraphs."""
    parser = _Text()
    # Parsed after cleaning, so that the text is what a browser would show of the same HTML.
    parser.feed(_CLEANER.clean(text))
    parser.close()
    return parser.text()


def title_text(text: str) -> str:
    """A title: plain text on one line, with nothing in it an HTML parser would take for a tag or an entity.

    Decoding can bring markup back (`&lt;b&gt;` is `<b>`), so the text is stripped again until it stops
    changing: a client that shows a title as HTML shows the same text as one that shows it as text.
    """
    current = text
    # Each round that changes anything removes a tag or shortens an entity, so it ends; the bound is a guard.
    for _ in range(len(text) + 1):
        stripped = _SPACES.sub(" ", plain_text(current)).strip(" ")
        if stripped == current:
            break
        current = stripped
    return current


def text_html(text: str) -> str:
    """Plain text as HTML: everything escaped, http(s) links made anchors, lines and paragraphs kept."""
    paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p]
    return "".join(f"<p>{'<br />'.join(_linked(line) for line in p.split(chr(10)))}</p>" for p in paragraphs)


def _linked(line: str) -> str:
    out: list[str] = []
    at = 0
    for match in _LINK.finditer(line):
        out.append(html.escape(line[at:match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}" rel="nofollow noopener noreferrer" target="_blank">{url}</a>')
        at = match.end()
    out.append(html.escape(line[at:]))
    return "".join(out)


def holds_html(via: str | None) -> bool:
    """Whether a post made through gateway `via` keeps HTML: a post keeps its protocol's form, so a pump.io
    comment's text is HTML within the whitelist, a Mastodon status's and a `/posts` body's plain text."""
    return via == PUMPIO


def text_as_safe_html(text: str) -> str:
    """Plain text as HTML within the whitelist, for a text that is kept as pump.io HTML."""
    return safe_html(text_html(text))
