"""Tense cues around a time expression: does the clause talk about something done or something planned?

Only the expressions whose year, month or week the text leaves open consult this (a year-less date, a bare
day of the month, a bare weekday, a holiday, a lunar date): ``3月5号发货了`` sent in November is the past
March 5, ``约了3月5号拜访`` the coming one. The clause is the stretch between two clause marks
(，。；！？ ,;!? or a line break) around the expression. A future cue wins over a past one: 了 also
closes plans (要开会了, 约好了), while 已经 … 了 with no plan word is done. With neither, an appointment word
of the meeting vocabulary (``lexicon.yaml`` ``meeting.what``: 拜访, 开会, 电话, demo …) reads as a plan
(王总说了3月5号来拜访: the 了 of a speech verb is no past cue either).
"""

from __future__ import annotations

import re
from functools import lru_cache

Lean = str  # "past" | "future"

_REACH = 40
_MARKS = frozenset("，。；！？,;!?\n")
_CLAUSE_MARK = re.compile(r"[，。；！？,;!?\n]")

# plans, intentions, arrangements. 会 only as the modal verb: not 开会/开完会/例会/会议/机会/会见 ...
_FUTURE = re.compile(
    r"将要|即将|定了|定好|订了|订好|(?<![需主重只])要(?![求是])|准备|打算|计划|安排|预计|预定|预约|约|定在|定于|届时|到时|"
    r"下次|下回|争取|马上|快要|"
    # "9月1日见": see you then (the expression itself is replaced by \x00)
    r"(?<=\x00)见(?![过了到])|"
    r"(?<![开例周晨早年展聚大约宴机社学协工理体误茶班酒舞完个了过])会(?![议谈面展员计客场所见签话同合])|"
    r"\b(?:will|shall|going to|gonna|plan(?:ned|s)? to|schedul(?:e|ed|ing)|let's|upcoming|see you)\b|'ll\b",
    re.IGNORECASE,
)
# done things: 已经, 曾, 刚, 上次, a 了 that is not 为了/除了/了解/算了, a 过 after a verb
_PAST = re.compile(
    r"已|曾|刚刚|刚才|上次|上回|当时|那时|"
    # a 了 that is not 为了/除了/算了/了解, nor that of a speech or commitment verb (说了, 答应了, 确认了)
    r"(?<![为除算罢说讲应意认知复示诉诺])了(?![解不])|"
    # the experiential 过 of a done action (见过, 开过会, 寄过样品), not 过来/过几天/过年
    r"(?<=[来见开发谈聊送做试用买寄收看问找签付访测])过(?![来去年几一两半节期])|"
    r"\b(?:was|were|did|had|already|ago|last time|received|shipped|delivered|visited|met|signed|paid|sent)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _appointment() -> re.Pattern[str]:
    """The meeting vocabulary's appointment words (not the lone 会, which `_FUTURE` reads as a modal)."""
    from nlp.extractors import lexicon

    terms = {str(t) for words in lexicon()["meeting"]["what"].values() for t in words} - {"会"}
    parts = [
        rf"\b{re.escape(t)}\b" if t.isascii() else re.escape(t) for t in sorted(terms, key=len, reverse=True)
    ]
    return re.compile("|".join(parts), re.IGNORECASE)


def clause_lean(text: str, start: int, end: int) -> Lean | None:
    """ "past" or "future" when the clause around ``text[start:end]`` carries a tense cue, else None.

    The expression itself is left out, so the 了 of a clock time is never read. A clause is read at most
    `_REACH` characters either side (text without punctuation stays linear)."""
    a = start
    floor = max(0, start - _REACH)
    while a > floor and text[a - 1] not in _MARKS:
        a -= 1
    m = _CLAUSE_MARK.search(text, end, end + _REACH)
    b = m.start() if m else min(len(text), end + _REACH)
    around = text[a:start] + "\x00" + text[end:b]
    if _FUTURE.search(around):
        return "future"
    if _PAST.search(around):
        return "past"
    if _appointment().search(around):
        return "future"
    return None
