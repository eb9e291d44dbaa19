"""The Chinese font of okml's reports and charts, so Chinese reads as Chinese on a machine
without a CJK font.

okml ships one font, ``NotoSansSC-okml.ttf`` beside this module: a subset of Noto Sans CJK SC
Regular (SIL OFL 1.1) that holds ASCII, CJK punctuation, full-width forms, all of GB2312 and
every character of okml's own texts (``README.md`` here says where it came from and
``tools/subset_font.py`` rebuilds it). Its family is :data:`FONT_FAMILY`, in a page and in
matplotlib alike.

- A self-contained HTML page embeds :func:`font_face_css` of its own text: the font cut down
  to exactly those characters, as a WOFF ``data:`` URI (a report of a few hundred distinct
  characters carries some 100 KB, not 2 MB).
- A matplotlib chart draws with :func:`chart_rc` (or ``font.sans-serif`` =
  ``[chart_font(), "DejaVu Sans"]``); :func:`chart_font` registers the font once.

Nothing happens at import: fontTools and matplotlib are loaded when a function needs them.
"""

from __future__ import annotations

import base64
import functools
import io
from pathlib import Path
from typing import Any

#: The font's family name, in CSS (``font-family: okml-cjk``) and in matplotlib.
FONT_FAMILY = "okml-cjk"
FONT_FILE = "NotoSansSC-okml.ttf"
# matplotlib's own font: Latin, Greek and symbols the CJK font lacks
FALLBACK = "DejaVu Sans"


def font_path() -> Path:
    """The shipped font file (TrueType)."""
    return Path(__file__).resolve().parent / FONT_FILE


@functools.cache
def _font_bytes() -> bytes:
    return font_path().read_bytes()


@functools.cache
def font_characters() -> frozenset[str]:
    """Every character the shipped font has a glyph for."""
    from fontTools.ttLib import TTFont

    with TTFont(io.BytesIO(_font_bytes()), lazy=True) as font:
        return frozenset(chr(code) for code in font.getBestCmap())


def missing_characters(text: str) -> list[str]:
    """The distinct characters of ``text`` that the shipped font cannot draw, in order of
    code point (whitespace and control characters are not counted: no font draws them).

    >>> missing_characters("风险 risk ✓")
    ['✓']
    """
    have = font_characters()
    return sorted({c for c in text if c not in have and c.isprintable() and not c.isspace()})


def subset_font(text: str, flavor: str | None = "woff") -> bytes:
    """The shipped font cut down to the characters of ``text`` it has, as ``flavor`` (``woff``:
    zlib-compressed, or ``None``: plain TrueType).

    The copyright and licence names stay in the font (the OFL asks every copy to carry them).
    The same text gives the same bytes: no timestamp is written and the order of the
    characters does not matter.

    Parameters
    ----------
    text : str
        The text to draw; characters the font lacks are left out (see
        :func:`missing_characters`).
    flavor : {"woff", None}
        The container: WOFF for a web page, ``None`` for a TrueType file.
    """
    import logging

    from fontTools import subset
    from fontTools.ttLib import TTFont

    # fontTools tells every pruned table at INFO: noise in okml's log, not news for a reviewer
    logging.getLogger("fontTools.subset").setLevel(logging.WARNING)
    options = subset.Options()
    options.name_IDs = ["*"]  # copyright (0), licence (13, 14), trademark (7)
    options.layout_features = ["*"]  # the few the shipped font kept
    options.flavor = flavor
    codes = sorted({ord(c) for c in text if c in font_characters()})
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codes)
    with TTFont(io.BytesIO(_font_bytes()), recalcTimestamp=False) as font:
        subsetter.subset(font)
        out = io.BytesIO()
        subset.save_font(font, out, options)
    return out.getvalue()


def needs_font(text: str) -> bool:
    """Whether ``text`` holds a character beyond ASCII that the shipped font can draw (one a
    page's ordinary fonts may not have)."""
    have = font_characters()
    return any(ord(c) > 0x7F and c in have for c in text)


def font_face_css(text: str) -> str:
    """A CSS ``@font-face`` rule (no ``<style>`` around it) that embeds the font for ``text``.

    The rule defines the family :data:`FONT_FAMILY` from a WOFF ``data:`` URI holding exactly
    the characters of ``text`` that the font has (:func:`subset_font`), with
    ``font-display: block`` so a page is never shown, or screenshotted, in a fallback font.
    Pass all the text the page shows (its HTML is fine: markup is ASCII). Use it with
    ``font-family: okml-cjk, sans-serif`` (everything in Noto, as a Chinese page should look),
    or put ``okml-cjk`` after the page's Latin font to keep that font for Latin.

    Returns ``""`` when ``text`` needs no font (:func:`needs_font` is false: ASCII only, or
    only characters the font lacks), so an English page carries nothing.

    >>> font_face_css("score 0.93")
    ''
    >>> font_face_css("分数 0.93").startswith('@font-face{font-family:"okml-cjk";')
    True
    """
    if not needs_font(text):
        return ""
    data = base64.b64encode(subset_font(text, "woff")).decode("ascii")
    return (
        f'@font-face{{font-family:"{FONT_FAMILY}";font-style:normal;font-weight:400;'
        f'font-display:block;src:url(data:font/woff;base64,{data}) format("woff")}}'
    )


def chart_font() -> str:
    """Register the shipped font with matplotlib (once) and return its family name.

    A figure then draws Chinese with ``font.sans-serif`` set to ``[chart_font(), "DejaVu
    Sans"]`` and ``font.family`` ``sans-serif`` (matplotlib falls back glyph by glyph to the
    next family), or simply within ``matplotlib.rc_context(chart_rc())``.
    """
    from matplotlib import font_manager

    path = str(font_path())
    # checked each time, not cached: a rebuilt font manager (a new fontlist cache) forgets it
    if not any(entry.fname == path for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def chart_rc() -> dict[str, Any]:
    """matplotlib settings that draw text in the shipped font (for ``rc_context``)."""
    return {"font.family": "sans-serif", "font.sans-serif": [chart_font(), FALLBACK]}
