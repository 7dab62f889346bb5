"""Length-preserving text normalisation: traditional → simplified for the characters our rules read,
Cantonese day words → Mandarin, full-width digits/punctuation → ASCII.

Every replacement keeps the text length unchanged so that spans found on the normalised text are
spans of the original text as well.
"""

from __future__ import annotations

import re

_TRAD = (
    "點点號号週周禮礼個个後后鐘钟時时兩两這这節节慶庆國国曆历農农閏闰聖圣誕诞陽阳歷历晝昼勞劳動动兒儿婦妇"
    "軍军萬万開开會会電电話话視视頻频約约見见談谈議议們们對对樣样臺台發发貨货價价題题錢钱還还給给過过裡里"
    "裏里為为來来機机單单間间現现當当從从歲岁頭头將将內内於于與与試试訂订庫库質质務务應应陳陈張张劉刘趙赵"
    "孫孙吳吴鄭郑馮冯楊杨黃黄許许韓韩馬马經经總总闆板準准備备門门團团隊队東东燈灯紀纪實实際际溝沟簽签訪访"
    "飯饭層层樓楼區区幾几倆俩歸归權权費费聯联麼么讓让換换競竞爭争貴贵壞坏損损運运輸输據据場场範范計计劃划"
    "報报製制選选擇择難难剛刚纔才雙双預预戰战舊旧長长遲迟延延達达邊边處处態态務务齊齐課课週周鐘钟禮礼"
    "拜拜晚晚淩凌極极壓压賬账結结續续庫库衝冲撥拨餘余產产銷销貨货質质牌牌陳陈題题問问戶户贈赠購购級级"
    "聽听尋寻噚噚夠够暫暂週周學学習习訓训訊讯術术體体驗验戲戏廣广舉举補补幣币減减漲涨調调標标準准條条規规師师醫医療疗備备繫系屆届"
)
_TRANS: dict[int, int | str] = {ord(_TRAD[i]): _TRAD[i + 1] for i in range(0, len(_TRAD) - 1, 2)}
_TRANS.update({0xFF10 + i: ord("0") + i for i in range(10)})  # full-width digits
_TRANS.update(
    {
        ord("："): ":",
        ord("～"): "~",
        ord("－"): "-",
        ord("／"): "/",
        ord("．"): ".",
        ord("　"): " ",
        ord("\u00a0"): " ",
        ord("﹣"): "-",
        ord("（"): "(",
        ord("）"): ")",
    }
)
# full-width Latin letters
_TRANS.update({0xFF21 + i: ord("A") + i for i in range(26)})
_TRANS.update({0xFF41 + i: ord("a") + i for i in range(26)})

# same-length multi-character rewrites (applied after the character map)
_MULTI = {
    "听日": "明日",
    "寻日": "昨日",
    "琴日": "昨日",
    "噚日": "昨日",
    "宜家": "现在",
    "而家": "现在",
    "依家": "现在",
    "晏昼": "下午",
    "今个": "这个",
    "呢个": "这个",
    "今朝": "今早",
    "听朝": "明早",
    "听晚": "明晚",
    "礼拜日": "礼拜天",
}
_MULTI_RE = re.compile("|".join(sorted(map(re.escape, _MULTI), key=len, reverse=True)))


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates read as U+FFFD, the same length.

    A lone surrogate is not a character: no tokenizer, JSON encoder or database takes it. Replacing it
    keeps every span valid."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


_LONG_NUMBER = re.compile(r"[\d零〇一二两三四五六七八九十百千万廿俩仨几]{17,}")


def mask_long_numbers(text: str) -> str:
    """Runs of 17 or more numerals (account numbers, barcodes, noise) read as "#", the same length.

    No time, quantity or model has that many digits in a row, and the time rules' number patterns would
    otherwise take time quadratic in the length of such a run."""
    if _LONG_NUMBER.search(text) is None:
        return text
    return _LONG_NUMBER.sub(lambda m: "#" * len(m.group(0)), text)


def normalize(text: str) -> str:
    """Return a same-length normalised copy of ``text``."""
    out = text.translate(_TRANS)
    if _MULTI_RE.search(out):
        out = _MULTI_RE.sub(lambda m: _MULTI[m.group(0)], out)
    assert len(out) == len(text)
    return out


_CN_DIGIT = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "仨": 3, "四": 4}
_CN_DIGIT.update({"五": 5, "六": 6, "七": 7, "八": 8, "九": 9})
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_EN_NUM = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "sixty": 60,
    "ninety": 90,
    "a couple of": 2,
    "couple of": 2,
    "a few": 3,
}


def cn2num(s: str) -> float | None:
    """Parse an Arabic, Chinese or English number word; None when it is not a definite number."""
    s = s.strip()
    if not s:
        return None
    low = s.lower()
    if low in _EN_NUM:
        return _EN_NUM[low]
    try:
        return float(s) if "." in s else int(s)
    except ValueError:
        pass
    if any(c in s for c in "几多数"):
        return None
    if all(c in _CN_DIGIT for c in s) and len(s) > 1:
        # digit by digit: 二〇二六 → 2026, 九七 → 97
        return int("".join(str(_CN_DIGIT[c]) for c in s))
    total = 0
    section = 0
    num = 0
    for ch in s:
        if ch in _CN_DIGIT:
            num = _CN_DIGIT[ch]
        elif ch.isdigit():
            num = num * 10 + int(ch)
        elif ch in _CN_UNIT:
            section += (num or 1) * _CN_UNIT[ch]
            num = 0
        elif ch == "廿":
            section += 20
            num = 0
        elif ch == "卅":
            section += 30
            num = 0
        elif ch == "万":
            total += (section + num) * 10000
            section = 0
            num = 0
        elif ch == "亿":
            total = (total + section + num) * 100000000
            section = 0
            num = 0
        else:
            return None
    return total + section + num
