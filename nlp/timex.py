"""Rule-based time-expression extraction and resolution for Chinese (simplified, traditional, Cantonese)
and English chat text.

The text is first normalised (same length, see `nlp.normalize`); one master regular expression finds
*atoms* (a year, a month with optional day, a relative day, a weekday, a day part, a clock time, an
offset, ...). Adjacent atoms that fill different slots are chained into one expression ("下周三" +
"下午" + "3点"); two chains joined by a connector ("到", "~", "to") make a range; a following "前/之前"
(or a leading "by") makes a deadline. Each expression is then resolved against ``now``.

Everything is computed in the caller's time zone; every output datetime is tz-aware.

Traditional characters left by `nlp.normalize` are folded first (`trad_chars.txt`, same length). Holidays of
other calendars live in `nlp.world_holidays`, the 24 solar terms in `nlp.solar_terms`; lunar dates use
`lunardate`. The master expression is guarded by first-character look-aheads computed from the atom patterns
(`_first_class`), so most positions of a message are rejected in one step.
"""

from __future__ import annotations

import calendar
import importlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from nlp import solar_terms, world_holidays
from nlp.normalize import cn2num
from nlp.rxscan import Scanner
from nlp.tense import clause_lean

# ---------------------------------------------------------------------------------------------------------
# lexical pieces

_CD = "零〇一二三四五六七八九"  # digit-by-digit Chinese numerals (years)
_CNN = "零〇一二两三四五六七八九十百千万廿俩仨"
_NUM = rf"(?:\d+|[{_CNN}]+)"
_DAY_NUM = (
    r"(?:3[01]|[12]\d|0?[1-9]|[二三]?十[一二三四五六七八九]?|"
    r"廿[一二三四五六七八九]?|卅一?|[一二三四五六七八九])"
)
_MONTH_NUM = r"(?:(?<!\d)(?:1[0-2]|0?[1-9])|十[一二]?|[一二三四五六七八九])"
_WD = r"[一二三四五六日天1-7]"
_REL_WEEK = (
    r"(?:上上上|下下下|上上个|上上|上一个|上个|上|下下个|下下|下一个|下个|下|本|这一个|这个|这一|这|今)"
)
_REL_MONTH = (
    r"(?:上上个月|上上月|上一个月|上个月|上月|下下个月|下下月|下一个月|下个月|下月|本月|这个月|这一个月|这月|"
    r"当月|同月|次月)"
)
_REL_YEAR = (
    r"(?:大前年|前年|去年|上一年|上年|今年|本年|当年|同年|这一年|明年|下一年|下年|次年|来年|大后年|后年)"
)
_REL_DAY = (
    r"(?:大大后天|大后天|大后日|后天|明天|今天|昨天|大前天|前天|明日|今日|昨日|前日|后日|本日|当天|当日|次日|翌日|"
    r"隔天|第二天|明早|今早|昨早|明晚|今晚|昨晚|今夜|明夜|昨夜|当晚|今晨|明晨|今儿|明儿|昨儿)"
)
_DP = (
    r"(?:凌晨|清晨|早晨|早上|上午|中午|午后|下午|傍晚|黄昏|晚上|晚间|夜里|夜间|夜晚|半夜|午夜|深夜|白天|黎明|"
    r"上昼|下昼|朝早|挨晚|后半夜|前半夜|"
    # "最晚下个月5号" (at the latest), "太早": not day parts
    r"(?<![最太很较更尽提])早(?![点些一了就饭餐期日晚上])|(?<![最太很较更])晚(?![点些一了到饭餐期上间会])|夜(?![里间晚])"
    r")"
)
_HOLIDAYS_CN = (
    r"(?:(?:农历|阴历)?(?=元宵|春节|除夕|端午|中秋|七夕|重阳|腊八|大年|年三十))?(?:正月正时|正月朔日|腊八节?|元旦节?|阳历新年|春节|农历新年|新春|过年|大年初一|除夕|大年三十|年三十|元宵节?|清明节?|劳动节|"
    r"五一(?:国际)?劳动节|国际劳动节|五一(?:假期|长假|黄金周|节)?|端午节?|中秋节?|国庆节?|"
    r"十一(?=假期|长假|黄金周|前|后|之前|之后|以后|以前|期间)(?:假期|长假|黄金周)?|七夕节?|重阳节?|妇女节|三八节|"
    r"儿童节|国际儿童节|六一儿童节|建军节|八一建军节|教师节|情人节|圣诞节?|平安夜|万圣节|愚人节|植树节|青年节|"
    r"双十一|双11|双十二|双12|国际消费者权益日|三一五|315(?=前|后|晚会|期间)|母亲节|父亲节|感恩节|"
    # "年前发货", "年后再说": before / after the Spring Festival
    r"(?<![\d〇零一二三四五六七八九十几多两半每去今明前后本当同来新跨全])年(?=[前后](?![天日年半期两一二三四五六七八九十\d个]))"
    r")"
)
_EN_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_EN_NUMW = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple of|a few)"
_EN_UNIT = r"(?:business days?|working days?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
_UNIT = (
    r"(?:个?工作日|个?交易日|天|日|周|星期|礼拜|个月|(?<=[半两俩仨几多])月|个?季度|年|个?小时|个?钟头|个钟|"
    r"分钟|秒钟|秒|刻钟)"
)

_ATOMS: list[tuple[str, str]] = [
    # English first (word-bounded, case-insensitive)
    (
        "en_in",
        rf"\b(?P<en_in_p>in|within|after)\s+(?P<en_in_n>{_EN_NUMW})\s+(?P<en_in_u>{_EN_UNIT})\b"
        rf"(?:\s+(?:later|from now))?",
    ),
    (
        "en_ago",
        rf"\b(?P<en_ago_n>{_EN_NUMW})\s+(?P<en_ago_u>{_EN_UNIT})\s+(?P<en_ago_s>ago|later|from now)\b",
    ),
    (
        "en_dur",
        rf"\bfor\s+(?:the\s+next\s+)?(?P<en_du_n>{_EN_NUMW})\s+(?P<en_du_u>{_EN_UNIT})\b|"
        r"\b(?P<en_du_n2>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)-"
        r"(?P<en_du_u2>day|week|month|hour|minute|year)\b",
    ),
    (
        "en_end",
        r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?(?P<en_ep>next|this|last|coming)?\s*"
        r"(?P<en_eu>day|week|month|quarter|year)\b|\b(?P<en_eod>eod|cob|eob|eow|eom|eoq|eoy)\b",
    ),
    (
        "en_rd",
        r"\b(?P<en_rd>the day after tomorrow|day after tomorrow|the day before yesterday|today|tonight|"
        r"tomorrow|tmrw|tmr|yesterday)\b",
    ),
    (
        "en_wk",
        r"\b(?:(?P<en_wp>next|this|last|coming|following)\s+)?(?P<en_wd>monday|tuesday|wednesday|thursday|friday|"
        r"saturday|sunday|mon|tues?|thu(?:rs?)?|fri)\b",
    ),
    ("en_week", r"\b(?P<en_wo>next|this|last|the following)\s+(?P<en_wu>week|month|year|quarter)\b"),
    (
        "en_md",
        rf"\b(?P<en_mn>{_EN_MONTHS})\.?\s+(?P<en_md>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
        r"(?:,?\s*(?P<en_my>(?:19|20)\d{2})\b)?",
    ),
    (
        "en_dm",
        rf"\b(?P<en_dd>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<en_dmn>{_EN_MONTHS})\b"
        r"(?:,?\s*(?P<en_dmy>(?:19|20)\d{2})\b)?",
    ),
    (
        "en_clock",
        r"(?<![\d:.])(?:\bat\s+|@\s*)?(?P<en_h>1[0-2]|0?[1-9])(?::(?P<en_m>[0-5]\d))?"
        r"(?:\s*(?P<en_ap>a\.m\.|p\.m\.|am|pm)|(?P<en_ap1>a|p))\b",
    ),
    ("en_noon", r"\b(?:at\s+)?(?P<en_noon>noon|midday|midnight)\b"),
    # "on the 5th", "the 21st": a day of the month
    (
        "en_od",
        r"\b(?:on\s+)?the\s+(?P<en_od>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)\b"
        r"(?!\s+(?:of|floor|time|place))",
    ),
    (
        "en_at",
        r"\bat\s+(?P<en_ah>[01]?\d|2[0-3])(?::(?P<en_am>[0-5]\d))?\b(?!\s*(?:%|percent|units?|pcs|x\b|of\b))",
    ),
    ("en_dp", r"\b(?:in\s+the\s+|this\s+)?(?P<en_dp>morning|afternoon|evening|night)\b"),
    # ---- Chinese / numeric
    (
        "offset",
        rf"(?<!第)(?P<of_pre>再过|过了|过)?(?:(?P<of_n>\d+(?:\.\d+)?|[{_CNN}几]+)个?(?P<of_half>半)?|(?P<of_h2>半))个?多?"
        rf"(?P<of_u>{_UNIT})(?P<of_half3>半)?(?P<of_more>多)?(?:左右)?"
        r"(?P<of_suf>之后|以后|过后|后(?!(?:[一二两三四五六七八九十半几]|\d)+个?[月季])|之前|以前|"
        r"前(?![天日年]|(?:[一二两三四五六七八九十半几]|\d)+个?(?:月|季|周|天|日|年|星期|礼拜|小时|钟头|分钟))|"
        r"之内|以内|内|以来|来|(?(of_pre)|(?!)))",
    ),
    (
        "poff",
        rf"(?P<po_p>未来|接下来|今后|往后|最近|近|过去的?|最后|前|后|上|下)(?P<po_n>\d+|[{_CNN}几]+)个?(?P<po_half>半)?"
        r"(?P<po_u>个?工作日|天|日|周|星期|礼拜|个月|(?<=[两俩仨几三四五六七八九十\d])月|个?季度|年|个?小时|个?钟头|分钟|秒钟|秒)"
        r"(?:之内|以内|内|里)?",
    ),
    (
        "iso",
        r"(?<![\dA-Za-z.\-/])(?P<iso_y>(?:19|20)\d{2})(?:\s?(?P<iso_s>[-/.])\s?|(?P<iso_sp> ))"
        r"(?P<iso_m>1[0-2]|0?[1-9])(?(iso_sp) |\s?[-/.]\s?)"
        r"(?P<iso_d>3[01]|[12]\d|0?[1-9])(?:日|号)?(?:(?!\d)|(?=\d{1,2}:\d))"
        r"(?:[\sT\-]{0,2}(?P<iso_h>[01]?\d|2[0-4]):(?P<iso_mi>[0-5]\d)(?::(?P<iso_s2>[0-5]\d))?(?!\d))?",
    ),
    (
        "c8",
        r"(?<![\dA-Za-z])(?P<c8_y>(?:19|20)\d{2})(?P<c8_m>0[1-9]|1[0-2])(?P<c8_d>0[1-9]|[12]\d|3[01])(?![\dA-Za-z])",
    ),
    (
        "mdy",
        r"(?<![\d/.])(?P<mdy_m>1[0-2]|0?[1-9])/(?P<mdy_d>3[01]|[12]\d|0?[1-9])/(?P<mdy_y>\d{4}|\d{2})(?![\d/])",
    ),
    (
        "md",
        r"(?<![\d/.\-·A-Za-z])(?P<md_m>1[0-2]|0?[1-9])(?P<md_s>[/.·])(?P<md_d>3[01]|[12]\d|0?[1-9])"
        r"(?P<md_suf>日|号)?(?![\d/.%:]|点|时)",
    ),
    ("mdd", r"(?<![\d\-A-Za-z])(?P<mdd_m>0[1-9]|1[0-2])-(?P<mdd_d>0[1-9]|[12]\d|3[01])(?![\d\-:]|点|时)"),
    (
        "year",
        rf"(?P<yr_n>(?<!\d)\d{{4}}|(?<!\d)\d{{2}}|[{_CD}]{{2,4}})年(?P<yr_p>底|末|初|伊始|中|终(?!奖))?"
        r"(?!代|级|龄|薪|假|检|会|费|限|均|报|货)",
    ),
    ("yrel", rf"(?P<yr_r>{_REL_YEAR})(?P<yr_rp>年?底|年?末|年?初|年中|年终|伊始)?"),
    (
        "ypart",
        r"(?P<yp>年底|年末|年初|年中|年终(?!奖)|上半年|下半年|前半年|后半年|上半季|"
        r"(?:第(?P<yp_q>[一二三四1-4])季度?|(?P<yp_q2>[一二三四1-4])季度|首季度|(?P<yp_qq>[Qq][1-4])(?:季度)?)"
        r"(?P<yp_qs>初|末|底)?|(?P<yp_qr>本|这个|这|上个|上一个|上|下个|下一个|下|下下个|上上个)季度(?P<yp_qrs>初|末|底)?|"
        r"季度末|季末|季度初|季初)",
    ),
    (
        "month",
        rf"(?P<mo_n>{_MONTH_NUM})月份?(?:的)?(?:(?P<mo_d>{_DAY_NUM})(?P<mo_ds>日|号)?(?(mo_ds)|"
        r"(?=$|[\s,，。.!！?？;；、~\-—–到至和及或的(]|上午|下午|晚上|早上|中午|凌晨|傍晚|前|之前|以前|后|之后|以后|左右|"
        # "10月22出生", "3月5开会": a verb may follow a bare day, a unit may not ("3月5万", "6月20吨")
        r"(?<=\d)(?![万千百十亿吨个件台元块米斤箱次人份批套只条张辆家座层楼天周年月时点分秒号日折倍])[\u4e00-\u9fff]))|"
        r"(?P<mo_p>初|底|末|上旬|中旬|下旬))?",
    ),
    (
        "mrel",
        rf"(?P<mo_r>{_REL_MONTH})(?:的)?(?:(?P<mo_rd>{_DAY_NUM})(?:日|号)|(?P<mo_rp>初|底|末|上旬|中旬|下旬|中))?",
    ),
    ("mpart", r"(?P<mp>月底|月末|月初|月中|上旬|中旬|下旬)"),
    (
        "hol",
        rf"(?P<hol>{_HOLIDAYS_CN})(?:(?P<hol_prev>前一天|前夕|前夜)|(?P<hol_next>后一天|次日|翌日)|当天|当日)?",
    ),
    (
        "day",
        r"(?<![\d.])(?P<dy_n>3[01]|[12]\d|0?[1-9]|[二三]?十[一二三四五六七八九]?|廿[一二三四五六七八九]?|卅一?|"
        r"[一二三四五六七八九](?=号))(?:日|号)(?!子|期|元|用|本|常|报|志|程|语|文|币|楼|线|门|位|机|码|工|之|店|仓|库|柜|窗|台|车|床|桌|包|箱|区|厅|馆|院|场|间|口|站)",
    ),
    ("reld", rf"(?P<rd>{_REL_DAY})"),
    (
        "wkd",
        rf"(?P<wk_p>{_REL_WEEK})(?:周|星期|礼拜)(?:周|星期)?(?P<wk_d>{_WD})(?![一二三四五六七八九十\d])|"
        rf"(?<![一二两三四五六七八九十\d几])(?<![一二两三四五六七八九十\d几]个)(?:周|星期|礼拜)(?P<wk_d2>{_WD})"
        r"(?![一二三四五六七八九十\d次回趟遍个]|天(?!气))",
    ),
    ("week", rf"(?P<wo_p>{_REL_WEEK})(?:周|星期|礼拜)(?P<wo_s>末|之内|内|初)?(?!期|年|岁|刊|报|会|边|转|长)"),
    ("weekend", r"(?<![每上下本这今])(?P<we>周末|週末)"),
    ("work", r"(?P<wkoff>下班|收工|上班)(?=前|之前|以前|后|之后|以后)"),
    ("dp", rf"(?P<dp>{_DP})"),
    (
        "hm",
        r"(?<![\d:.])(?P<hm_h>[01]?\d|2[0-4])\s?:(?P<hm_m>[0-5]\d)(?::(?P<hm_s>[0-5]\d))?(?!\d)"
        r"(?:\s?(?P<hm_ap>[ap]\.?m\.?\b|[ap](?![a-z])))?(?:时)?",
    ),
    (
        "clock",
        r"(?<![第\d.])(?P<ck_h>\d{1,2}|[零〇一二两三四五六七八九十]{1,3})(?:点|时)(?:钟)?"
        r"(?:(?P<ck_half>半)|(?P<ck_z>整)|(?P<ck_q>[一1三3])刻(?:钟)?|"
        # Cantonese minutes in units of five ("字"): 三点三个字 / 三点踏三 = 3:15, 三点搭半 = 3:30
        r"[踏搭]?(?P<ck_5>十一|[一二三四五六七八九十]|1[01]|[1-9])个字|"
        r"[踏搭](?:(?P<ck_half2>半)|(?P<ck_5b>十一|[一二三四五六七八九十]|1[01]|[1-9]))|"
        r"过?(?P<ck_m>[0-5]?\d|[零〇][一二三四五六七八九]|[一二三四五]?十[一二三四五六七八九]?|[一二三四五六七八九])"
        r"(?P<ck_f>分钟?)?(?:(?P<ck_s>[0-5]?\d|[一二三四五]?十[一二三四五六七八九]?|[一二三四五六七八九])秒)?)?"
        r"(?:多钟|多(?![少久大小])|几(?![个天分钟]))?(?:\s?(?P<ck_ap>[ap]\.?m\.?\b))?",
    ),
    ("now", r"(?P<now>现在|此时此刻|此时|此刻|当前|\bright now\b)"),
    (
        "dur",
        rf"(?<![第\d{_CNN}])(?:(?P<du_n>\d+(?:\.\d+)?|[{_CNN}]+)个?(?P<du_half>半)?|(?P<du_h2>半))个?多?"
        r"(?P<du_u>个?工作日|个?交易日|天|日(?![期子常用本元报志程语文币])|周(?![年岁])|星期|礼拜|个月|(?<=[半两俩仨多])月|个?季度|年(?!代|级|龄|纪)|个?小时|个?钟头|"
        r"分钟|秒钟|刻钟)"
        r"(?P<du_half3>半)?(?P<du_more>多)?",
    ),
]

# lunar (农历) dates: written with a marker (农历/阴历), a lunar month name (正月, 腊月, 冬月) or a lunar day
# (初八, 廿二): "农历8月十五", "腊月初十", "五月廿二", "大年初十"
_LU_M = r"(?:1[0-2]|0?[1-9]|十[一二]|[一二三四五六七八九十])"
_LU_D_MARK = r"(?:初(?:十|[一二三四五六七八九]|0?[1-9]|10)|廿[一二三四五六七八九]?|卅)"
_LU_D_ANY = (
    rf"(?:{_LU_D_MARK}|[二三]十|十[一二三四五六七八九]?|[一二三四五六七八九](?![十\d])|"
    r"(?:3[01]|[12]\d|0?[1-9])(?:日|号|(?!\d)))"
)
_ATOMS.insert(
    [n for n, _ in _ATOMS].index("month"),
    (
        "lunar",
        rf"(?:农历|阴历|旧历)的?(?:(?P<lu_y>(?:19|20)\d{{2}}|[{_CD}]{{4}})年)?(?P<lu_leap>闰)?"
        rf"(?P<lu_m>{_LU_M}|正|腊|冬)月(?P<lu_d>{_LU_D_ANY})?|"
        rf"(?P<lu_leap2>闰)(?P<lu_m5>{_LU_M}|正|腊|冬)月(?P<lu_d7>{_LU_D_ANY})?|"
        rf"(?P<lu_m2>正|腊|冬)月(?!正时|朔日)(?P<lu_d2>{_LU_D_ANY})?|"
        rf"(?<![\d年])(?P<lu_m3>{_LU_M})月(?P<lu_d3>{_LU_D_MARK})|(?<=年)(?P<lu_m4>{_LU_M})月(?P<lu_d4>{_LU_D_MARK})|"
        rf"大年(?P<lu_d5>{_LU_D_MARK})|"
        # "八月十五" without 日/号 is the Mid-Autumn full moon
        r"(?<!\d)(?P<lu_m6>八|8)月(?P<lu_d6>十五)(?![日号\d])",
    ),
)


def _trie_regex(words: Any) -> str:
    """A regular expression matching any of ``words``, longest first, factored as a trie (fast to scan)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        optional = "" in node
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if optional else body

    return build(trie)


# solar terms: "冬至", "2017年大寒"; weather words ("大雪") only after a numbered year or before 节气/那天
_TERMS_PLAIN = "|".join(t for t in solar_terms.TERMS if t not in solar_terms.AMBIGUOUS and t != "清明")
_TERMS_AMB = "|".join(solar_terms.AMBIGUOUS)
_ATOMS.insert(
    [n for n, _ in _ATOMS].index("hol") + 1,
    (
        "term",
        rf"(?P<st>{_TERMS_PLAIN})|(?<=[\d〇零一二三四五六七八九]年)(?P<st2>{_TERMS_AMB})|(?P<st3>{_TERMS_AMB})(?=节气|那天|当天)",
    ),
)

# seasons, from the solar terms that open them (立春, 立夏, 立秋, 立冬): "冬季", "2021年春", "去年暑假"
_ATOMS.insert(
    [n for n, _ in _ATOMS].index("term") + 1,
    (
        "season",
        r"(?P<se>[春夏秋冬])(?:季|天)(?![气装款衣])|(?<=年)(?P<se2>[春夏秋冬])(?![节季天装款衣])|(?P<se_sh>暑假|暑期)",
    ),
)

# centuries and decades: "18世纪", "上世纪80年代", "二十世纪九十年代末期", "80年代"
_CENT_PART = r"(?:初期|初|前期|中期|中叶|末期|末|后期)"
_ATOMS.insert(
    [n for n, _ in _ATOMS].index("year"),
    (
        "decade",
        rf"(?:(?P<dc_up>上)世纪|(?P<dc_c>\d{{1,2}}|[一二三四五六七八九十]{{1,3}})世纪)?"
        rf"(?P<dc_d>[1-9]0|[一二三四五六七八九]十)年代(?P<dc_p>{_CENT_PART})?|"
        rf"(?:(?P<ce_up>上)|(?P<ce_c>\d{{1,2}}|[一二三四五六七八九十]{{1,3}}))世纪(?P<ce_p>{_CENT_PART})?",
    ),
)

# holidays of other calendars ("复活节", "东正教圣周五", "开斋节", "印度丰收节第三天")
_WORLD_NAMES = world_holidays.name_to_key()
_ATOMS.insert(
    [n for n, _ in _ATOMS].index("offset"),
    (
        "whol",
        rf"(?P<wh_o>{world_holidays.ORTHODOX_PREFIX})?"
        rf"(?P<wh>{_trie_regex(_WORLD_NAMES)})"
        r"(?:(?P<wh_next>翌日|次日|后一天)|(?P<wh_eve>前夜|前一天)|第(?P<wh_n>[一二三四五六七八九十]|\d{1,2})天)?",
    ),
)

# nth week / weekday / day of a month or year: "3月第三周", "6月第3个星期日", "2025年第一天"
_ATOMS.insert(
    [n for n, _ in _ATOMS].index("offset"),
    (
        "nth",
        rf"(?:的)?(?:第(?P<nth_n>\d{{1,2}}|[{_CNN}]{{1,4}})|(?P<nth_last>最后一))个?(?:(?P<nth_w>周|星期|礼拜)(?P<nth_wd>{_WD})?|(?P<nth_d>天)|(?P<nth_m>个月))",
    ),
)
_ATOMS.insert(
    [n for n, _ in _ATOMS].index("clock"),
    (
        "clock2",
        r"(?<![\d第十])(?P<c2_a>[一二三四五六七八九])(?P<c2_b>[二三四五六七八九十])(?:点|时)(?:钟)?(?!半|[一二三四五六七八九十\d])",
    ),
)
# relative year / month / week words win over "前两年"-style prefix offsets at the same position
_FIRST = ("yrel", "mrel", "wkd", "week")
_i_poff = [n for n, _ in _ATOMS].index("poff")
for _name in _FIRST:
    _pos = [n for n, _ in _ATOMS].index(_name)
    if _pos > _i_poff:
        _ATOMS.insert(_i_poff, _ATOMS.pop(_pos))
        _i_poff += 1


def _first_class(pattern: str) -> str | None:
    """A character-class body holding every character a match of ``pattern`` can start with (None: any).

    Used as a leading look-ahead so that the master expression rejects most positions in one step instead
    of trying every alternative there."""
    c: Any = importlib.import_module("re._constants")
    sp: Any = importlib.import_module("re._parser")

    def seq(items: Any) -> tuple[list[str] | None, bool]:
        out: list[str] = []
        for op, av in items:
            frag, nullable = item(op, av)
            if frag is None:
                return None, False
            out += frag
            if not nullable:
                return out, False
        return out, True

    def item(op: Any, av: Any) -> tuple[list[str] | None, bool]:  # noqa: C901
        if op is c.LITERAL:
            return [re.escape(chr(av))], False
        if op is c.IN:
            frags: list[str] = []
            for iop, iav in av:
                if iop is c.LITERAL:
                    frags.append(re.escape(chr(iav)))
                elif iop is c.RANGE:
                    frags.append(f"{re.escape(chr(iav[0]))}-{re.escape(chr(iav[1]))}")
                elif iop is c.CATEGORY and iav in _CATEGORY_CLASS:
                    frags.append(_CATEGORY_CLASS[iav])
                else:
                    return None, False
            return frags, False
        if op is c.BRANCH:
            frags, nullable = [], False
            for alt in av[1]:
                f, n = seq(alt)
                if f is None:
                    return None, False
                frags += f
                nullable = nullable or n
            return frags, nullable
        if op is c.SUBPATTERN:
            return seq(av[3])
        if op is c.ATOMIC_GROUP:
            return seq(av)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            f, n = seq(av[2])
            return f, n or av[0] == 0
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return [], True
        if op is c.GROUPREF_EXISTS:
            f1, n1 = seq(av[1])
            f2, n2 = seq(av[2]) if av[2] is not None else ([], True)
            if f1 is None or f2 is None:
                return None, False
            return f1 + f2, n1 or n2
        return None, False

    frags, nullable = seq(sp.parse(pattern, re.IGNORECASE))
    if frags is None or nullable:
        return None
    return "".join(dict.fromkeys(frags))


def _category_classes() -> dict[Any, str]:
    c: Any = importlib.import_module("re._constants")
    return {c.CATEGORY_DIGIT: r"\d", c.CATEGORY_SPACE: r"\s", c.CATEGORY_WORD: r"\w"}


_CATEGORY_CLASS = _category_classes()


def _master() -> re.Pattern[str]:
    """One alternation of all atoms; each branch and the whole are guarded by a look-ahead on the possible
    first characters, so positions where no atom can start cost one step (about twice as fast)."""
    classes = [_first_class(f"(?:{pat})") for _, pat in _ATOMS]
    body = "|".join(
        f"(?P<A_{name}>{f'(?=[{cl}])' if cl else ''}{pat})"
        for (name, pat), cl in zip(_ATOMS, classes, strict=True)
    )
    if any(cl is None for cl in classes):
        return re.compile(body, re.IGNORECASE)
    return re.compile(f"(?=[{''.join(cl for cl in classes if cl)}])(?:{body})", re.IGNORECASE)


_MASTER = re.compile("|".join(f"(?P<A_{name}>{pat})" for name, pat in _ATOMS), re.IGNORECASE)
# speed only (branch: nlp-perf): the same matches as _MASTER.finditer, trying only the atoms that can
# start with the character at hand (see nlp/rxscan.py)
_MASTER_SCAN = Scanner(_MASTER)

_GAP_CJK = re.compile(r"^(?:\s{0,2}|的|\s*[,，]\s*)$")
_GAP_EN = re.compile(r"^\s*(?:,\s*)?(?:at|on|@|around|about|by)?\s*$", re.IGNORECASE)
_CONNECT = re.compile(r"^\s*(?:到|至|~|-|—|–|——|—+|直到|一直到|to|until|till|through|-)\s*$", re.IGNORECASE)
_NUM_CONNECT_DUR = re.compile(rf"(?<![\d.])(?P<n>\d+(?:\.\d+)?|[{_CNN}]+)\s*(?:到|至|~|-|—|–|——)\s*$")
_DUR_SUFFIX = re.compile(r"以上|以下|左右|上下|之久")
_UNTIL_NOW = re.compile(r"至今|到现在|到今天|迄今")
_NUM_CONNECT = re.compile(rf"(?P<n>\d{{1,2}}|[{_CNN}]{{1,3}})\s*(?:到|至|~|-|—|–|——)\s*$")
_SUFFIX = re.compile(
    r"(?P<approx>左右|前后|上下|许)|(?P<dl>之前|以前|前(?![天年日两一二三四五六七八九十\d个后去往来进台端面期景提任辈者所列线]))|"
    r"(?P<af>之后|以后|过后|后(?![天年日面续期台端者来勤悔果边头市劲]))|(?P<within>之内|以内|内)|(?P<since>起(?!来|码))"
)
_PREFIX_DL = re.compile(
    r"(?:截止到|截止|截至|最晚|最迟|不晚于|务必在|须在|必须在|"
    r"\bby|\bbefore|\bno later than|\buntil|\btill|\bdue)\s*$",
    re.IGNORECASE,
)
_PREFIX_SET = re.compile(
    r"(?:每(?:隔|个|一个)?(?:天|日|晚|早|周|星期|礼拜|月|年|个?工作日|周工作日)?的?|\bevery)\s*$",
    re.IGNORECASE,
)
_PREFIX_MD_CTX = re.compile(
    r"(?:于|在|定在|定于|约|约在|改到|改在|改成|截止|到|至|从|\bon|\bfrom)\s*$", re.IGNORECASE
)
_BARE_CLOCK_BAD_PREV = re.compile(
    r"(?:差|有|快|多|少|慢|早|晚|高|低|贵|便宜|大|小|好|近|远|点|降|涨|压|让|返|扣|加|减|升|调高|调低|提高|提升|增长|"
    r"下降|上涨|下跌|百分|零|了|几|第|前|后)$"
)
_BARE_CLOCK_BAD_NEXT = re.compile(
    r"^(?:都|也|儿|点|意见|建议|原因|问题|看法|内容|要求|需求|想法|事项|好处|优势|不足|理由|方面|措施|度|%|个百分|倍|万|亿|"
    r"元|块|折|米|公里|的利|利润|毛利|吧|就好|就行)"
)

# a "N号" right after these is a seat, a door or a bay, not a day of the month
_PLACE_BEFORE_NUMBER = re.compile(r"[A-Za-z区栋座排层楼室房门仓库站线路车位台柜窗厅馆场院]")
# Cantonese day parts (after `nlp.normalize`: 晝 → 昼)
_CANTONESE_DP = {"上昼": "上午", "下昼": "下午", "朝早": "早上", "挨晚": "傍晚"}
# a number right after these is an identifier (order, waybill, invoice, account, ...), never a date
_ID_CONTEXT = re.compile(
    r"(?:单号|订单号?|编号|运单|快递|物流|工号|号码|账号|卡号|批号|合同号|发票号?|流水号?|序列号|单据|No\.?|#|ID)"
    r"\s*[:：]?\s*$",
    re.IGNORECASE,
)

_LUNAR_FILE = Path(__file__).with_name("lunar_holidays.json")
_LUNAR: dict[str, dict[int, tuple[int, int]]] = {}


def _lunar() -> dict[str, dict[int, tuple[int, int]]]:
    if not _LUNAR:
        raw = json.loads(_LUNAR_FILE.read_text(encoding="utf-8"))
        for key, table in raw.items():
            _LUNAR[key] = {int(y): (int(v[:2]), int(v[3:])) for y, v in table.items()}
    return _LUNAR


# holiday key -> (solar (month, day) or lunar table key, offset days, length of the holiday break in days)
_HOLIDAY_DEF: dict[str, tuple[Any, int, int]] = {
    "元旦": ((1, 1), 0, 1),
    "春节": ("spring_festival", 0, 7),
    "除夕": ("spring_festival", -1, 1),
    "元宵": ("spring_festival", 14, 1),
    "清明": ("qingming", 0, 1),
    "劳动节": ((5, 1), 0, 5),
    "端午": ("dragon_boat", 0, 1),
    "中秋": ("mid_autumn", 0, 1),
    "国庆": ((10, 1), 0, 7),
    "七夕": ("lunar", 7, 7),
    "腊八": ("lunar", 12, 8),
    "重阳": ("double_ninth", 0, 1),
    "妇女节": ((3, 8), 0, 1),
    "儿童节": ((6, 1), 0, 1),
    "建军节": ((8, 1), 0, 1),
    "教师节": ((9, 10), 0, 1),
    "情人节": ((2, 14), 0, 1),
    "圣诞": ((12, 25), 0, 1),
    "平安夜": ((12, 24), 0, 1),
    "万圣节": ((10, 31), 0, 1),
    "愚人节": ((4, 1), 0, 1),
    "植树节": ((3, 12), 0, 1),
    "青年节": ((5, 4), 0, 1),
    "双十一": ((11, 11), 0, 1),
    "双十二": ((12, 12), 0, 1),
    "消费者权益日": ((3, 15), 0, 1),
    "母亲节": ((5, 2, 6), 0, 1),  # (month, n, weekday): 2nd Sunday of May
    "父亲节": ((6, 3, 6), 0, 1),
    "感恩节": ((11, 4, 3), 0, 1),
}


def _holiday_key(name: str) -> str | None:
    n = name
    if n.startswith("元旦") or n == "阳历新年":
        return "元旦"
    if n in ("春节", "农历新年", "新春", "过年", "大年初一", "正月正时", "正月朔日", "年"):
        return "春节"
    if n in ("除夕", "大年三十", "年三十"):
        return "除夕"
    if n.startswith("元宵"):
        return "元宵"
    if n.startswith("清明"):
        return "清明"
    if "劳动" in n or n.startswith("五一"):
        return "劳动节"
    if n.startswith("端午"):
        return "端午"
    if n.startswith("中秋"):
        return "中秋"
    if n.startswith("国庆") or n.startswith("十一"):
        return "国庆"
    if n.startswith("七夕"):
        return "七夕"
    if n.startswith("腊八"):
        return "腊八"
    if n.startswith("重阳"):
        return "重阳"
    if n in ("妇女节", "三八节"):
        return "妇女节"
    if "儿童节" in n:
        return "儿童节"
    if "建军" in n:
        return "建军节"
    if n.startswith("圣诞"):
        return "圣诞"
    if n in ("双十一", "双11"):
        return "双十一"
    if n in ("双十二", "双12"):
        return "双十二"
    if n in ("国际消费者权益日", "三一五", "315"):
        return "消费者权益日"
    if n in _HOLIDAY_DEF and _HOLIDAY_DEF[n] is not None:
        return n
    return None


def _lunar_solar(year: int, month: int, day: int, leap: bool = False) -> date | None:
    """Gregorian date of lunar ``year``-``month``-``day`` (``leap``: the leap month); None when none."""
    try:
        from lunardate import LunarDate

        return LunarDate(year, month, day, leap).to_solar_date()
    except (ValueError, ImportError, IndexError):
        return None


def _nth_weekday(year: int, month: int, n: int, wd: int) -> date:
    first = date(year, month, 1)
    first_wd = first + timedelta(days=(wd - first.weekday()) % 7)
    return first_wd + timedelta(days=7 * (n - 1))


def _holiday_date(key: str, year: int) -> tuple[date, int] | None:
    if key == "除夕":  # the last day of lunar year `year`
        nxt = _lunar_solar(year + 1, 1, 1)
        return (nxt - timedelta(days=1), 1) if nxt else None
    if key.startswith("st:"):
        td = solar_terms.term_date(key[3:], year)
        return None if td is None else (td, 1)
    if key.startswith("w:"):
        parts = key.split(":")
        wd = world_holidays.holiday_date(parts[1], year, len(parts) > 2)
        return None if wd is None else (wd, world_holidays.LENGTH.get(parts[1], 1))
    spec = _HOLIDAY_DEF.get(key)
    if spec is None:
        return None
    where, off, length = spec
    if where == "lunar":
        ld = _lunar_solar(year, off, length)
        return (ld, 1) if ld else None
    if isinstance(where, tuple) and len(where) == 3:
        base = _nth_weekday(year, where[0], where[1], where[2])
    elif isinstance(where, tuple):
        base = date(year, where[0], where[1])
    else:
        table = _lunar().get(where, {})
        if year not in table:
            return None
        m, d = table[year]
        base = date(year, m, d)
    return base + timedelta(days=off), length


# ---------------------------------------------------------------------------------------------------------
# atoms and chains

_DATE_SLOTS = frozenset("YMD")


@dataclass
class Atom:
    kind: str
    start: int
    end: int
    f: dict[str, Any]
    slots: frozenset[str]
    en: bool = False
    weak: bool = False  # needs context to count as a time
    chainable: bool = True


@dataclass
class Chain:
    atoms: list[Atom]
    start: int
    end: int
    f: dict[str, Any] = field(default_factory=dict)

    @property
    def slots(self) -> frozenset[str]:
        s: frozenset[str] = frozenset()
        for a in self.atoms:
            s |= a.slots
        return s


@dataclass
class Resolved:
    kind: str
    start: datetime
    end: datetime | None
    grain: str


@dataclass
class TimeHit:
    span: tuple[int, int]
    kind: str
    start: datetime
    end: datetime | None
    grain: str


_EN_WD = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_CN_WD = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "7": 6}
_CN_WD.update({str(i): i - 1 for i in range(1, 7)})
_EN_MON = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}


def _week_rel(p: str | None) -> int | None:
    if not p:
        return None
    p = p.lower()
    if p.startswith("上上上"):
        return -3
    if p.startswith("下下下"):
        return 3
    if p.startswith("上上"):
        return -2
    if p.startswith("下下"):
        return 2
    if p.startswith("上") or p == "last":
        return -1
    if p.startswith("下") or p in ("next", "the following", "following"):
        return 1
    return 0  # 本 这 今 this


def _month_rel(s: str) -> int:
    if s.startswith("上上"):
        return -2
    if s.startswith("下下"):
        return 2
    if s.startswith("上"):
        return -1
    if s.startswith("下") or s.startswith("次"):
        return 1
    return 0


_YREL = {
    "大前年": -3,
    "前年": -2,
    "去年": -1,
    "上一年": -1,
    "上年": -1,
    "今年": 0,
    "本年": 0,
    "当年": 0,
    "同年": 0,
    "这一年": 0,
    "明年": 1,
    "下一年": 1,
    "下年": 1,
    "次年": 1,
    "来年": 1,
    "后年": 2,
    "大后年": 3,
}
_DREL = {
    "大大后天": 4,
    "大后天": 3,
    "大后日": 3,
    "后天": 2,
    "后日": 2,
    "明天": 1,
    "明日": 1,
    "次日": 1,
    "翌日": 1,
    "隔天": 1,
    "第二天": 1,
    "明儿": 1,
    "今天": 0,
    "今日": 0,
    "本日": 0,
    "当天": 0,
    "当日": 0,
    "今儿": 0,
    "昨天": -1,
    "昨日": -1,
    "昨儿": -1,
    "前天": -2,
    "前日": -2,
    "大前天": -3,
}


def _unit_delta(unit: str) -> tuple[str, float]:
    """Return (base unit, multiplier) for a Chinese or English time unit."""
    u = unit.lower().rstrip("s") if unit.isascii() else unit
    if "工作日" in u or "交易日" in u or u.startswith("business") or u.startswith("working"):
        return "bday", 1
    if u in ("天", "日", "day"):
        return "day", 1
    if u in ("周", "星期", "礼拜", "week"):
        return "day", 7
    if u in ("季度", "个季度", "quarter"):
        return "month", 3
    if u in ("个月", "月", "month"):
        return "month", 1
    if u in ("年", "year"):
        return "month", 12
    if u in ("小时", "个小时", "钟头", "个钟头", "个钟", "hour", "hr"):
        return "minute", 60
    if u in ("分钟", "分", "minute", "min"):
        return "minute", 1
    if u in ("刻钟",):
        return "minute", 15
    if u in ("秒", "秒钟"):
        return "second", 1
    return "day", 1


def _atom_from_match(m: re.Match[str]) -> Atom | None:  # noqa: C901 - a flat dispatcher
    kind = (m.lastgroup or "A_")[2:]
    g = m.group
    s, e = m.span()
    if kind == "en_in":
        n = cn2num(g("en_in_n"))
        if n is None:
            return None
        suf = "内" if g("en_in_p").lower() == "within" else "后"
        return Atom(
            kind, s, e, {"offset": (n, g("en_in_u"), suf)}, _DATE_SLOTS | {"H"}, en=True, chainable=False
        )
    if kind == "en_ago":
        n = cn2num(g("en_ago_n"))
        if n is None:
            return None
        suf = "前" if g("en_ago_s").lower() == "ago" else "后"
        return Atom(
            kind, s, e, {"offset": (n, g("en_ago_u"), suf)}, _DATE_SLOTS | {"H"}, en=True, chainable=False
        )
    if kind == "en_dur":
        n = cn2num(g("en_du_n") or g("en_du_n2"))
        if n is None:
            return None
        return Atom(
            kind, s, e, {"dur": (n, g("en_du_u") or g("en_du_u2"))}, frozenset("X"), en=True, chainable=False
        )
    if kind == "en_end":
        if g("en_eod"):
            return Atom(kind, s, e, {"en_end": (g("en_eod").lower(), 0)}, _DATE_SLOTS | {"H"}, en=True)
        rel = _week_rel(g("en_ep")) or 0
        return Atom(kind, s, e, {"en_end": (g("en_eu").lower(), rel)}, _DATE_SLOTS | {"H", "W"}, en=True)
    if kind == "en_rd":
        w = g("en_rd").lower()
        if "after" in w:
            off = 2
        elif "before" in w:
            off = -2
        elif w == "yesterday":
            off = -1
        elif w in ("today", "tonight"):
            off = 0
        else:
            off = 1
        f: dict[str, Any] = {"drel": off}
        slots = _DATE_SLOTS
        if w == "tonight":
            f["dp"] = "晚上"
            slots = slots | {"P"}
        return Atom(kind, s, e, f, slots, en=True)
    if kind == "en_wk":
        wd = _EN_WD[g("en_wd").lower()[:3]]
        p = (g("en_wp") or "").lower()
        wrel: int | None = None if p in ("", "coming") else _week_rel(p)
        return Atom(kind, s, e, {"wk": (wrel, wd)}, frozenset("W"), en=True)
    if kind == "en_week":
        rel = _week_rel(g("en_wo")) or 0
        u = g("en_wu").lower()
        if u == "week":
            return Atom(kind, s, e, {"week": rel}, frozenset("WD"), en=True)
        if u == "month":
            return Atom(kind, s, e, {"mrel": rel}, frozenset("YM"), en=True)
        if u == "quarter":
            return Atom(kind, s, e, {"qrel": rel}, frozenset("YM"), en=True)
        return Atom(kind, s, e, {"yrel": rel}, frozenset("Y"), en=True)
    if kind in ("en_md", "en_dm"):
        mon = _EN_MON[(g("en_mn") or g("en_dmn")).lower()[:3]]
        day = int(g("en_md") or g("en_dd"))
        yr = g("en_my") or g("en_dmy")
        f = {"m": mon, "d": day}
        if yr:
            f["y"] = int(yr)
        return Atom(kind, s, e, f, _DATE_SLOTS, en=True)
    if kind == "en_clock":
        ap = (g("en_ap") or g("en_ap1") or "").lower().replace(".", "")
        f = {"h": int(g("en_h")), "ap": "pm" if ap.startswith("p") else "am"}
        if g("en_m"):
            f["mi"] = int(g("en_m"))
        return Atom(kind, s, e, f, frozenset("H"), en=True)
    if kind == "en_od":
        return Atom(kind, s, e, {"d": int(g("en_od"))}, frozenset("D"), en=True)
    if kind == "en_noon":
        w = g("en_noon").lower()
        return Atom(kind, s, e, {"h": 0 if w == "midnight" else 12, "ap": "24"}, frozenset("H"), en=True)
    if kind == "en_at":
        f = {"h": int(g("en_ah"))}
        if g("en_am"):
            f["mi"] = int(g("en_am"))
        return Atom(kind, s, e, f, frozenset("H"), en=True)
    if kind == "en_dp":
        dp = {"morning": "上午", "afternoon": "下午", "evening": "晚上", "night": "晚上"}[g("en_dp").lower()]
        return Atom(kind, s, e, {"dp": dp}, frozenset("P"), en=True, weak=not g(0).lower().startswith("this"))
    if kind == "offset":
        n = cn2num(g("of_n")) if g("of_n") else 0
        if n is None:
            return None
        if g("of_half") or g("of_h2") or g("of_half3"):
            n += 0.5
        if n == 0:
            return None
        unit = g("of_u")
        suf = g("of_suf")
        if g("of_pre"):
            suf = "后"
        raw_n = g("of_n") or ""
        if unit == "年" and len(raw_n) == 4 and (raw_n.isdigit() or all(c in _CD for c in raw_n)):
            # "2025年前", "二〇三五年前": a year followed by a bound, not an offset
            f = {"y": int(n)}
            ks = "前" if "前" in suf else ("后" if "后" in suf else "内")
            return Atom("year", s, e, {**f, "bound": ks}, frozenset("Y"))
        if suf in ("来", "以来"):
            suf = "以来"
        return Atom(kind, s, e, {"offset": (n, unit, suf)}, _DATE_SLOTS | {"W"})
    if kind == "poff":
        n = cn2num(g("po_n"))
        if n is None:
            return None
        if g("po_half"):
            n += 0.5
        return Atom(kind, s, e, {"poff": (g("po_p"), n, g("po_u"))}, frozenset("YMDWHPX"), chainable=False)
    if kind == "iso":
        a = _date_atom(kind, s, e, int(g("iso_y")), int(g("iso_m")), int(g("iso_d")))
        if a is not None and g("iso_h"):
            a.f.update({"h": int(g("iso_h")), "mi": int(g("iso_mi")), "ap": "24"})
            if g("iso_s2"):
                a.f["sec"] = int(g("iso_s2"))
            a.slots = a.slots | {"H", "P"}
        return a
    if kind == "c8":
        if _ID_CONTEXT.search(m.string, max(0, s - 8), s):
            return None  # "订单号20261123": an order number, not a date
        return _date_atom(kind, s, e, int(g("c8_y")), int(g("c8_m")), int(g("c8_d")))
    if kind == "mdy":
        y = int(g("mdy_y"))
        if y < 100:
            y += 1900 if y >= 50 else 2000
        return _date_atom(kind, s, e, y, int(g("mdy_m")), int(g("mdy_d")))
    if kind == "md":
        mo, dd = int(g("md_m")), int(g("md_d"))
        weak = not g("md_suf") and not (g("md_s") == "/" and dd > 12)
        return Atom(kind, s, e, {"m": mo, "d": dd}, _DATE_SLOTS - {"Y"}, weak=weak)
    if kind == "mdd":
        return Atom(kind, s, e, {"m": int(g("mdd_m")), "d": int(g("mdd_d"))}, frozenset("MD"), weak=True)
    if kind == "year":
        raw = g("yr_n")
        y = int(cn2num(raw) or 0)
        if len(raw) == 2:
            y += 1900 if y >= 50 else 2000
        elif len(raw) == 3:
            return None
        f = {"y": y}
        slots = frozenset("Y")
        if g("yr_p"):
            f["ypart"] = _ypart_word(g("yr_p"))
            slots = frozenset("YMD")
        weak = len(raw) == 2 and not g("yr_p")
        return Atom(kind, s, e, f, slots, weak=weak)
    if kind == "yrel":
        f = {"yrel": _YREL[g("yr_r")]}
        slots = frozenset("Y")
        if g("yr_rp"):
            f["ypart"] = _ypart_word(g("yr_rp"))
            slots = frozenset("YMD")
        return Atom(kind, s, e, f, slots)
    if kind == "ypart":
        yp = g("yp")
        q = g("yp_q") or g("yp_q2") or (g("yp_qq") or "")[1:]
        if q or yp.startswith("首"):
            qn = int(cn2num(q) or 1) if q else 1
            sub = g("yp_qs")
            return Atom(kind, s, e, {"ypart": ("q", qn, _sub(sub))}, frozenset("MD"))
        if g("yp_qr"):
            return Atom(
                kind, s, e, {"qrel": _month_rel(g("yp_qr")), "qsub": _sub(g("yp_qrs"))}, frozenset("YMD")
            )
        if yp in ("季度末", "季末"):
            return Atom(kind, s, e, {"qrel": 0, "qsub": "end"}, frozenset("YMD"))
        if yp in ("季度初", "季初"):
            return Atom(kind, s, e, {"qrel": 0, "qsub": "begin"}, frozenset("YMD"))
        if yp in ("上半年", "前半年"):
            return Atom(kind, s, e, {"ypart": ("half", 1, None)}, frozenset("MD"))
        if yp in ("下半年", "后半年"):
            return Atom(kind, s, e, {"ypart": ("half", 2, None)}, frozenset("MD"))
        return Atom(kind, s, e, {"ypart": _ypart_word(yp[1:])}, frozenset("MD"))
    if kind == "month":
        mo = int(cn2num(g("mo_n")) or 0)
        if not 1 <= mo <= 12:
            return None
        f = {"m": mo}
        slots = frozenset("M")
        if g("mo_d"):
            d = _parse_day(g("mo_d"))
            if d is None:
                return None
            f["d"] = d
            slots = frozenset("MD")
        elif g("mo_p"):
            f["mpart"] = _mpart_word(g("mo_p"))
            slots = frozenset("MD")
        return Atom(kind, s, e, f, slots)
    if kind == "mrel":
        f = {"mrel": _month_rel(g("mo_r"))}
        slots = frozenset("YM")
        if g("mo_rd"):
            d = _parse_day(g("mo_rd"))
            if d is None:
                return None
            f["d"] = d
            slots = frozenset("YMD")
        elif g("mo_rp"):
            f["mpart"] = _mpart_word(g("mo_rp"))
            slots = frozenset("YMD")
        return Atom(kind, s, e, f, slots)
    if kind == "mpart":
        return Atom(kind, s, e, {"mpart": _mpart_word(g("mp"))}, frozenset("D"))
    if kind == "hol":
        key = _holiday_key(g("hol")) or _holiday_key(g("hol").removeprefix("农历").removeprefix("阴历"))
        if key is None:
            return None
        hf: dict[str, Any] = {"hol": key}
        if g("hol_prev") or g("hol_next"):
            hf["hol_off"] = -1 if g("hol_prev") else 1
        return Atom(kind, s, e, hf, frozenset("MD"))
    if kind == "lunar":
        mraw = (
            g("lu_m")
            or g("lu_m2")
            or g("lu_m3")
            or g("lu_m4")
            or g("lu_m5")
            or g("lu_m6")
            or ("正" if g("lu_d5") else "")
        )
        mo = {"正": 1, "腊": 12, "冬": 11}.get(mraw) or int(cn2num(mraw) or 0)
        draw = g("lu_d") or g("lu_d2") or g("lu_d3") or g("lu_d4") or g("lu_d5") or g("lu_d6") or g("lu_d7")
        if not 1 <= mo <= 12:
            return None
        leap = bool(g("lu_leap") or g("lu_leap2"))
        lf: dict[str, Any] = {}
        lslots = frozenset("MD")
        if g("lu_y"):
            lf["y"] = int(cn2num(g("lu_y")) or 0)
            lslots = frozenset("YMD")
        if not draw:
            return Atom(kind, s, e, {**lf, "lunar": (mo, None, leap)}, lslots)
        draw = draw.rstrip("日号")
        dv = (
            cn2num(draw[1:])
            if draw[0] == "初"
            else (21 + (cn2num(draw[1:]) or 0) - 1 if draw[0] == "廿" else None)
        )
        if draw[0] == "卅":
            dv = 30
        elif dv is None and draw[0] not in "初廿":
            dv = cn2num(draw)
        if dv is None or not 1 <= dv <= 30:
            return None
        return Atom(kind, s, e, {**lf, "lunar": (mo, int(dv), leap)}, lslots)
    if kind == "decade":
        part = g("dc_p") or g("ce_p")
        sub = None
        if part:
            sub = "begin" if part[0] in "初前" else ("end" if part[0] in "末后" else "mid")
        cent = None
        if g("dc_c") or g("ce_c"):
            cv = cn2num(g("dc_c") or g("ce_c"))
            if cv is None or not 1 <= cv <= 30:
                return None
            cent = int(cv)
        up = bool(g("dc_up") or g("ce_up"))
        dec = int(cn2num(g("dc_d")) or 0) if g("dc_d") else None
        return Atom(kind, s, e, {"decade": (cent, up, dec, sub)}, frozenset("YMD"))
    if kind == "season":
        if g("se_sh"):
            return Atom(kind, s, e, {"season": -1}, frozenset("MD"))
        return Atom(kind, s, e, {"season": "春夏秋冬".index(g("se") or g("se2"))}, frozenset("MD"))
    if kind == "term":
        return Atom(kind, s, e, {"hol": "st:" + (g("st") or g("st2") or g("st3"))}, frozenset("MD"))
    if kind == "whol":
        f = {"hol": "w:" + _WORLD_NAMES[g("wh")] + (":o" if g("wh_o") else "")}
        off = 1 if g("wh_next") else (-1 if g("wh_eve") else 0)
        if g("wh_n"):
            # "第N天" counts from the festival's first day
            key = _WORLD_NAMES[g("wh")]
            off = int(cn2num(g("wh_n")) or 1) - 1 + world_holidays.FIRST_DAY.get(key, 0)
        if off:
            f["hol_off"] = off
        return Atom(kind, s, e, f, frozenset("MD"))
    if kind == "day":
        d = _parse_day(g("dy_n"))
        if d is None or (s > 0 and _PLACE_BEFORE_NUMBER.match(m.string, s - 1)):
            return None  # "A区3号", "5栋2号": a place, not a day
        return Atom(kind, s, e, {"d": d}, frozenset("D"))
    if kind == "reld":
        w = g("rd")
        f = {}
        if w in _DREL:
            f["drel"] = _DREL[w]
            return Atom(kind, s, e, f, _DATE_SLOTS)
        base = {"明": 1, "今": 0, "昨": -1, "当": 0}[w[0]]
        dp = {"早": "早上", "晚": "晚上", "夜": "晚上", "晨": "早上"}[w[1]]
        return Atom(kind, s, e, {"drel": base, "dp": dp}, _DATE_SLOTS | {"P"})
    if kind == "wkd":
        wdc = str(g("wk_d") or g("wk_d2"))
        return Atom(kind, s, e, {"wk": (_week_rel(g("wk_p")), _CN_WD[wdc])}, frozenset("W"))
    if kind == "week":
        f = {"week": _week_rel(g("wo_p")) or 0}
        sub = g("wo_s")
        if sub:
            f["wpart"] = "末" if sub == "末" else ("内" if "内" in sub else "初")
        return Atom(kind, s, e, f, frozenset("WD"))
    if kind == "weekend":
        return Atom(kind, s, e, {"week": 0, "wpart": "末"}, frozenset("WD"))
    if kind == "work":
        h = 9 if g("wkoff") == "上班" else 18
        return Atom(kind, s, e, {"h": h, "dp": "24"}, frozenset("HP"))
    if kind == "dp":
        dp = _CANTONESE_DP.get(g("dp"), g("dp"))
        # a lone 黎明 is as often a name as the dawn: it needs a date or a clock time beside it
        return Atom(kind, s, e, {"dp": dp}, frozenset("P"), weak=len(dp) == 1 or dp == "黎明")
    if kind == "hm":
        h, mi = int(g("hm_h")), int(g("hm_m"))
        f = {"h": h, "mi": mi}
        if g("hm_s"):
            f["sec"] = int(g("hm_s"))
        ap = g("hm_ap")
        if ap:
            f["ap"] = "pm" if ap.lower().startswith("p") else "am"
        return Atom(kind, s, e, f, frozenset("H"))
    if kind == "clock":
        hv = cn2num(g("ck_h"))
        if hv is None or hv > 24:
            return None
        f = {"h": int(hv)}
        if g("ck_half") or g("ck_half2"):
            f["mi"] = 30
        elif g("ck_5") or g("ck_5b"):
            f["mi"] = 5 * int(cn2num(g("ck_5") or g("ck_5b")) or 0)
        elif g("ck_z"):
            f["mi"] = 0
        elif g("ck_q"):
            f["mi"] = 15 if g("ck_q") in "一1" else 45
        elif g("ck_m"):
            raw = g("ck_m")
            if not g("ck_f") and len(raw) == 1:
                if raw in "一二三四五六七八九" and g("ck_h") not in ("零", "〇"):
                    # Cantonese "下午三点三" = 3:15 (字 = 5 minutes); only beside a day part
                    f["can5"] = 5 * int(cn2num(raw) or 0)
                    return Atom(kind, s, e, f, frozenset("H"), weak=True)
                return None  # "二十七点三", "24点5": a decimal, not a time
            mv = cn2num(raw)
            if mv is None or mv > 59:
                return None
            f["mi"] = int(mv)
            if g("ck_s"):
                f["sec"] = int(cn2num(g("ck_s")) or 0)
        if g("ck_ap"):
            f["ap"] = "pm" if g("ck_ap").lower().startswith("p") else "am"
        weak = True  # bare clock times are checked in context later
        return Atom(kind, s, e, f, frozenset("H"), weak=weak)
    if kind == "nth":
        n = -1 if g("nth_last") else cn2num(g("nth_n"))
        if n is None or n == 0 or n < -1 or (n < 0 and g("nth_m")):
            return None
        if g("nth_d"):
            return Atom(kind, s, e, {"nth": (int(n), "d")}, frozenset("D"), weak=True)
        if g("nth_m"):
            if n > 12:
                return None
            return Atom(kind, s, e, {"m": int(n)}, frozenset("M"), weak=True)
        nwd = _CN_WD[g("nth_wd")] if g("nth_wd") else None
        return Atom(kind, s, e, {"nth": (int(n), nwd)}, frozenset("WD"), weak=True)
    if kind == "clock2":
        ha, hb = cn2num(g("c2_a")), cn2num(g("c2_b"))
        if ha is None or hb is None or hb != ha + 1:
            return None
        return Atom(kind, s, e, {"h": int(ha), "h2": int(hb)}, frozenset("H"), weak=True)
    if kind == "now":
        return Atom(kind, s, e, {"now": True}, frozenset("YMDWHPX"), chainable=False)
    if kind == "dur":
        raw = g("du_n")
        n = cn2num(raw) if raw else 0
        if n is None:
            return None
        if g("du_half") or g("du_h2") or g("du_half3"):
            n += 0.5
        if n == 0:
            return None
        if g("du_u") == "日" and n <= 31 and not (raw or "").startswith(("两", "俩", "几", "半")):
            return None  # "5日" is a day of the month
        return Atom(kind, s, e, {"dur": (n, g("du_u"))}, frozenset("X"), chainable=False)
    return None


def _date_atom(kind: str, s: int, e: int, y: int, mo: int, d: int) -> Atom | None:
    try:
        date(y, mo, d)
    except ValueError:
        return None
    return Atom(kind, s, e, {"y": y, "m": mo, "d": d}, _DATE_SLOTS)


def _parse_day(raw: str) -> int | None:
    if raw.startswith("初"):
        return None  # lunar day: not resolved
    d = cn2num(raw)
    if d is None or not 1 <= d <= 31:
        return None
    return int(d)


def _sub(s: str | None) -> str | None:
    if not s:
        return None
    return "begin" if s == "初" else "end"


def _ypart_word(w: str) -> tuple[str, int, str | None]:
    w = w.lstrip("年")
    if w in ("底", "末", "终"):
        return ("end", 0, None)
    if w in ("初", "伊始"):
        return ("begin", 0, None)
    return ("mid", 0, None)


def _mpart_word(w: str) -> str:
    w = w.lstrip("月")
    return {
        "底": "end",
        "末": "end",
        "初": "begin",
        "中": "mid",
        "上旬": "first",
        "中旬": "mid",
        "下旬": "last",
    }[w]


# ---------------------------------------------------------------------------------------------------------
# resolution helpers


def _add_months(d: date, n: int) -> date:
    total = d.year * 12 + (d.month - 1) + n
    y, m = divmod(total, 12)
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _period_end(start: datetime, grain: str) -> datetime:
    if grain == "second":
        return start + timedelta(seconds=1)
    if grain == "minute":
        return start + timedelta(minutes=1)
    if grain == "hour":
        return start + timedelta(hours=1)
    if grain == "day":
        return _at(start.date() + timedelta(days=1), start.tzinfo)
    if grain == "week":
        return _at(start.date() + timedelta(days=7), start.tzinfo)
    if grain == "month":
        return _at(_add_months(start.date().replace(day=1), 1), start.tzinfo)
    if grain == "quarter":
        return _at(_add_months(start.date().replace(day=1), 3), start.tzinfo)
    return _at(date(start.year + 1, 1, 1), start.tzinfo)


def _at(d: date, tz: tzinfo | None, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    extra = 0
    if h >= 24:
        extra, h = divmod(h, 24)
    return datetime.combine(d + timedelta(days=extra), time(h, mi, s), tzinfo=tz)


_DP_RANGE = {
    "凌晨": (0, 6),
    "清晨": (5, 9),
    "黎明": (4, 7),
    "早晨": (4, 12),
    "早上": (4, 12),
    "早": (4, 12),
    "上午": (7, 12),
    "中午": (12, 14),
    "午后": (13, 15),
    "下午": (12, 19),
    "傍晚": (17, 19),
    "黄昏": (17, 19),
    "晚上": (18, 24),
    "晚间": (18, 24),
    "晚": (18, 24),
    "夜里": (18, 24),
    "夜间": (20, 30),
    "夜晚": (18, 24),
    "夜": (18, 24),
    "半夜": (0, 5),
    "后半夜": (0, 5),
    "前半夜": (18, 24),
    "午夜": (0, 1),
    "深夜": (22, 26),
    "白天": (6, 19),
}
_PM_DP = {"下午", "午后", "傍晚", "黄昏", "晚上", "晚间", "晚", "夜里", "夜间", "夜晚", "夜", "前半夜"}


_PAST_GRACE = timedelta(hours=1)


# small hours: "凌晨2点" sent in the morning is usually last night; sent in the evening, the coming night
_NIGHT_DP = frozenset({"凌晨", "半夜", "午夜"})


def _day_part_over(dp: str | None, day: date, now: datetime) -> bool:
    if dp is None or dp not in _DP_RANGE:
        return True
    if dp in _NIGHT_DP:
        return now.hour >= 18
    return now >= _at(day, now.tzinfo, _DP_RANGE[dp][1])


def _hour24(h: int, dp: str | None, ap: str | None) -> int:
    """Convert a written hour to 0..24(+) given the day part and am/pm marker (24 = next day's midnight)."""
    if ap == "24":
        return h
    if ap == "pm":
        return h + 12 if h < 12 else h
    if ap == "am":
        return 0 if h == 12 else h
    if h > 12:
        return h
    if dp is None:
        if h == 0:
            return 0
        return h + 12 if 1 <= h <= 6 else h  # business hours: bare 1-6 is afternoon
    if dp == "后半夜":
        dp = "半夜"
    if dp in ("凌晨", "半夜", "午夜"):
        return 0 if h == 12 else (h + 12 if dp == "半夜" and h >= 9 else h)
    if dp == "深夜":
        return h + 12 if h >= 8 else (24 if h == 12 else h + 24)
    if dp == "中午":
        return h + 12 if h <= 4 else h
    if dp in _PM_DP:
        if h == 12:
            return 24 if dp not in ("下午", "午后") else 12
        if dp in ("晚上", "晚间", "晚", "夜里", "夜晚", "夜", "夜间") and h <= 4:
            return h + 24
        return h + 12
    return h  # 早上 上午 清晨 早晨 白天 黎明


# a year-less date: last year's only when that is recent, this year's unless that is long past
_LAST_YEAR_BACK = timedelta(days=60)
_THIS_YEAR_BACK = timedelta(days=183)


def _pick_occurrence(today: date, cands: list[date | None], lean: str | None) -> date | None:
    """The occurrence of a year-less date the text means; ``cands`` are last year's, this year's and next
    year's (None where there is none).

    With a past cue the latest on or before today, with a future cue the first on or after today. With
    neither, this year's, as people name a date of another year with 去年/明年 — except a date of last
    year up to two months back (12月28号 sent in January) and a date of this year over half a year back,
    which means next year's (3月5号 sent in November); 9月1日 sent in November is the past September 1."""
    if lean == "past":
        past = [c for c in cands if c is not None and c <= today]
        return max(past) if past else None
    if lean == "future":
        fut = [c for c in cands if c is not None and c >= today]
        return min(fut) if fut else None
    prev, cur, nxt = cands
    if prev is not None and prev >= today - _LAST_YEAR_BACK:
        return prev
    if cur is not None and cur >= today - _THIS_YEAR_BACK:
        return cur
    return nxt


def _infer_year_md(today: date, mo: int, d: int, lean: str | None = None) -> date | None:
    cands: list[date | None] = []
    for y in (today.year - 1, today.year, today.year + 1):
        try:
            cands.append(date(y, mo, d))
        except ValueError:
            cands.append(None)
    return _pick_occurrence(today, cands, lean)


def _infer_year_month(today: date, mo: int, lean: str | None = None) -> int:
    if lean == "past":
        return today.year if mo <= today.month else today.year - 1
    if lean == "future":
        return today.year if mo >= today.month else today.year + 1
    # as a day of it (`_pick_occurrence`), counting from the month's last day: 9月 sent in November is
    # this September, 3月 next March, 12月 sent in January last December
    if _month_end(today.year - 1, mo) >= today - _LAST_YEAR_BACK:
        return today.year - 1
    if _month_end(today.year, mo) >= today - _THIS_YEAR_BACK:
        return today.year
    return today.year + 1


def _bday_add(d: date, n: int) -> date:
    step = 1 if n >= 0 else -1
    left = abs(n)
    while left:
        d += timedelta(days=step)
        if d.weekday() < 5:
            left -= 1
    return d


def _apply_delta(now: datetime, n: float, unit: str, sign: int) -> tuple[datetime, str]:
    base, mult = _unit_delta(unit)
    amount = n * mult * sign
    if base == "bday":
        return _at(_bday_add(now.date(), int(amount)), now.tzinfo), "day"
    if base == "day":
        days = amount
        whole = int(days)
        dt = now + timedelta(days=days)
        if days == whole:
            return _at(dt.date(), now.tzinfo), "day"
        return dt.replace(second=0, microsecond=0), "hour"
    if base == "month":
        whole = int(amount)
        d = _add_months(now.date(), whole)
        frac = amount - whole
        if frac:
            d = d + timedelta(days=round(frac * 30))
        return _at(d, now.tzinfo), "day"
    if base == "minute":
        dt = now + timedelta(minutes=amount)
        return dt.replace(second=0, microsecond=0), "minute"
    dt = now + timedelta(seconds=amount)
    return dt.replace(microsecond=0), "second"


def _offset_unit_start(dt: datetime, n: float, unit: str, past: bool) -> tuple[datetime, str] | None:
    """A whole number of years, or in the past of months, quarters or weeks, names that unit, not a day:
    三年前 / 三年后 sent in 2026 are the years 2023 / 2029, 两个月前 sent in November is September, 两周前
    the week (from its Monday) two weeks back. Future months and weeks keep their day (两个月后再联系 is a
    follow-up date); halves (3年半前) keep it too. None when the offset keeps its day."""
    base, mult = _unit_delta(unit)
    if n != int(n) or not (base == "month" or (base == "day" and mult == 7)):
        return None
    d = dt.date()
    if base == "month" and mult == 12:
        return _at(date(d.year, 1, 1), dt.tzinfo), "year"
    if not past:
        return None
    if base == "month":
        return _at(d.replace(day=1), dt.tzinfo), "month"
    return _at(d - timedelta(days=d.weekday()), dt.tzinfo), "week"


def _duration_delta(now: datetime, n: float, unit: str) -> tuple[datetime, str]:
    base, mult = _unit_delta(unit)
    amount = n * mult
    grain = {"bday": "day", "day": "day", "month": "month", "minute": "minute", "second": "second"}[base]
    if base == "day" and mult == 7:
        grain = "week"
    if base == "month" and mult == 12:
        grain = "year"
    if base == "minute" and mult == 60:
        grain = "hour"
    if base == "bday":
        return _at(_bday_add(now.date(), int(amount)), now.tzinfo).replace(
            hour=now.hour, minute=now.minute, second=now.second
        ), grain
    if base == "day":
        return now + timedelta(days=amount), grain
    if base == "month":
        whole = int(amount)
        d = _add_months(now.date(), whole)
        dt = datetime.combine(d, now.timetz())
        if amount - whole:
            dt += timedelta(days=round((amount - whole) * 30))
        return dt, grain
    if base == "minute":
        return now + timedelta(minutes=amount), grain
    return now + timedelta(seconds=amount), grain


def _finer(a: str, b: str) -> bool:
    order = ["year", "quarter", "month", "week", "day", "hour", "minute", "second"]
    return order.index(a) > order.index(b)


def resolve_fields(f: dict[str, Any], now: datetime) -> Resolved | None:
    """Resolve merged chain fields against ``now`` (tz-aware, already in the target zone)."""
    try:
        return _resolve_fields(f, now)
    except (ValueError, OverflowError):
        return None


def _resolve_fields(f: dict[str, Any], now: datetime) -> Resolved | None:  # noqa: C901
    tz = now.tzinfo
    today = now.date()
    if f.get("now"):
        return Resolved("point", now.replace(microsecond=0), None, "second")
    if "dur" in f:
        n, unit = f["dur"]
        dend, dgrain = _duration_delta(now, n, unit)
        return Resolved("duration", now, dend, dgrain)
    if f.get("same_day"):
        if "week" in f:
            sd = today + timedelta(days=7 * f["week"])
        elif "mrel" in f:
            sd = _add_months(today, f["mrel"])
        elif "yrel" in f:
            sd = _add_months(today, 12 * f["yrel"])
        else:
            return None
        return Resolved("point", _at(sd, tz), None, "day")
    if "poff" in f:
        if "m" in f or "mrel" in f:
            return _resolve_month_prefix(f, now)
        if "y" in f or "yrel" in f:
            return _resolve_year_prefix(f, now)
        return _resolve_poff(f["poff"], now)

    kind = "point"
    end: datetime | None = None
    day: date | None = None
    dateless = False
    grain = "day"
    hol_len = 1

    y = f.get("y")
    if y is None and "yrel" in f:
        y = today.year + f["yrel"]

    if "offset" in f:
        n, unit, suf = f["offset"]
        if suf in ("前", "之前", "以前"):
            dt, grain = _apply_delta(now, n, unit, -1)
            if grain in ("minute", "second") or "h" not in f:
                if "dp" not in f and (coarse := _offset_unit_start(dt, n, unit, past=True)) is not None:
                    return Resolved("point", coarse[0], None, coarse[1])
                return Resolved("point", dt, None, grain)
            day = dt.date()
        elif suf in ("内", "之内", "以内"):
            dt, grain = _apply_delta(now, n, unit, 1)
            return Resolved("deadline", dt, None, grain)
        elif suf == "以来":
            dt, grain = _apply_delta(now, n, unit, -1)
            if (coarse := _offset_unit_start(dt, n, unit, past=True)) is not None:
                dt, grain = coarse
            return Resolved("range", dt, now, grain)
        else:
            dt, grain = _apply_delta(now, n, unit, 1)
            if grain in ("minute", "second", "hour") or "h" not in f and "dp" not in f:
                if "h" not in f and "dp" not in f and (coarse := _offset_unit_start(dt, n, unit, past=False)):
                    return Resolved("point", coarse[0], None, coarse[1])
                return Resolved("point", dt, None, grain)
            day = dt.date()
    elif "en_end" in f:
        return _resolve_en_end(f["en_end"], now)
    elif "hol" in f:
        key = f["hol"]
        years = [y] if y is not None else [today.year - 1, today.year, today.year + 1]
        if y is None and f.get("lean") == "past":
            # "春节前已经发货了": the latest one that has begun
            years.reverse()
        for yy in years:
            r = _holiday_date(key, yy)
            if r is None:
                continue
            d0, hol_len = r
            last = d0 + timedelta(days=hol_len - 1) if f.get("bound") == "后" else d0
            if y is not None or (d0 <= today if f.get("lean") == "past" else last >= today):
                day = d0
                break
        if day is None:
            return None
        day += timedelta(days=f.get("hol_off", 0))
    elif "decade" in f:
        return _decade_range(f["decade"], today, tz)
    elif "season" in f:
        return _season_range(f["season"], y, today, tz)
    elif "lunar" in f:
        lm, ld, lleap = f["lunar"]
        if y is not None:
            day = _lunar_solar(y, lm, ld or 1, lleap)
        else:
            cands = [
                _lunar_solar(yy, lm, ld or 1, lleap) for yy in (today.year - 1, today.year, today.year + 1)
            ]
            day = _pick_occurrence(today, cands, f.get("lean"))
        if day is None:
            return None
        if ld is None and "h" not in f:
            return Resolved("point", _at(day, tz), None, "month")
    elif "drel" in f:
        day = today + timedelta(days=f["drel"])
    elif "d" in f and ("m" in f or "mrel" in f):
        if "mrel" in f:
            base = _add_months(today.replace(day=1), f["mrel"])
            yy, mo = base.year, base.month
        else:
            mo = f["m"]
            yy = y
        try:
            if yy is None:
                day = _infer_year_md(today, mo, f["d"], f.get("lean"))
                if day is None:
                    return None
            else:
                day = date(yy, mo, f["d"])
        except ValueError:
            return None
    elif "nth" in f:
        n, what = f["nth"]
        if "m" in f or "mrel" in f:
            if "mrel" in f:
                first = _add_months(today.replace(day=1), f["mrel"])
            else:
                first = date(y if y is not None else _infer_year_month(today, f["m"]), f["m"], 1)
        elif y is not None:
            first = date(y, 1, 1)
        elif what == "d" and n > 0:
            # "第三天上午": counted like 第二天 (= the next day), day one being today
            first = today
        else:
            return None
        if n < 0:
            # "最后一天", "最后一个星期五" of that month (or year)
            in_month = "m" in f or "mrel" in f
            last = _month_end(first.year, first.month) if in_month else date(first.year, 12, 31)
            if what == "d":
                day = last
            elif what is None:
                return None
            else:
                day = last - timedelta(days=(last.weekday() - what) % 7)
        elif what == "d":
            day = first + timedelta(days=n - 1)
        elif what is None:
            monday = first + timedelta(days=(-first.weekday()) % 7) + timedelta(days=7 * (n - 1))
            if "h" not in f and "dp" not in f:
                return Resolved("range", _at(monday, tz), _at(monday + timedelta(days=7), tz), "week")
            day = monday
        else:
            day = first + timedelta(days=(what - first.weekday()) % 7) + timedelta(days=7 * (n - 1))
    elif "wk" in f:
        rel, wd = f["wk"]
        monday = today - timedelta(days=today.weekday())
        if rel is None:
            # the coming X (today included); with a past cue the latest X ("周一已经发了" sent on a Wednesday)
            day = today + timedelta(days=(wd - today.weekday()) % 7)
            if f.get("lean") == "past" and day > today:
                day -= timedelta(days=7)
        else:
            day = monday + timedelta(days=7 * rel + wd)
    elif "week" in f:
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7 * f["week"])
        wpart = f.get("wpart")
        if wpart == "末":
            s = _at(monday + timedelta(days=5), tz)
            return Resolved("range", s, _at(monday + timedelta(days=7), tz), "day")
        if wpart == "内":
            return Resolved("deadline", _at(monday + timedelta(days=6), tz), None, "day")
        if wpart == "初":
            return Resolved("range", _at(monday, tz), _at(monday + timedelta(days=3), tz), "day")
        return Resolved("point", _at(monday, tz), None, "week")
    elif "m" in f or "mrel" in f:
        if "mrel" in f:
            base = _add_months(today.replace(day=1), f["mrel"])
            yy, mo = base.year, base.month
        else:
            mo = f["m"]
            yy = y if y is not None else _infer_year_month(today, mo, f.get("lean"))
        if "mpart" in f:
            return _mpart_range(yy, mo, f["mpart"], tz)
        if "h" not in f:
            return Resolved("point", _at(date(yy, mo, 1), tz), None, "month")
        day = date(yy, mo, 1)
    elif "qrel" in f:
        q0 = (today.month - 1) // 3
        base = _add_months(date(today.year, q0 * 3 + 1, 1), 3 * f["qrel"])
        return _quarter_range(base.year, (base.month - 1) // 3 + 1, f.get("qsub"), tz)
    elif "ypart" in f:
        yr = _ypart_range(y if y is not None else today.year, f["ypart"], tz)
        if y is None and yr.end is not None and yr.end <= now:
            # a part of the year that is over: the nearer of this year's and next year's ("年初再说" or
            # "一季度" sent in November is next year's; "一季度" sent in June is this year's)
            r_next = _ypart_range(today.year + 1, f["ypart"], tz)
            if r_next.start - now < now - yr.end:
                yr = r_next
        return yr
    elif y is not None:
        if "h" not in f:
            return Resolved("point", _at(date(y, 1, 1), tz), None, "year")
        day = date(y, 1, 1)
    elif "mpart" in f:
        mr = _mpart_range(today.year, today.month, f["mpart"], tz)
        if mr.end is not None and mr.end <= now:
            # "月中" or "月初" sent on the 29th: next month's
            nxt = _add_months(today.replace(day=1), 1)
            mr = _mpart_range(nxt.year, nxt.month, f["mpart"], tz)
        return mr
    elif "d" in f:
        try:
            day = date(today.year, today.month, f["d"])
        except ValueError:
            day = None
        lean = f.get("lean")
        if lean == "past" and (day is None or day > today):
            # "8号已经发了" sent on the 5th: last month's 8th
            prv = _add_months(today.replace(day=1), -1)
            try:
                day = date(prv.year, prv.month, f["d"])
            except ValueError:
                return None
        elif lean != "past" and (day is None or day < today - timedelta(days=0 if lean == "future" else 7)):
            nxt = _add_months(today.replace(day=1), 1)
            try:
                day = date(nxt.year, nxt.month, f["d"])
            except ValueError:
                return None
    else:
        day = today
        dateless = True

    if day is None:
        return None

    # time of day
    if "can5" in f:
        if "dp" not in f:
            return None  # "二十七点三", "三点三": a decimal
        f = {**f, "mi": f["can5"]}
    if "h" in f:
        h = _hour24(f["h"], f.get("dp"), f.get("ap"))
        mi = f.get("mi", 0)
        sec = f.get("sec", 0)
        start = _at(day, tz, h, mi, sec)
        if f.get("prefer") == "future" and dateless and start < now:
            start = _at(day + timedelta(days=1), tz, h, mi, sec)  # the caller asked for the next one
        elif f.get("prefer") == "past" and dateless and start > now:
            start = _at(day - timedelta(days=1), tz, h, mi, sec)
        elif (
            dateless
            and f.get("lean") != "past"
            and start < now - _PAST_GRACE
            and _day_part_over(f.get("dp"), day, now)
        ):
            # a clock time with no date that is well past today is the next one ("4点开会" or "下午4点开会"
            # sent on a Sunday at 21:30 is Monday 16:00); a just-past time, or one in a day part that is not
            # over yet, stays today ("3点的会" sent at 15:20, "早上8点" sent at 9:12)
            start = _at(day + timedelta(days=1), tz, h, mi, sec)
        if "h2" in f:
            return Resolved("range", start, start + timedelta(hours=f["h2"] - f["h"] + 1), "hour")
        grain = "second" if "sec" in f else ("minute" if "mi" in f else "hour")
        return Resolved("point", start, None, grain)
    if "dp" in f:
        a, b = _DP_RANGE.get(f["dp"], (0, 24))
        return Resolved("range", _at(day, tz, a), _at(day, tz, b), "hour")
    return Resolved(kind, _at(day, tz), end, grain)


def _decade_range(
    spec: tuple[int | None, bool, int | None, str | None], today: date, tz: tzinfo | None
) -> Resolved | None:
    cent, up, dec, sub = spec
    if up:
        cent = today.year // 100  # 上世纪 in 2026 is the 20th century
    if dec is None:
        if cent is None:
            return None
        a, span = (cent - 1) * 100, 100
    else:
        if cent is not None:
            a = (cent - 1) * 100 + dec
        else:  # "80年代": the latest such decade that has begun
            a = (today.year // 100) * 100 + dec
            if a > today.year:
                a -= 100
        span = 10
    if sub == "begin":
        b = a + max(3, span // 10)
    elif sub == "end":
        a, b = a + span - max(3, span // 10), a + span
    elif sub == "mid":
        a, b = a + span // 3, a + span - span // 3
    else:
        b = a + span
    if not 1 <= a < b <= 9999:
        return None
    return Resolved("range", _at(date(a, 1, 1), tz), _at(date(b, 1, 1), tz), "year")


_SEASON_OPEN = ("立春", "立夏", "立秋", "立冬")


def _season_range(idx: int, y: int | None, today: date, tz: tzinfo | None) -> Resolved | None:
    """Season ``idx`` (0 spring .. 3 winter; -1 the summer holidays, July and August) of year ``y``, or the
    current or next one."""
    for cy in [y] if y is not None else [today.year - 1, today.year, today.year + 1]:
        if idx < 0:
            a, b = date(cy, 7, 1), date(cy, 9, 1)
        else:
            a0 = solar_terms.term_date(_SEASON_OPEN[idx], cy)
            b0 = solar_terms.term_date(_SEASON_OPEN[(idx + 1) % 4], cy + (idx == 3))
            if a0 is None or b0 is None:
                return None
            a, b = a0, b0
        if y is not None or b > today:
            return Resolved("range", _at(a, tz), _at(b, tz), "day")
    return None


def _ypart_range(yy: int, ypart: tuple[str, int, str | None], tz: tzinfo | None) -> Resolved:
    part, n, sub = ypart
    if part == "q":
        return _quarter_range(yy, n, sub, tz)
    if part == "half":
        s = _at(date(yy, 1 if n == 1 else 7, 1), tz)
        return Resolved("range", s, _at(_add_months(s.date(), 6), tz), "month")
    if part == "end":
        return Resolved("range", _at(date(yy, 11, 1), tz), _at(date(yy + 1, 1, 1), tz), "month")
    if part == "begin":
        return Resolved("range", _at(date(yy, 1, 1), tz), _at(date(yy, 3, 1), tz), "month")
    return Resolved("range", _at(date(yy, 6, 1), tz), _at(date(yy, 8, 1), tz), "month")


def _mpart_range(y: int, mo: int, part: str, tz: tzinfo | None) -> Resolved:
    last = calendar.monthrange(y, mo)[1]
    a, b = {
        "begin": (1, 6),
        "first": (1, 11),
        "mid": (11, 21),
        "last": (21, last + 1),
        "end": (25, last + 1),
    }[part]
    s = _at(date(y, mo, a), tz)
    e = _at(date(y, mo, last), tz) + timedelta(days=1) if b > last else _at(date(y, mo, b), tz)
    return Resolved("range", s, e, "day")


def _quarter_range(y: int, q: int, sub: str | None, tz: tzinfo | None) -> Resolved:
    first = date(y, 3 * (q - 1) + 1, 1)
    if sub == "end":
        s = _add_months(first, 2)
        return Resolved("range", _at(s, tz), _at(_add_months(s, 1), tz), "month")
    if sub == "begin":
        return Resolved("range", _at(first, tz), _at(_add_months(first, 1), tz), "month")
    return Resolved("range", _at(first, tz), _at(_add_months(first, 3), tz), "quarter")


def _resolve_en_end(spec: tuple[str, int], now: datetime) -> Resolved:
    unit, rel = spec
    tz = now.tzinfo
    today = now.date()
    if unit in ("eod", "cob", "eob", "day"):
        return Resolved("deadline", _at(today, tz, 18), None, "hour")
    if unit in ("eow", "week"):
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7 * rel)
        return Resolved("deadline", _at(monday + timedelta(days=4), tz), None, "day")
    if unit in ("eom", "month"):
        base = _add_months(today.replace(day=1), rel)
        return Resolved("deadline", _at(_month_end(base.year, base.month), tz), None, "day")
    if unit in ("eoq", "quarter"):
        q0 = (today.month - 1) // 3
        base = _add_months(date(today.year, q0 * 3 + 1, 1), 3 * rel + 2)
        return Resolved("deadline", _at(_month_end(base.year, base.month), tz), None, "day")
    return Resolved("deadline", _at(date(today.year + rel, 12, 31), tz), None, "day")


def _resolve_year_prefix(f: dict[str, Any], now: datetime) -> Resolved | None:
    """ "2021年前两个季度", "今年前三季度", "二零二一年后三月": the first/last N months of a year."""
    p, n, unit = f["poff"]
    base, mult = _unit_delta(unit)
    if base != "month" or p not in ("前", "后"):
        return None
    y = f["y"] if "y" in f else now.year + f["yrel"]
    k = int(n * mult)
    if not 0 < k <= 12:
        return None
    tz = now.tzinfo
    if p == "前":
        return Resolved("range", _at(date(y, 1, 1), tz), _at(_add_months(date(y, 1, 1), k), tz), "month")
    return Resolved("range", _at(date(y, 13 - k, 1), tz), _at(date(y + 1, 1, 1), tz), "month")


def _resolve_month_prefix(f: dict[str, Any], now: datetime) -> Resolved | None:
    """ "4月前4天", "上月最后五天": the first or last N days of a month."""
    p, n, _unit = f["poff"]
    today = now.date()
    if "mrel" in f:
        first = _add_months(today.replace(day=1), f["mrel"])
    else:
        yy = (
            f["y"]
            if "y" in f
            else (today.year + f["yrel"] if "yrel" in f else _infer_year_month(today, f["m"]))
        )
        first = date(yy, f["m"], 1)
    k = int(n)
    last = _month_end(first.year, first.month)
    if not 0 < k <= last.day:
        return None
    tz = now.tzinfo
    if p == "前":
        return Resolved("range", _at(first, tz), _at(first + timedelta(days=k), tz), "day")
    return Resolved("range", _at(last - timedelta(days=k - 1), tz), _at(last + timedelta(days=1), tz), "day")


def _resolve_poff(spec: tuple[str, float, str], now: datetime) -> Resolved | None:
    p, n, unit = spec
    tz = now.tzinfo
    base, mult = _unit_delta(unit)
    if p in ("未来", "接下来", "今后", "往后"):
        end, grain = _duration_delta(now, n, unit)
        return Resolved("range", now, end, grain)
    if p == "最后":
        return None  # "最后3天" of what? only after a month ("上月最后五天")
    if p in ("最近", "近", "过去", "过去的"):
        start, grain = _duration_delta(now, -n, unit)
        if base in ("day", "bday", "month"):
            start = _at(start.date(), tz)  # "近三个月": whole days
        return Resolved("range", start, now, grain)
    sign = -1 if p in ("前", "上") else 1
    if base in ("day", "bday", "month"):
        if base == "day" and mult == 7:
            monday = now.date() - timedelta(days=now.weekday())
            if sign < 0:
                return Resolved(
                    "range", _at(monday - timedelta(days=7 * int(n)), tz), _at(monday, tz), "week"
                )
            return Resolved(
                "range",
                _at(monday + timedelta(days=7), tz),
                _at(monday + timedelta(days=7 * (int(n) + 1)), tz),
                "week",
            )
        if base == "month" and mult == 12:
            y0 = now.year
            k = int(n)
            if sign < 0:
                return Resolved("range", _at(date(y0 - k, 1, 1), tz), _at(date(y0, 1, 1), tz), "year")
            return Resolved("range", _at(date(y0 + 1, 1, 1), tz), _at(date(y0 + 1 + k, 1, 1), tz), "year")
        if base == "month":
            first = now.date().replace(day=1)
            k = int(n * mult)
            if sign < 0:
                return Resolved("range", _at(_add_months(first, -k), tz), _at(first, tz), "month")
            return Resolved(
                "range", _at(_add_months(first, 1), tz), _at(_add_months(first, 1 + k), tz), "month"
            )
        days = int(n * mult)
        if sign < 0:
            return Resolved("range", _at(now.date() - timedelta(days=days), tz), _at(now.date(), tz), "day")
        return Resolved(
            "range",
            _at(now.date() + timedelta(days=1), tz),
            _at(now.date() + timedelta(days=1 + days), tz),
            "day",
        )
    # hours / minutes / seconds
    if base == "minute":
        step = timedelta(minutes=mult)
        cur = now.replace(second=0, microsecond=0)
        if mult == 60:
            cur = cur.replace(minute=0)
        grain = "hour" if mult == 60 else "minute"
    else:
        step = timedelta(seconds=1)
        cur = now.replace(microsecond=0)
        grain = "second"
    k = int(n)
    if sign < 0:
        return Resolved("range", cur - step * k, cur, grain)
    return Resolved("range", cur + step, cur + step * (k + 1), grain)


# ---------------------------------------------------------------------------------------------------------
# extraction


def _merge_fields(atoms: list[Atom]) -> dict[str, Any]:
    f: dict[str, Any] = {}
    for a in atoms:
        for k, v in a.f.items():
            if k == "dp" and "dp" in f and f["dp"] == "24":
                continue
            f.setdefault(k, v)
    return f


def _chain_ok(chain: Chain, nxt: Atom, text: str) -> bool:
    if (
        nxt.kind == "reld"
        and nxt.f.get("drel") == 0
        and len(chain.atoms) == 1
        and chain.atoms[0].kind in ("week", "yrel", "mrel", "en_week")
        and len(chain.atoms[0].f) == 1
        and text[chain.end : nxt.start] in ("的", "")
    ):
        # "下周的今天", "明年的今天": the same day a week / month / year away
        nxt.f = {"same_day": True}
        nxt.slots = frozenset()
        return True
    if not nxt.chainable or not all(a.chainable for a in chain.atoms):
        # an offset may be followed by a day part / clock time ("六天后的3时1刻");
        # a year by "前三季度" ("今年前三季度")
        ok = chain.atoms[-1].kind == "offset" and nxt.kind in ("dp", "clock", "hm", "en_clock")
        ok = ok or (
            len(chain.atoms) == 1
            and chain.atoms[0].kind in ("year", "yrel", "month", "mrel")
            and nxt.kind == "poff"
            and nxt.f["poff"][0] in ("前", "后", "最后")
            and (chain.atoms[0].kind in ("year", "yrel") or nxt.f["poff"][2] in ("天", "日"))
            and not ({"d", "mpart"} & chain.atoms[0].f.keys())
        )
        if not ok:
            return False
        if nxt.kind == "poff":
            return not text[chain.end : nxt.start].strip()
    gap = text[chain.end : nxt.start]
    en = nxt.en or chain.atoms[-1].en
    if not (_GAP_CJK.match(gap) or (en and _GAP_EN.match(gap))):
        return False
    # a weekday after a full date is redundant but fine ("6月1日周六"); every other overlap clashes
    return not (chain.slots & nxt.slots) or (nxt.slots == frozenset("W") and "W" not in chain.slots)


def _build_chains(atoms: list[Atom], text: str) -> list[Chain]:
    chains: list[Chain] = []
    for a in atoms:
        if chains and _chain_ok(chains[-1], a, text):
            c = chains[-1]
            c.atoms.append(a)
            c.end = a.end
        else:
            chains.append(Chain([a], a.start, a.end))
    for c in chains:
        c.f = _merge_fields(c.atoms)
    return chains


def _is_weak_chain(c: Chain, text: str) -> bool:
    """True when a chain made of ambiguous atoms only should not count as a time."""
    if any(not a.weak for a in c.atoms):
        return False
    if len(c.atoms) > 1 and {a.kind for a in c.atoms} >= {"year", "nth"}:
        return False  # "20年第52周", "70年第8个月"
    a = c.atoms[0]
    before = text[max(0, c.start - 6) : c.start]
    after = text[c.end : c.end + 6]
    if a.kind == "clock":
        if _BARE_CLOCK_BAD_PREV.search(before) or _BARE_CLOCK_BAD_NEXT.match(after):
            return True
        raw = text[a.start : a.end]
        if raw[0] == "一" and len(c.atoms) == 1 and "mi" not in a.f:
            # "一点" is nearly always "a little"
            return not re.match(r"^(?:钟|前|后|左右|之前|以前|到|开|见|整)", after)
        return raw[0] in "零〇" and "mi" not in a.f
    if a.kind == "clock2":
        return True
    if a.kind in ("md", "mdd"):
        if len(c.atoms) == 1 and not text[: c.start].strip() and not text[c.end :].strip():
            # the whole message is "6/30", "6·30" or "09-01": a date (but "3.5" alone stays a number)
            return a.kind == "md" and text[a.start : a.end].find(".") >= 0
        if _SUFFIX.match(after) and not after.startswith(("后", "之后", "以后")):
            return False
        return not _PREFIX_MD_CTX.search(before)
    return True  # single-char day part, 2-digit year, "in the morning"


def _resolve_chain(c: Chain, now: datetime) -> Resolved | None:
    return resolve_fields(c.f, now)


def _inherit(f2: dict[str, Any], f1: dict[str, Any], r1: Resolved) -> dict[str, Any]:
    f = dict(f2)
    date_keys = (
        "y",
        "yrel",
        "m",
        "mrel",
        "d",
        "drel",
        "hol",
        "wk",
        "week",
        "mpart",
        "ypart",
        "qrel",
        "offset",
    )
    has_date = any(k in f for k in date_keys)
    if not has_date:
        if "h" in f or "dp" in f:
            f["_date"] = r1.start.date()
            if "dp" not in f and "dp" in f1:
                f["dp"] = f1["dp"]
            if "dp" not in f and "ap" not in f and "ap" in f1:
                f["ap"] = f1["ap"]
    else:
        if "y" not in f and "yrel" not in f and "m" in f:
            f["y"] = r1.start.year
        if "d" in f and "m" not in f and "mrel" not in f and not any(k in f for k in ("y", "yrel")):
            f["y"] = r1.start.year
            f["m"] = r1.start.month
        if "wk" in f and f["wk"][0] is None and "wk" in f1 and f1["wk"][0] is not None:
            f["wk"] = (f1["wk"][0], f["wk"][1])  # "下周三到周五": Friday of that same week
    return f


def _resolve_with_date(f: dict[str, Any], now: datetime) -> Resolved | None:
    if "_date" in f:
        d = f.pop("_date")
        f = dict(f)
        f["y"], f["m"], f["d"] = d.year, d.month, d.day
    return resolve_fields(f, now)


def _range_end(r2: Resolved) -> datetime:
    if r2.kind == "range" and r2.end is not None:
        return r2.end
    if r2.grain in ("hour", "minute", "second"):
        return r2.start
    return _period_end(r2.start, r2.grain)


def _deadline(r: Resolved) -> Resolved:
    if r.kind == "deadline":
        return r
    if r.grain in ("hour", "minute", "second"):
        bound = r.end if (r.kind == "range" and r.end is not None and r.grain == "hour") else r.start
        return Resolved("deadline", bound, None, r.grain)
    end = r.end if (r.kind == "range" and r.end is not None) else _period_end(r.start, r.grain)
    last = end - timedelta(days=1)
    return Resolved("deadline", _at(last.date(), r.start.tzinfo), None, "day")


def _load_fold() -> dict[int, int]:
    raw = "".join(
        ln.strip()
        for ln in Path(__file__).with_name("trad_chars.txt").read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    )
    return {ord(raw[i]): ord(raw[i + 1]) for i in range(0, len(raw) - 1, 2)}


_FOLD = _load_fold()


# Cantonese time words `nlp.normalize` does not rewrite (same length)
_CANTONESE = {"月尾": "月底", "年尾": "年底", "旧年": "去年", "点正": "点整"}
_CANTONESE_RE = re.compile("|".join(_CANTONESE))


def fold(text: str) -> str:
    """Same-length fold of the traditional characters `nlp.normalize` leaves alone."""
    return text.translate(_FOLD)


def _fold_all(norm: str) -> str:
    out = norm.translate(_FOLD)
    if _CANTONESE_RE.search(out):
        out = _CANTONESE_RE.sub(lambda m: _CANTONESE[m.group(0)], out)
    return out


# an expression that leaves its year, month or week open reads the tense of its clause (`nlp.tense`)
_OPEN_FIELDS = frozenset({"d", "m", "lunar", "hol", "wk", "h"})
_FIXING_FIELDS = frozenset({"y", "yrel", "drel", "mrel", "offset", "week", "now", "dur", "poff", "qrel"})


def _set_lean(chains: list[Chain], norm: str, prefer: str | None) -> None:
    """Mark each open-ended chain with the tense of its clause ("lean"), else the caller's ``prefer``."""
    for c in chains:
        keys = c.f.keys()
        if keys & _FIXING_FIELDS or not keys & _OPEN_FIELDS:
            continue
        lean = clause_lean(norm, c.start, c.end) or prefer
        if lean is not None:
            c.f["lean"] = lean
        if prefer is not None:
            c.f["prefer"] = prefer


def extract_times(norm: str, now: datetime, prefer: str | None = None) -> list[TimeHit]:
    """Find and resolve the time expressions in normalised text ``norm``.

    ``prefer`` ("future" / "past") is the caller's reading of an expression whose year, month, week or day
    the text leaves open and no tense cue settles (None: our conventions, see README)."""
    norm = _fold_all(norm)
    atoms: list[Atom] = []
    for m in _MASTER_SCAN.finditer(norm):
        a = _atom_from_match(m)
        if a is not None:
            atoms.append(a)
    if not atoms:
        return []
    chains = _build_chains(atoms, norm)
    _set_lean(chains, norm, prefer)
    hits: list[TimeHit] = []
    last_chain = -1
    i = 0
    while i < len(chains):
        c = chains[i]
        ci = i
        start, end = c.start, c.end
        r: Resolved | None = None
        # number-led range: "9~12点半", "下午1-3点", "2018年1-9月"
        first = c.atoms[0]
        fld = "h" if first.kind in ("clock", "hm") and "h" in c.f else ""
        if first.kind == "month" and "d" not in c.f and "mpart" not in c.f:
            fld = "m"
        if fld:
            mnum = _NUM_CONNECT.search(norm, max(0, c.start - 8), c.start)
            if mnum and mnum.end() == c.start:
                n = cn2num(mnum.group("n"))
                if n is not None and (0 <= n <= 24 if fld == "h" else 1 <= n < c.f["m"]):
                    f1: dict[str, Any] = {fld: int(n)}
                    pstart = mnum.start()
                    if i > 0 and chains[i - 1].end == mnum.start() and fld not in chains[i - 1].f:
                        f1 = {**chains[i - 1].f, fld: int(n)}
                        pstart = chains[i - 1].start
                        if hits and last_chain == i - 1:
                            hits.pop()
                    elif "dp" in c.f:
                        f1["dp"] = c.f["dp"]
                    for k in ("lean", "prefer"):
                        if k in c.f:
                            f1.setdefault(k, c.f[k])
                    r1 = resolve_fields(f1, now)
                    if r1 is not None:
                        r2 = _resolve_with_date(_inherit(c.f, f1, r1), now)
                        if r2 is not None:
                            e2 = _fix_end(r1, r2, c.f)
                            if e2 is not None:
                                r = Resolved("range", r1.start, e2, r1.grain)
                                start = pstart
        if r is None:
            if _is_weak_chain(c, norm):
                i += 1
                continue
            r = _resolve_chain(c, now)
            # range "X 到 Y"
            if r is not None and i + 1 < len(chains) and r.kind in ("point", "range"):
                c2 = chains[i + 1]
                gap = norm[c.end : c2.start]
                if _CONNECT.match(gap) and not ("-" in gap and c2.atoms[0].kind == "dur"):
                    r2 = _resolve_with_date(_inherit(c2.f, c.f, r), now)
                    if r2 is not None and r2.kind in ("point", "range"):
                        e2 = _fix_end(r, r2, c2.f)
                        if e2 is not None:
                            r = Resolved("range", r.start, e2, r.grain)
                            end = c2.end
                            i += 1
        i += 1
        if r is None:
            continue
        # modifiers: a leading "by/截止" or "每", a trailing "前/后/内/左右"
        pm = _PREFIX_DL.search(norm, max(0, start - 16), start)
        sm = _SUFFIX.match(norm, end)
        if sm and r.kind in ("point", "range") and c.atoms[-1].kind not in ("offset",):
            if sm.group("dl") or sm.group("within"):
                r = _deadline(r)
            elif sm.group("af") and "hol" in c.f:
                hl = _holiday_len(c.f["hol"])
                r = Resolved("point", r.start + timedelta(days=hl), None, "day")
            end = sm.end()
        elif "bound" in c.f and r.kind == "point":
            r = _deadline(r) if c.f["bound"] in ("前", "内") else r
        if pm and r.kind in ("point", "range", "deadline"):
            r = _deadline(r)
            start = pm.start() + (len(pm.group(0)) - len(pm.group(0).lstrip()))
        setm = _PREFIX_SET.search(norm, max(0, start - 8), start)
        if setm:
            r = Resolved("set", r.start, None, r.grain)
            start = setm.start()
        elif r.kind == "range" or norm[start:end].endswith("起"):
            # "从2015年1月至12月", "自5月26日至29日止", "从去年9月起"
            if start > 0 and norm[start - 1] in "从自":
                start -= 1
            if r.kind == "range" and norm[end : end + 1] == "止":
                end += 1
        elif r.kind == "duration":
            # "3~6个月", "100到200个小时": a duration range (the longer bound is kept)
            mnum = _NUM_CONNECT_DUR.search(norm, max(0, start - 12), start)
            if mnum and mnum.end() == start and cn2num(mnum.group("n")) is not None:
                start = mnum.start()
            elif (
                i < len(chains)
                and chains[i].atoms[0].kind == "dur"
                and norm[end : chains[i].start] in ("", "零", "又")
                and r.end is not None
            ):
                # "四年六个月", "36天5小时": one duration
                r2 = _resolve_chain(chains[i], now)
                if r2 is not None and r2.kind == "duration" and r2.end is not None:
                    r = Resolved("duration", r.start, r.end + (r2.end - r2.start), r.grain)
                    end = chains[i].end
                    i += 1
            elif (
                i < len(chains)
                and chains[i].atoms[0].kind == "dur"
                and _CONNECT.match(norm[end : chains[i].start])
            ):
                # "3天——8天"
                r2 = _resolve_chain(chains[i], now)
                if r2 is not None and r2.kind == "duration":
                    r, end = r2, chains[i].end
                    i += 1
        if r.grain in ("hour", "minute", "second") and r.kind in ("point", "range", "deadline"):
            # an explicit zone: "4pm CET", "3pm PST", "北京时间下午3点"
            zm = _ZONE_AFTER.match(norm, end)
            zp = None if zm else _ZONE_BEFORE.search(norm, max(0, start - 6), start)
            zone = _zone_of(zm or zp)
            if zone is not None:
                r = Resolved(
                    r.kind,
                    r.start.replace(tzinfo=zone).astimezone(now.tzinfo),
                    None if r.end is None else r.end.replace(tzinfo=zone).astimezone(now.tzinfo),
                    r.grain,
                )
                if zm:
                    end = zm.end()
                else:
                    start = zp.start()  # type: ignore[union-attr]
        if r.kind == "duration":
            dm = _DUR_SUFFIX.match(norm, end)
            if dm:
                end = dm.end()  # "三十年以上", "六个月以下"
        elif norm[start:end].endswith("起") and r.kind in ("point", "range"):
            um = _UNTIL_NOW.match(norm, end)
            if um and r.start < now:
                r = Resolved("range", r.start, now, r.grain)  # "从2001年起至今"
                end = um.end()
        hits.append(TimeHit((start, end), r.kind, r.start, r.end, r.grain))
        last_chain = ci
    return hits


# zone abbreviations that name one offset (CST and IST are ambiguous and left alone)
_ZONE_HOURS = {
    "utc": 0, "gmt": 0, "bst": 1, "cet": 1, "cest": 2, "eet": 2, "eest": 3, "msk": 3, "est": -5, "edt": -4,
    "pst": -8, "pdt": -7, "mst": -7, "mdt": -6, "jst": 9, "kst": 9, "hkt": 8, "sgt": 8, "北京时间": 8,
    "东京时间": 9,
}  # fmt: skip
_ZONE_AFTER = re.compile(
    r"\s?\(?(?P<z>utc|gmt|bst|cet|cest|eet|eest|msk|est|edt|pst|pdt|mst|mdt|jst|kst|hkt|sgt)"
    r"(?:\s?(?P<zs>[+-])(?P<zh>\d{1,2})(?::?(?P<zm>[0-5]\d))?)?\b\)?",
    re.IGNORECASE,
)
_ZONE_BEFORE = re.compile(r"(?P<z>北京时间|东京时间)\s?$")


def _zone_of(m: re.Match[str] | None) -> tzinfo | None:
    if m is None:
        return None
    hours = _ZONE_HOURS.get(m.group("z").lower())
    if hours is None:
        return None
    minutes = 60 * hours
    gd = m.groupdict()
    if gd.get("zs"):
        extra = 60 * int(gd["zh"]) + int(gd.get("zm") or 0)
        minutes += extra if gd["zs"] == "+" else -extra
    if not -16 * 60 < minutes < 16 * 60:
        return None
    return timezone(timedelta(minutes=minutes))


def _holiday_len(key: str) -> int:
    if key.startswith("w:"):
        return world_holidays.LENGTH.get(key.split(":")[1], 1)
    spec = _HOLIDAY_DEF.get(key)
    return spec[2] if spec else 1


def _fix_end(r1: Resolved, r2: Resolved, f2: dict[str, Any]) -> datetime | None:
    """End of the range r1 .. r2, moved past r1's start; None when the written end cannot follow the start."""
    e = _range_end(r2)
    if e > r1.start:
        return e
    if "y" in f2 or "yrel" in f2:
        return None  # "2026年3月到2025年5月": an explicit year that ends before the start
    if r2.grain in ("hour", "minute", "second"):
        if "dp" not in f2 and "ap" not in f2 and e + timedelta(hours=12) > r1.start:
            return e + timedelta(hours=12)
        while e <= r1.start:
            e += timedelta(days=1)
        return e
    if "m" in f2 or "mrel" in f2:
        while e <= r1.start:
            e = e.replace(year=e.year + 1)
        return e
    if "wk" in f2:
        while e <= r1.start:
            e += timedelta(days=7)
        return e
    while e <= r1.start:
        e = _at(_add_months(e.date(), 1), e.tzinfo)
    return e
