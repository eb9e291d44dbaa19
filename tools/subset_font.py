"""Rebuild ``okml/explain/fonts/NotoSansSC-okml.ttf``, the Chinese font that okml ships.

The source is Noto Sans CJK SC Regular (SIL OFL 1.1) from Debian's ``fonts-noto-cjk``
package. The font is fetched and unpacked, not installed (an installed CJK font would hide,
on this machine, what a reader without one sees)::

    python tools/subset_font.py --fetch            # apt-get download + dpkg-deb -x, then build
    python tools/subset_font.py PATH.ttc|PATH.otf  # from a copy you already have

It keeps these characters, those the source has (see :func:`characters`):

- ASCII, Latin-1, general punctuation, currency signs and the minus sign;
- CJK symbols and punctuation, full-width and half-width forms;
- the whole of GB2312: its symbols, Greek, Cyrillic, kana, pinyin letters and its 6,763
  hanzi (level 1, the 3,755 common ones, and level 2), read from Python's own codec;
- every other non-ASCII character in okml's own ``.py`` files and notebooks.

The outlines are converted from CFF to TrueType (quadratic, within 1 unit of 1,000), hinting
and vertical metrics are dropped, layout keeps only ccmp, kern, liga, mark and mkmk, and the
family is renamed ``okml-cjk`` so it never collides with an installed Noto; the copyright,
licence and trademark names stay in the font. The output is the same bytes for the same
source and fontTools version (no timestamp is written).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "okml" / "explain" / "fonts" / "NotoSansSC-okml.ttf"
SOURCE_FAMILY = "Noto Sans CJK SC"
DEBIAN_PACKAGE = "fonts-noto-cjk"
DEBIAN_FILE = "usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FAMILY = "okml-cjk"  # okml.explain.fonts.FONT_FAMILY
MAX_ERR = 1.0  # font units (of 1,000 per em) between the cubic and the quadratic outline
FEATURES = ["ccmp", "kern", "liga", "mark", "mkmk"]
BLOCKS = (
    (0x20, 0x7E),  # ASCII
    (0xA0, 0xFF),  # Latin-1
    (0x2010, 0x205E),  # general punctuation: dashes, quotes, ellipsis, per mille, primes
    (0x20A0, 0x20C0),  # currency signs
    (0x2212, 0x2212),  # minus sign (matplotlib's negative tick labels)
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF00, 0xFFEF),  # full-width and half-width forms
)


def gb2312(first_row: int = 1, last_row: int = 87) -> list[str]:
    """The characters of GB2312 rows ``first_row`` to ``last_row`` (16-55: hanzi level 1,
    56-87: level 2), in code order."""
    out = []
    for row in range(first_row, last_row + 1):
        for cell in range(1, 95):
            try:
                out.append(bytes([row + 0xA0, cell + 0xA0]).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # unassigned cell
    return out


def own_texts() -> set[str]:
    """Every non-ASCII character in okml's ``.py`` files and notebooks."""
    files = [*(ROOT / "okml").rglob("*.py"), *(ROOT / "notebooks").glob("*.ipynb")]
    return {c for f in files for c in f.read_text(encoding="utf-8") if ord(c) > 0x7F}


def characters() -> set[str]:
    """The characters the shipped font is asked to hold."""
    chars = {chr(c) for lo, hi in BLOCKS for c in range(lo, hi + 1)}
    return chars | set(gb2312()) | own_texts()


def load_source(path: Path) -> TTFont:
    """Noto Sans CJK SC Regular from ``path`` (a collection or a single font)."""
    if path.suffix.lower() in (".ttc", ".otc"):
        families = [f["name"].getDebugName(1) for f in TTCollection(path, lazy=True).fonts]
        if SOURCE_FAMILY not in families:
            raise SystemExit(f"{path}: no {SOURCE_FAMILY!r} in this collection ({families})")
        return TTFont(path, fontNumber=families.index(SOURCE_FAMILY), recalcTimestamp=False)
    font = TTFont(path, recalcTimestamp=False)
    if font["name"].getDebugName(1) != SOURCE_FAMILY:
        raise SystemExit(f"{path}: not {SOURCE_FAMILY} (found {font['name'].getDebugName(1)!r})")
    return font


def cff_to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines of ``font`` by quadratic TrueType ones, in place."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    quadratic = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, MAX_ERR, reverse_direction=True))
        quadratic[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = quadratic
    del font["CFF "]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if hasattr(glyph, "xMin"):  # empty glyphs have no bounds
            hmtx[name] = (hmtx[name][0], glyph.xMin)
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"


def rename(font: TTFont, version: str) -> None:
    """Family ``okml-cjk`` (an OFL modified version takes its own name); say what it is."""
    name = font["name"]
    for record in list(name.names):
        if record.nameID in (1, 2, 3, 4, 6, 10, 16, 17):
            name.removeNames(nameID=record.nameID)
    for name_id, text in {
        1: FAMILY,
        2: "Regular",
        3: f"{FAMILY}-Regular;{version}",
        4: f"{FAMILY} Regular",
        6: f"{FAMILY}-Regular",
        10: f"A subset of Noto Sans CJK SC Regular {version} (GB2312 and okml's own texts) "
        "made for okml's reports by tools/subset_font.py.",
    }.items():
        name.setName(text, name_id, 3, 1, 0x409)


def build(source: Path, output: Path = OUTPUT) -> TTFont:
    """Subset, convert and rename ``source`` into ``output``; return the new font."""
    font = load_source(source)
    version = font["name"].getDebugName(5).split(";")[0].removeprefix("Version ").strip()
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright, licence and trademark (OFL condition 2)
    options.name_languages = [0x409]
    options.hinting = False
    options.desubroutinize = True
    options.layout_features = FEATURES
    options.drop_tables += ["vhea", "vmtx", "VORG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters()))
    subsetter.subset(font)
    cff_to_truetype(font)
    rename(font, version)
    output.parent.mkdir(parents=True, exist_ok=True)
    font.save(output)
    return font


def fetch(into: Path) -> Path:
    """Download Debian's ``fonts-noto-cjk`` into ``into`` and unpack it (no install)."""
    subprocess.run(["apt-get", "download", DEBIAN_PACKAGE], cwd=into, check=True)
    deb = next(into.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into / "x")], check=True)
    print(f"source: {deb.name}")
    return into / "x" / DEBIAN_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "source", nargs="?", type=Path, help="NotoSansCJK-Regular.ttc or NotoSansCJKsc-Regular.otf"
    )
    parser.add_argument("--fetch", action="store_true", help=f"apt-get download {DEBIAN_PACKAGE} first")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.fetch == (args.source is not None):
        parser.error("give either a source font or --fetch")
    work = Path(tempfile.mkdtemp(prefix="okml-font-"))
    try:
        font = build(fetch(work) if args.fetch else args.source, args.output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    chars = len(font.getBestCmap())
    hanzi = sum(0x4E00 <= c <= 0x9FFF for c in font.getBestCmap())
    size = args.output.stat().st_size
    print(f"wrote {args.output}: {size / 1e6:.2f} MB, {chars} characters ({hanzi} hanzi)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
