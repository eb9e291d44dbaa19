"""The shipped Chinese font (okml.explain.fonts) and the Chinese names of column values
(okml.explain.vocab): coverage of okml's own texts, per-page subsets, matplotlib charts, and a
page in headless Chromium that draws Chinese with the embedded font, not as boxes."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image

from okml.explain import fonts, vocab
from okml.explain.fonts import FONT_FAMILY, font_face_css, font_path, missing_characters, subset_font
from okml.paths import PROJECT_ROOT

# CJK ideographs (and extension A), CJK punctuation, full-width forms
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
SAMPLE = "待审核的可疑支付：风险最高的支付，金额¥1,234.50（夜间）"
DATA_URI = re.compile(r'src:url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\) format\("woff"\)')


def _embedded(css: str) -> TTFont:
    match = DATA_URI.search(css)
    assert match, css[:200]
    return TTFont(io.BytesIO(base64.b64decode(match.group(1))))


def _strings(obj: Any) -> list[str]:
    """Every string inside nested dicts, tuples and lists."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list | tuple):
        return [s for v in obj for s in _strings(v)]
    return []


def _zh_texts() -> str:
    """okml's Chinese words: the report's, the explanations' phrase tables and the vocabulary."""
    from okml.explain import phrases
    from okml.report import TEXT

    out = _strings(TEXT["zh"]) + _strings(phrases.WORDS["zh"]) + _strings(vocab.ZH)
    out += [p.zh for p in (phrases.GENERIC, phrases.APPROXIMATE, phrases.OTHER_FACTORS)]
    for group in phrases.GROUP_TEXT.values():
        out += [group.title.zh, *(p.zh for p in group.phrases.values())]
    return "".join(out)


# ------------------------------------------------------------------------ the shipped font
def test_font_ships_small_with_its_licence_as_package_data() -> None:
    path = font_path()
    assert path.suffix == ".ttf" and path.stat().st_size <= 2_500_000
    for name in ("OFL.txt", "README.md"):
        assert (path.parent / name).is_file(), name
    assert "SIL OPEN FONT LICENSE Version 1.1" in (path.parent / "OFL.txt").read_text(encoding="utf-8")
    package_data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["okml.explain.fonts"]
    for name in (path.name, "OFL.txt", "README.md"):
        assert any(Path(name).match(pattern) for pattern in package_data), name
    with TTFont(path) as font:
        names = font["name"]
        assert names.getDebugName(1) == FONT_FAMILY
        assert "Adobe" in names.getDebugName(0) and "Open Font License" in names.getDebugName(13)
        assert "glyf" in font and "CFF " not in font  # TrueType outlines: every matplotlib backend
    # GB2312's 6,763 hanzi, its symbols, ASCII and the full-width forms
    chars = fonts.font_characters()
    assert sum("\u4e00" <= c <= "\u9fff" for c in chars) >= 6763
    assert {chr(c) for c in range(0x20, 0x7F)} <= chars
    assert set("，。：；！？（）【】《》、“”…—￥·") <= chars


def test_font_draws_every_chinese_text_of_okml() -> None:
    texts = _zh_texts()
    assert len(set(CJK.findall(texts))) > 200  # the tables were read
    assert missing_characters(texts) == [], "rebuild the font: .venv/bin/python tools/subset_font.py --fetch"
    files = [*(PROJECT_ROOT / "okml").rglob("*.py"), *(PROJECT_ROOT / "notebooks").glob("*.ipynb")]
    source = {c for f in files for c in CJK.findall(f.read_text(encoding="utf-8"))}
    missing = {c for c in source if c not in fonts.font_characters()}
    assert not missing, f"okml's sources use {sorted(missing)}: rebuild the font (tools/subset_font.py)"


def test_missing_characters_names_what_the_font_cannot_draw() -> None:
    assert missing_characters("风险 risk\n\t") == []
    assert missing_characters("✓风险✓\U00020000") == ["✓", "\U00020000"]


# ------------------------------------------------------------------------ per-page subsets
def test_font_face_css_embeds_exactly_the_characters_of_the_text() -> None:
    css = font_face_css(SAMPLE)
    assert css.startswith('@font-face{font-family:"okml-cjk";') and css.endswith("}")
    assert "font-display:block" in css
    with _embedded(css) as font:
        have = {chr(c) for c in font.getBestCmap()}
        assert have == set(SAMPLE)
        # .notdef and a few glyphs the layout rules reach, not the other 7,000
        assert len(font.getGlyphOrder()) <= len(have) + 5
        assert "Open Font License" in font["name"].getDebugName(13)  # the licence travels
    assert len(css) < 30_000  # about 0.7 KB a character, against 2.2 MB for the whole font


def test_font_face_css_is_deterministic() -> None:
    css = font_face_css(SAMPLE)
    assert font_face_css(SAMPLE) == css
    assert font_face_css(SAMPLE[::-1] + SAMPLE) == css  # order and repeats do not matter
    assert font_face_css(SAMPLE + "案") != css


def test_font_face_css_is_empty_when_the_text_needs_no_font() -> None:
    assert font_face_css("") == ""
    assert font_face_css("Flagged payments for review: 2026-02-05, score 0.93") == ""
    assert font_face_css("✓ \U00020000") == ""  # nothing the font could draw
    assert font_face_css("score 0.93 ✓ 分") != ""


def test_subset_font_as_truetype() -> None:
    with TTFont(io.BytesIO(subset_font("风险", flavor=None))) as font:
        assert font.flavor is None and set(font.getBestCmap()) == {ord("风"), ord("险")}


# ------------------------------------------------------------------------ matplotlib charts
def _draw(rc: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as caught, matplotlib.rc_context(rc):
        warnings.simplefilter("always")
        fig = Figure(figsize=(4, 2), dpi=80)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.barh(["夜间支付", "设备"], [0.8, -0.3])
        ax.set_title("分数由来：本笔支付")
        ax.set_xlabel("对模型输出的贡献（对数几率）")
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba()).copy()
    return pixels, [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_chart_font_draws_chinese_in_matplotlib() -> None:
    from matplotlib import font_manager

    def registered() -> int:
        return sum(e.fname == str(font_path()) for e in font_manager.fontManager.ttflist)

    assert fonts.chart_font() == FONT_FAMILY
    once = registered()
    assert once >= 1 and fonts.chart_font() == FONT_FAMILY and registered() == once  # added once
    rc = fonts.chart_rc()
    assert rc["font.sans-serif"] == [FONT_FAMILY, "DejaVu Sans"]
    drawn, missing = _draw(rc)
    assert missing == []
    plain, missing_plain = _draw({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]})
    assert missing_plain  # the warning is what we check for: DejaVu has no hanzi
    assert drawn.shape == plain.shape and not np.array_equal(drawn, plain)


# ------------------------------------------------------------------------ in a browser
# two texts of the same length: drawn as boxes, they would look the same
TEXT_A, TEXT_B = "风险最高支付", "被标记的案例"
_FONTS_JS = """
const done = arguments[arguments.length - 1];
document.fonts.ready.then(() => done({
  faces: Array.from(document.fonts).map(f => [f.family.replace(/"/g, ''), f.status]),
  check: document.fonts.check('16px okml-cjk', arguments[0]),
}));
"""


def _page(path: Path, css: str) -> Path:
    path.write_text(
        '<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8"><style>'
        f"{css}body{{margin:0;background:#fff}}"
        f"p{{font:32px {FONT_FAMILY},sans-serif;margin:16px;display:inline-block;color:#000}}"
        f'</style></head><body><p id="a">{TEXT_A}</p><br><p id="b">{TEXT_B}</p></body></html>',
        encoding="utf-8",
    )
    return path


def _shot(driver: Any, selector: str, path: Path) -> np.ndarray:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, selector).screenshot(str(path))
    return np.asarray(Image.open(path).convert("L"))


def _used_fonts(driver: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium drew the text of ``selector`` with (DevTools: CSS domain)."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def _no_cjk_font_installed() -> bool:
    if not shutil.which("fc-list"):
        return False
    return not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip()


@pytest.mark.slow
def test_embedded_font_draws_chinese_in_a_browser(tmp_path: Path) -> None:
    from test_report import _browser

    text = TEXT_A + TEXT_B
    with_font = _page(tmp_path / "with_font.html", font_face_css(text))
    without = _page(tmp_path / "without_font.html", "")
    with _browser(width=600, height=400) as driver:
        driver.set_script_timeout(30)
        driver.get(with_font.as_uri())
        state = driver.execute_async_script(_FONTS_JS, text)
        assert state["faces"] == [[FONT_FAMILY, "loaded"]] and state["check"] is True
        for selector, chars in (("#a", TEXT_A), ("#b", TEXT_B)):
            used = _used_fonts(driver, selector)
            assert [(f["familyName"], f["isCustomFont"], f["glyphCount"]) for f in used] == [
                (FONT_FAMILY, True, len(chars))
            ], used
        driver.save_screenshot(str(tmp_path / "with_font.png"))
        a, b = _shot(driver, "#a", tmp_path / "a.png"), _shot(driver, "#b", tmp_path / "b.png")

        driver.get(without.as_uri())
        driver.execute_async_script(_FONTS_JS, text)
        driver.save_screenshot(str(tmp_path / "without_font.png"))
        box_a, box_b = (
            _shot(driver, "#a", tmp_path / "box_a.png"),
            _shot(driver, "#b", tmp_path / "box_b.png"),
        )
        fallback = _used_fonts(driver, "#a")

    assert (a < 128).any() and (b < 128).any()  # ink on the page
    assert not np.array_equal(a, b)  # different characters look different: glyphs, not boxes
    assert a.shape != box_a.shape or not np.array_equal(a, box_a)  # the embedded font made the difference
    assert all(f["familyName"] != FONT_FAMILY for f in fallback)
    if _no_cjk_font_installed():  # the comparison page really shows boxes here: all alike
        assert box_a.shape == box_b.shape and np.array_equal(box_a, box_b)


# ------------------------------------------------------------------------ column values
def _simulator_values() -> dict[str, tuple[str, ...]]:
    from okml.data.presets import handbook
    from okml.simulate import scenarios, tables

    return {
        "merchant_category": tables.CATEGORIES,
        "channel": tables.CHANNELS,
        "region": tables.REGIONS,
        "currency": (tables.CURRENCY,),
        "fraud_type": (*scenarios.FRAUD_TYPES, *handbook.FRAUD_TYPES.values()),
    }


def test_every_simulator_value_has_a_chinese_name() -> None:
    for column, values in _simulator_values().items():
        names = [vocab.display_value(column, v, "zh") for v in values]
        unnamed = [v for v, n in zip(values, names, strict=True) if not CJK.search(n)]
        assert not unnamed, f"{column}: no Chinese name for {unnamed} (okml/explain/vocab.py)"
        assert len(set(names)) == len(names), f"{column}: two values share a Chinese name"
    # PaySim's transaction types become merchant_category (the paysim preset)
    for kind in ("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"):
        assert CJK.search(vocab.display_value("merchant_category", kind, "zh")), kind


def test_english_shows_values_as_they_are() -> None:
    for column, values in _simulator_values().items():
        assert [vocab.display_value(column, v, "en") for v in values] == list(values)
    assert vocab.display_value("region", 7, "en") == "7"


def test_unknown_and_missing_values() -> None:
    import pandas as pd

    assert vocab.display_value("merchant_category", "Pet Supplies", "zh") == "Pet Supplies"
    assert vocab.display_value("merchant_name", "food", "zh") == "food"  # not a vocabulary column
    assert vocab.display_value("region", " beijing ", "zh") == "北京"  # case and spaces
    assert vocab.display_value("channel", "POS", "zh") == "POS机"
    for missing in (None, float("nan"), pd.NA, np.nan):
        assert vocab.display_value("region", missing, "zh") == ""
        assert vocab.display_value("region", missing, "en") == ""
    with pytest.raises(ValueError, match="unknown language"):
        vocab.display_value("region", "Beijing", "fr")
