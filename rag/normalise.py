"""Text folded for matching: one form for the many ways a paper or a question writes a word.

    from rag.normalise import fold

    fold("２０１９年ＲＣＥＰ")   -> "2019年rcep"       full-width digits and letters (NFKC), lower case
    fold("阿⾥巴巴 亚⻢逊")     -> "阿里巴巴 亚马逊"    Kangxi radicals and CJK Radicals Supplement
    fold("中國的貿易夥伴")      -> "中国的贸易伙伴"     traditional -> simplified (OpenCC "t2s")

Use it on BOTH sides of a comparison -- `fold(name) in fold(passage)`, tokens of the index and of
the question -- and never show its output: quotes, chunk text and answers stay as in the source.

`fold(text)` has the same length as `text`, and character i of the result stands for character i
of the input, so a match found in folded text is at the same offsets in the original:

    i = fold(passage).find(fold(name));  passage[i : i + len(name)]  is the name as written.

How each step keeps that promise:
* NFKC is applied one character at a time. A character whose NFKC form is longer than one
  character ("㎡" -> "m2", "…" -> "...", "ﬁ" -> "fi") is kept as it is; none occurs in the corpus.
  Composing a letter with a following combining accent ("e" + U+0301) is not done either.
* Radicals map one code point to one code point: the Unicode `EquivalentUnifiedIdeograph`
  property, as shipped by the `cjkfold` package (checked equal to UCD 15.0's file). NFKC alone
  folds the Kangxi block but only 2 of the 115 characters of the CJK Radicals Supplement.
* OpenCC's t2s dictionaries (TSPhrases, TSCharacters, TSCharactersExt) map every entry to one of
  the same length (checked for OpenCC 1.4.2 by dumping them with its `opencc_dict` tool), and
  characters outside them pass through, so the converted text is aligned with its input. Phrases
  keep context: 乾燥 -> 干燥 but 乾隆 stays. Should a future dictionary break this, the text is
  left unconverted (a warning says so) rather than misaligned.
* Lower case, one character at a time; "İ" (two characters in lower case) is left as it is.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["fold", "fold_char"]

# Where traditional characters can occur: CJK unified ideographs (with extension A) and the
# compatibility ideographs. Texts without any skip the OpenCC call.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class _CharTable(dict[int, str]):
    """str.translate table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        self[code] = folded
        return folded


_TABLE = _CharTable()


def fold_char(ch: str) -> str:
    """One character folded without context: NFKC (when it stays one character), radical ->
    ideograph, lower case. `fold` adds the traditional -> simplified step, which needs context."""
    nfkc = unicodedata.normalize("NFKC", ch)
    out = nfkc if len(nfkc) == 1 else ch
    out = _radicals().get(out, out)
    low = out.lower()
    return low if len(low) == 1 else out


@lru_cache(maxsize=1)
def _radicals() -> dict[str, str]:
    try:
        from cjkfold._table import EQUIVALENT_IDEOGRAPH
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("Folding CJK radicals needs cjkfold: pip install cjkfold==0.4.0") from exc
    return dict(EQUIVALENT_IDEOGRAPH)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("Folding traditional Chinese needs OpenCC: pip install opencc==1.4.2") from exc
    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """`text` for matching only (see the module docstring): same length, aligned character
    for character, full-width forms and radicals folded, traditional -> simplified, lower case."""
    out = text.translate(_TABLE)
    if _HAN.search(out):
        simplified = _t2s().convert(out)
        if len(simplified) == len(out):
            out = simplified
        else:  # pragma: no cover - no OpenCC 1.4.2 t2s entry changes length
            logger.warning("OpenCC t2s changed the length of a text; left it unconverted for matching")
    return out
