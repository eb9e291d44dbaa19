"""Names of the values of descriptive columns (merchant category, channel, region, currency,
fraud type) as reviewers of each language read them.

The simulator's values (``okml.simulate.tables``, ``okml.simulate.scenarios``) and those of
the data presets (PaySim's ``type``, the Handbook's scenarios) are English words or codes; in
Chinese each has a name here (a test reads the simulator's lists and checks that none is
missing). A value okml does not know, such as a category of the user's own data, is shown as
it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from okml.explain.phrases import check_language

# fmt: off
#: Chinese name of each known value, per column; keys are matched without regard to case.
ZH: dict[str, dict[str, str]] = {
    "merchant_category": {
        # okml's simulator (okml.simulate.tables.CATEGORIES)
        "grocery": "食品杂货",
        "food": "餐饮",
        "transport": "交通出行",
        "fashion": "服饰鞋包",
        "electronics": "电子产品",
        "travel": "旅游出行",
        "games": "游戏",
        "digital": "虚拟商品",
        "health": "医疗健康",
        "entertainment": "休闲娱乐",
        "utilities": "生活缴费",
        "home": "家居",
        "jewelry": "珠宝首饰",
        "education": "教育培训",
        # PaySim's transaction types (the paysim preset maps ``type`` to merchant_category)
        "cash_in": "现金存入",
        "cash_out": "提现",
        "debit": "借记",
        "payment": "付款",
        "transfer": "转账",
    },
    "channel": {
        "app": "手机应用",
        "web": "网页",
        "pos": "POS机",
    },
    "region": {
        "guangdong": "广东", "shandong": "山东", "henan": "河南", "jiangsu": "江苏",
        "sichuan": "四川", "hebei": "河北", "hunan": "湖南", "zhejiang": "浙江",
        "anhui": "安徽", "hubei": "湖北", "guangxi": "广西", "yunnan": "云南",
        "jiangxi": "江西", "liaoning": "辽宁", "fujian": "福建", "shaanxi": "陕西",
        "guizhou": "贵州", "shanxi": "山西", "chongqing": "重庆", "heilongjiang": "黑龙江",
        "xinjiang": "新疆", "gansu": "甘肃", "shanghai": "上海", "inner mongolia": "内蒙古",
        "jilin": "吉林", "beijing": "北京", "tianjin": "天津", "hainan": "海南",
        "ningxia": "宁夏", "qinghai": "青海", "tibet": "西藏",
        # not in the simulator, but in users' data
        "hong kong": "香港", "macau": "澳门", "macao": "澳门", "taiwan": "台湾",
    },
    "currency": {
        "cny": "人民币", "rmb": "人民币", "hkd": "港元", "mop": "澳门元", "twd": "新台币",
        "usd": "美元", "eur": "欧元", "gbp": "英镑", "jpy": "日元", "krw": "韩元",
    },
    "fraud_type": {
        # okml's scenarios (okml.simulate.scenarios.FRAUD_TYPES)
        "account_takeover": "账户被盗用",
        "fake_orders": "刷单团伙",
        "compromised_merchant": "商户被入侵",
        "forged_identity": "伪造身份",
        "new_pattern": "新型欺诈",
        # the Handbook's scenarios (okml.data.presets.handbook.FRAUD_TYPES)
        "handbook_scenario_1": "手册场景1：大额支付",
        "handbook_scenario_2": "手册场景2：终端被盗用",
        "handbook_scenario_3": "手册场景3：客户账户被盗用",
    },
}
# fmt: on

#: The columns whose values have names here.
COLUMNS = tuple(ZH)


def _missing(value: Any) -> bool:
    missing = pd.isna(value)  # an array for a list-like cell: not a missing value
    return isinstance(missing, bool | np.bool_) and bool(missing)


def display_value(column: str, value: Any, language: str) -> str:
    """``value`` of ``column`` as a reviewer reading ``language`` should see it.

    In English the value is shown as it is (as text); in Chinese a value okml knows (one of
    the simulator's or a preset's) gets its Chinese name and any other value is shown as it
    is. A missing value (None, NaN, pandas' NA) is ``""``.

    Parameters
    ----------
    column : str
        The canonical column: ``merchant_category``, ``channel``, ``region``, ``currency`` or
        ``fraud_type`` (any other column's values are shown as they are).
    value : Any
        The cell.
    language : {"en", "zh"}
        The reader's language.

    >>> display_value("merchant_category", "grocery", "zh")
    '食品杂货'
    >>> display_value("region", "Inner Mongolia", "zh"), display_value("region", "Inner Mongolia", "en")
    ('内蒙古', 'Inner Mongolia')
    >>> display_value("channel", "kiosk", "zh")
    'kiosk'
    """
    check_language(language)
    if _missing(value):
        return ""
    text = str(value)
    if language == "en":
        return text
    return ZH.get(column, {}).get(text.strip().casefold(), text)
