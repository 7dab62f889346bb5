"""Dates of holidays that follow other calendars: Christian movable feasts (Western and Orthodox Easter),
Jewish, Islamic, Hindu and Buddhist festivals, and a few fixed-date observances, each under the Chinese names
people write (simplified after `nlp.normalize` and `timex` folding).

Calendar arithmetic comes from well-kept libraries: `dateutil.easter` (computus) and the lunisolar tables of
the `holidays` package. Conventions:

* Jewish days begin at sundown, so a Jewish festival starts on the *eve* of the civil date the tables give
  (Yom Kippur 2013 → 2013-09-13), except Israel's Independence Day whose table already gives the eve.
* Islamic dates are the Umm al-Qura dates of the `holidays` package.

`holiday_date(key, year)` returns the first day in that Gregorian year, or None when unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from dateutil.easter import EASTER_ORTHODOX, EASTER_WESTERN, easter

# key -> names (normalised simplified spelling); longer names are tried first by the caller
NAMES: dict[str, tuple[str, ...]] = {
    "easter": ("复活节", "主复活日", "复活主日"),
    "easter_monday": ("复活节星期一", "复活节周一", "复活节礼拜一"),
    "good_friday": (
        "主受难日",
        "主受难节",
        "耶稣受难日",
        "耶稣受难节",
        "沈默周五",
        "沉默周五",
        "圣周五",
        "受难节",
    ),
    "holy_saturday": (
        "神圣周六",
        "圣周六",
        "神圣星期六",
        "圣周星期六",
        "黑色星期六",
        "复活节前夜",
        "耶稣受难日翌日",
        "主受难节翌日",
        "主受难日翌日",
    ),
    "maundy_thursday": ("圣周星期四", "圣周四", "神圣星期四", "濯足节", "设立圣餐日"),
    "palm_sunday": ("棕枝主日", "圣枝主日", "圣树主日", "基督苦难主日", "棕榈主日"),
    "ash_wednesday": ("大斋首日", "圣灰礼仪日", "圣灰星期三", "圣灰日", "灰日"),
    "lent": ("大斋期", "大斋节", "四旬节", "四旬期"),
    "shrove_tuesday": ("忏悔节", "忏悔火曜日", "忏悔星期二", "煎饼星期二"),
    "pentecost": ("五旬节", "圣灵降临节", "圣灵降临日"),
    "whit_monday": ("圣灵节庆日", "圣灵降临节星期一"),
    "trinity_sunday": ("圣三一主日", "天主三一主日", "天主圣三一节", "圣三主日", "圣三节"),
    "corpus_christi": ("基督圣体圣血瞻礼", "基督圣体圣血节", "基督圣体节"),
    "lazarus_saturday": ("拉撒路圣周六", "拉匝路周六", "拉撒路周六"),
    # Jewish
    "yom_kippur": ("赎罪日",),
    "rosh_hashanah": ("犹太新年", "犹太教新年"),
    "passover": ("逾越节",),
    "sukkot": ("住棚节",),
    "shemini_atzeret": ("圣会节",),
    "simchat_torah": ("西赫托拉节", "西赫妥拉节", "诵经节", "转经节", "律法节", "欢庆圣法节"),
    "shavuot": ("七七节", "沙夫幼特节", "新果实节", "周日节", "五旬节(犹太)"),
    "hanukkah": ("光明节", "修殿节", "献殿节", "烛光节", "哈努卡节", "马加比节"),
    "tisha_bav": ("圣殿被毁日", "禁食日"),
    "tu_bishvat": ("犹太植树节", "图比舍巴特节", "树木新年"),
    "lag_baomer": ("犹太教篝火节", "篝火节", "拉格巴欧麦尔节"),
    "israel_independence": ("以色列独立日", "以色列国庆节", "以色列国庆日"),
    "purim": ("普珥节", "普林节"),
    # Islamic
    "eid_al_fitr": ("开斋节", "肉孜节", "尔代节"),
    "eid_al_adha": ("古尔邦节", "宰牲节", "忠孝节"),
    "hijri_new_year": ("伊斯兰历新年", "伊斯兰教新年", "伊斯兰新年", "回历新年"),
    "isra_miraj": ("夜行登霄节", "登霄节"),
    "mawlid": ("圣纪节",),
    "ashura": ("阿舒拉节",),
    "ramadan": ("穆斯林斋月", "斋月", "赖买丹月"),
    "laylat_al_qadr": ("法令之夜", "权力之夜", "盖德尔夜"),
    # Hindu / Buddhist
    "diwali": ("万灯节", "排灯节", "印度灯节", "屠妖节", "光明节(印度)"),
    "holi": ("侯丽节", "荷丽节", "洒红节", "欢悦节", "五彩节", "胡里节", "好利节", "霍利节"),
    "chhath": ("克哈特普迦节",),
    "pongal": ("印度丰收节", "庞格尔节", "淡米尔丰收节"),
    "raksha_bandhan": ("印度兄妹节", "拉克沙班丹节"),
    "onam": ("欧南节",),
    "navaratri": ("九夜节", "难近母节"),
    "dussehra": ("十胜节", "凯旋节", "十胜日"),
    "vesak": ("卫塞节", "威瑟节", "比萨宝蕉节", "卫塞日"),
    # fixed dates
    "macau_handover": ("澳门回归纪念日", "澳门回归日"),
    "hk_handover": ("香港回归纪念日", "香港回归日"),
    "valentine": ("圣瓦伦丁节",),
    "boss_day": ("老板节",),
    "earth_day": ("世界地球日", "地球日"),
}

_FIXED: dict[str, tuple[int, int]] = {
    "macau_handover": (12, 20),
    "hk_handover": (7, 1),
    "valentine": (2, 14),
    "boss_day": (10, 16),
    "earth_day": (4, 22),
}

# Easter-relative feasts: key -> (calendar, offset in days)
_EASTER: dict[str, tuple[int, int]] = {
    "easter": (EASTER_WESTERN, 0),
    "easter_monday": (EASTER_WESTERN, 1),
    "good_friday": (EASTER_WESTERN, -2),
    "holy_saturday": (EASTER_WESTERN, -1),
    "maundy_thursday": (EASTER_WESTERN, -3),
    "palm_sunday": (EASTER_WESTERN, -7),
    "ash_wednesday": (EASTER_WESTERN, -46),
    "lent": (EASTER_WESTERN, -46),
    "shrove_tuesday": (EASTER_WESTERN, -47),
    "pentecost": (EASTER_WESTERN, 49),
    "whit_monday": (EASTER_WESTERN, 50),
    "trinity_sunday": (EASTER_WESTERN, 56),
    "corpus_christi": (EASTER_WESTERN, 60),
    "lazarus_saturday": (EASTER_ORTHODOX, -8),
}
ORTHODOX_PREFIX = "东正教"

# Jewish feasts: key -> (table method, days added to the table's date; -1 = the eve)
_JEWISH: dict[str, tuple[str, int]] = {
    "yom_kippur": ("yom_kippur_date", -1),
    "rosh_hashanah": ("rosh_hashanah_date", -1),
    "passover": ("passover_date", -1),
    "sukkot": ("sukkot_date", -1),
    "shemini_atzeret": ("sukkot_date", 6),
    "simchat_torah": ("sukkot_date", 7),
    "shavuot": ("shavuot_date", -1),
    "tisha_bav": ("tisha_bav_date", -1),
    "lag_baomer": ("lag_baomer_date", -1),
    "israel_independence": ("israel_independence_date", 0),
    "purim": ("purim_date", -1),
}
_ISLAMIC: dict[str, str] = {
    "eid_al_fitr": "eid_al_fitr_dates",
    "eid_al_adha": "eid_al_adha_dates",
    "hijri_new_year": "hijri_new_year_dates",
    "isra_miraj": "isra_and_miraj_dates",
    "mawlid": "mawlid_dates",
    "ashura": "ashura_dates",
    "ramadan": "ramadan_beginning_dates",
    "laylat_al_qadr": "laylat_al_qadr_dates",
}
_HINDU: dict[str, str] = {
    "diwali": "diwali_india_date",
    "holi": "holi_date",
    "chhath": "chhath_puja_date",
    "pongal": "pongal_date",
    "raksha_bandhan": "raksha_bandhan_date",
    "onam": "onam_date",
    "navaratri": "sharad_navratri_date",
    "dussehra": "dussehra_date",
}

# Holi is dated from its start, the Holika Dahan bonfire on the full-moon evening before the day of colours
_HINDU_SHIFT: dict[str, int] = {"holi": -1}
# "第N天" of a festival counts from its first day, relative to the named day: Pongal's four days begin with
# Bhogi, the day before Thai Pongal ("印度丰收节第三天" = Mattu Pongal)
FIRST_DAY: dict[str, int] = {"pongal": -1}

# how many days a festival lasts (for "X后" = after the festival)
LENGTH: dict[str, int] = {
    "passover": 8,
    "sukkot": 8,
    "hanukkah": 8,
    "ramadan": 30,
    "navaratri": 9,
    "pongal": 4,
}


def name_to_key() -> dict[str, str]:
    out: dict[str, str] = {}
    for key, names in NAMES.items():
        for n in names:
            if "(" not in n:
                out.setdefault(n, key)
    return out


@lru_cache(maxsize=1)
def _calendars() -> dict[str, Any] | None:
    try:
        from holidays.calendars import _BuddhistLunisolar, _HebrewLunisolar, _HinduLunisolar, _IslamicLunar
    except ImportError:  # pragma: no cover - the tables moved in a future `holidays`
        return None
    return {
        "hebrew": _HebrewLunisolar(),
        "islamic": _IslamicLunar(),
        "hindu": _HinduLunisolar(),
        "buddhist": _BuddhistLunisolar(),
    }


def _first_in_year(items: Any, year: int) -> date | None:
    days = sorted(d for d, *_ in items if d.year == year) if items else []
    return days[0] if days else None


def _table_date(kind: str, method: str, year: int) -> date | None:
    cals = _calendars()
    if cals is None:
        return None
    fn: Callable[[int], Any] | None = getattr(cals[kind], method, None)
    if fn is None:
        return None
    try:
        res = fn(year)
    except (KeyError, ValueError, TypeError):
        return None
    if res is None:
        return None
    if isinstance(res, date):
        return res
    if isinstance(res, tuple):
        d = res[0]
        return d if isinstance(d, date) else None
    if isinstance(res, set):
        return _first_in_year([(d,) for d in res], year)
    return _first_in_year(list(res), year)


@lru_cache(maxsize=4096)
def holiday_date(key: str, year: int, orthodox: bool = False) -> date | None:
    """First day of holiday ``key`` in Gregorian ``year`` (None when unknown)."""
    if not 1900 <= year <= 2100:
        return None
    if key in _FIXED:
        m, d = _FIXED[key]
        return date(year, m, d)
    if key in _EASTER:
        cal, off = _EASTER[key]
        if orthodox:
            cal = EASTER_ORTHODOX
        return easter(year, cal) + timedelta(days=off)
    if key in _JEWISH:
        method, off = _JEWISH[key]
        d0 = _table_date("hebrew", method, year)
        return d0 + timedelta(days=off) if d0 else None
    if key == "hanukkah":
        d0 = _table_date("hebrew", "hanukkah_date", year)
        return d0 - timedelta(days=1) if d0 else None
    if key == "tu_bishvat":
        # 15 Shevat = Purim (14 Adar, Adar II in leap years) - 29 days (- 59 in a leap year)
        purim = _table_date("hebrew", "purim_date", year)
        rh_prev = _table_date("hebrew", "rosh_hashanah_date", year - 1)
        rh = _table_date("hebrew", "rosh_hashanah_date", year)
        if purim is None or rh_prev is None or rh is None:
            return None
        leap = (rh - rh_prev).days > 380
        return purim - timedelta(days=59 if leap else 29) - timedelta(days=1)
    if key in _ISLAMIC:
        return _table_date("islamic", _ISLAMIC[key], year)
    if key in _HINDU:
        d0 = _table_date("hindu", _HINDU[key], year)
        return d0 + timedelta(days=_HINDU_SHIFT.get(key, 0)) if d0 else None
    if key == "vesak":
        return _table_date("buddhist", "vesak_date", year)
    return None
