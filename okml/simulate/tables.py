"""The simulator's fixed tables: time units, channels, merchant categories, regions, the daily
profile, holidays and the pieces of merchant names."""

from __future__ import annotations

import numpy as np

DAY = 86_400
HOUR = 3_600
# All of OKPay's customers live on China Standard Time; timestamps are stored in UTC.
LOCAL_OFFSET_S = 8 * HOUR

CHANNELS = ("app", "web", "pos")
APP, WEB, POS = range(3)
CURRENCY = "CNY"

# name, share of merchants, visit frequency, median price (CNY), price spread, online share
_CATEGORY_TABLE = (
    ("grocery", 0.14, 3.0, 45.0, 0.7, 0.15),
    ("food", 0.22, 3.0, 32.0, 0.5, 0.30),
    ("transport", 0.05, 2.0, 15.0, 0.6, 0.50),
    ("fashion", 0.09, 0.6, 220.0, 0.7, 0.60),
    ("electronics", 0.05, 0.25, 900.0, 0.9, 0.70),
    ("travel", 0.04, 0.2, 650.0, 0.8, 0.85),
    ("games", 0.05, 0.8, 30.0, 0.9, 1.00),
    ("digital", 0.05, 0.6, 25.0, 0.8, 1.00),
    ("health", 0.06, 0.6, 80.0, 0.7, 0.20),
    ("entertainment", 0.06, 0.7, 90.0, 0.6, 0.40),
    ("utilities", 0.05, 0.6, 120.0, 0.5, 1.00),
    ("home", 0.07, 0.4, 260.0, 0.8, 0.50),
    ("jewelry", 0.02, 0.1, 2200.0, 0.7, 0.30),
    ("education", 0.03, 0.2, 400.0, 0.6, 0.80),
)
CATEGORIES = tuple(row[0] for row in _CATEGORY_TABLE)
CAT = {name: i for i, name in enumerate(CATEGORIES)}
CAT_SHARE = np.array([r[1] for r in _CATEGORY_TABLE]) / sum(r[1] for r in _CATEGORY_TABLE)
CAT_FREQ = np.array([r[2] for r in _CATEGORY_TABLE])
CAT_PRICE = np.array([r[3] for r in _CATEGORY_TABLE])
CAT_SIGMA = np.array([r[4] for r in _CATEGORY_TABLE])
CAT_ONLINE = np.array([r[5] for r in _CATEGORY_TABLE])
CASH_OUT = [CAT[c] for c in ("electronics", "jewelry", "travel", "digital")]
# in-game purchase tiers as sold in Chinese app stores: round amounts that are not fraud
GAME_TIERS = np.array([6.0, 12.0, 30.0, 68.0, 128.0, 198.0, 328.0, 648.0])
GAME_TIER_P = np.array([0.30, 0.20, 0.22, 0.13, 0.08, 0.03, 0.03, 0.01])

REGIONS = (
    "Guangdong",
    "Shandong",
    "Henan",
    "Jiangsu",
    "Sichuan",
    "Hebei",
    "Hunan",
    "Zhejiang",
    "Anhui",
    "Hubei",
    "Guangxi",
    "Yunnan",
    "Jiangxi",
    "Liaoning",
    "Fujian",
    "Shaanxi",
    "Guizhou",
    "Shanxi",
    "Chongqing",
    "Heilongjiang",
    "Xinjiang",
    "Gansu",
    "Shanghai",
    "Inner Mongolia",
    "Jilin",
    "Beijing",
    "Tianjin",
    "Hainan",
    "Ningxia",
    "Qinghai",
    "Tibet",
)
# roughly by population and payment volume, so a few provinces dominate
REGION_P = 1.0 / np.arange(1, len(REGIONS) + 1) ** 0.6
REGION_P /= REGION_P.sum()

# local-time daily profile: breakfast, lunch, afternoon, evening, late night
HOUR_MEAN = np.array([8.0, 12.3, 15.5, 19.5, 22.8])
HOUR_SD = np.array([1.0, 1.0, 2.0, 1.8, 1.2])
HOUR_P = np.array([0.15, 0.28, 0.15, 0.34, 0.08])

# Chinese New Year's day; the week before it is busy, the holiday week quiet
NEW_YEAR = {
    2024: "02-10",
    2025: "01-29",
    2026: "02-17",
    2027: "02-06",
    2028: "01-26",
    2029: "02-13",
    2030: "02-03",
}

SYLLABLES = (
    "Jin",
    "Long",
    "Hua",
    "Xin",
    "Da",
    "Fu",
    "Tian",
    "Mei",
    "Kang",
    "Le",
    "Hao",
    "Bao",
    "Sheng",
    "Feng",
    "Yuan",
    "Heng",
    "Tai",
    "Ming",
    "Shun",
    "Xiang",
    "Rui",
    "An",
    "Jia",
    "Hong",
    "Lian",
    "Yi",
    "Cheng",
    "Guang",
    "Wan",
    "Qian",
    "Xing",
    "Yu",
    "Zhong",
    "Lin",
)
SUFFIXES = {
    "grocery": ("Mart", "Supermarket", "Fresh", "Grocery", "Convenience"),
    "food": ("Kitchen", "Noodles", "Dumplings", "Hotpot", "Bakery", "Tea House", "Canteen"),
    "transport": ("Taxi", "Metro Card", "Bike", "Ride", "Parking"),
    "fashion": ("Fashion", "Boutique", "Shoes", "Apparel", "Style"),
    "electronics": ("Electronics", "Digital Mall", "Mobile", "Tech", "Appliances"),
    "travel": ("Travel", "Air", "Hotels", "Tours", "Rail Booking"),
    "games": ("Games", "Play", "Interactive", "Esports", "Studio"),
    "digital": ("Gift Cards", "Top-up", "Digital", "Vouchers", "Cloud"),
    "health": ("Pharmacy", "Clinic", "Health", "Medicine Hall"),
    "entertainment": ("Cinema", "KTV", "Theatre", "Fun Park", "Club"),
    "utilities": ("Power", "Water", "Telecom", "Gas", "Broadband"),
    "home": ("Home", "Furniture", "Living", "Hardware"),
    "jewelry": ("Jewelry", "Gold", "Jade", "Watches"),
    "education": ("Academy", "School", "Books", "Learning"),
}
