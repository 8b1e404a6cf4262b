"""Turning platform HTML into the plain text of a post."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

_BLOCK_TAGS = {"p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
_SPACES = re.compile(r"[ \t\u00a0]+")


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment; entities decoded, <br> and blocks as newlines.

    Text a poster typed that looks like HTML arrives entity-escaped (`&lt;script&gt;`) and
    comes out verbatim as `<script>`: it is escaped again wherever it is shown.
    """
    if not fragment or ("<" not in fragment and "&" not in fragment):
        return fragment or ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return fragment
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for element in root.iter():
        if element.tag in _BLOCK_TAGS and element is not root:
            element.tail = "\n\n" + (element.tail or "")
    text = root.text_content()
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_tags(text: str) -> str:
    """Drop markup such as Google Alerts' <b> highlights from a title."""
    return html_to_text(text)
