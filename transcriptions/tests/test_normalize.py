"""Every normalisation rule, one test each (plus the fast path's equivalence)."""

import re
import unicodedata

import pytest

from transcriptions.normalize import (
    _normalize_unicode,
    normalize,
    tokenize,
    tokenize_with_raw,
)


def test_nfc_composes_split_vowel_sign_o():
    # ো typed as ে + া must equal the single code point U+09CB.
    assert normalize("ক\u09c7\u09be") == normalize("ক\u09cb")
    assert normalize("ক\u09c7\u09be") == "ক\u09cb"


def test_precomposed_and_decomposed_nukta_letters_compare_equal():
    # NFC decomposes U+09DC/09DD/09DF (composition exclusions), so both
    # spellings must end up in the decomposed form.
    for precomposed, decomposed in (
        ("\u09dc", "\u09a1\u09bc"),
        ("\u09dd", "\u09a2\u09bc"),
        ("\u09df", "\u09af\u09bc"),
    ):
        assert normalize(f"পা{precomposed}") == normalize(f"পা{decomposed}")
        assert normalize(f"পা{precomposed}") == f"পা{decomposed}"


def test_legacy_khanda_ta_becomes_khanda_ta():
    assert normalize("উ\u09a4\u09cd\u200dসব") == "উ\u09ceসব"  # উৎসব
    assert normalize("বিদ্যু\u09a4\u09cd\u200d") == normalize("বিদ্যুৎ")


def test_ta_hasanta_without_zwj_stays_a_conjunct():
    # উত্তর has ত + ্ + ত: no ZWJ, so it must not turn into ৎ.
    assert normalize("উত্তর") == "উত্তর"


def test_zwj_zwnj_and_other_format_characters_are_dropped():
    assert normalize("ক্\u200dষ") == "ক্ষ"
    assert normalize("ক্\u200cষ") == "ক্ষ"
    assert normalize("বাং\u200bলা") == "বাংলা"  # zero-width space
    assert normalize("\ufeffhello wor\u00adld") == "hello world"  # BOM, soft hyphen


def test_bengali_and_other_digits_become_ascii():
    assert normalize("১৯৫২ সালে") == "1952 সালে"
    assert normalize("०१२३४५६७८९") == "0123456789"  # Devanagari
    assert normalize("٣ ক") == "3 ক"  # Arabic-Indic
    # A text that is ASCII once normalised is read as English (see below).
    assert normalize("٣") == "three"


def test_english_numbers_and_abbreviations_are_spelled_out():
    assert normalize("Mr. and Mrs. Smith met Dr Watson") == (
        "mister and missus smith met doctor watson"
    )
    assert (
        normalize("7 cats, 25 dogs, 100 birds") == "seven cats twenty five dogs one hundred birds"
    )
    assert normalize("in 1872 and 1900 and 2000") == (
        "in eighteen seventy two and nineteen hundred and two thousand"
    )
    assert normalize("1905") == "nineteen oh five"
    assert normalize("12345 mrsmith") == "12345 mrsmith"  # long numbers and non-tokens stay
    assert normalize("১৯৫২ সালে") == "1952 সালে"  # not in Bangla text
    tokens, raws = tokenize_with_raw("Mr. Smith has 25")
    assert tokens == ["mister", "smith", "has", "twenty", "five"]
    assert raws == ["Mr.", "Smith", "has", "twenty", "five"]
    assert tokenize("৭টায়") == tokenize("7টায়")


def test_nfkc_would_not_have_mapped_bengali_digits():
    # Guards the reason the digit rule exists at all.
    assert unicodedata.normalize("NFKC", "১২") == "১২"


def test_punctuation_removed_by_category_including_danda():
    assert normalize("আমি ভাত খাই। তুমি?") == "আমি ভাত খাই তুমি"
    assert normalize("শেষ॥") == "শেষ"
    assert normalize("“Hello,” she said—«bye»!") == "hello she said bye"


def test_vowel_signs_and_hasanta_survive_punctuation_removal():
    # প্রাণ্ ends in hasanta (with a ZWNJ after it, which is dropped).
    assert normalize("কিশোরী প্রাণ্\u200c গ্রীষ্মকালে।") == "কিশোরী প্রাণ্ গ্রীষ্মকালে"
    # The stdlib class this rule replaces would have mangled the words: it
    # treats vowel signs and hasanta as non-word characters.
    assert re.sub(r"[^\w\s]", "", "কিশোরী") != "কিশোরী"


def test_apostrophes_join_and_other_punctuation_splits():
    assert tokenize("he's don’t") == ["hes", "dont"]
    assert tokenize("air-tight,well.done") == ["air", "tight", "well", "done"]


def test_latin_is_case_folded():
    assert normalize("The STRASSE Straße") == "the strasse strasse"


def test_whitespace_is_collapsed_and_tokens_split_on_spaces():
    assert normalize("  a \t b\n\nc\u00a0d  ") == "a b c d"
    assert tokenize("") == []
    assert tokenize(" । , ") == []


@pytest.mark.parametrize(
    "text",
    [
        'He said: "air-tight," he\'s  ok.',
        "rock'n'roll o'-clock A.B. 3.5 (x) [y] _a_ @b #c $d %e &f *g",
        "  MIXED case\tand\nnewlines  ",
        "`backtick` and ^caret~",
    ],
)
def test_ascii_fast_path_matches_the_full_pipeline(text):
    assert normalize(text) == _normalize_unicode(text)


def test_tokenize_with_raw_keeps_raw_spellings_one_to_one():
    tokens, raws = tokenize_with_raw("The cat, sat.  ১২ পা\u09dc")
    assert tokens == tokenize("The cat, sat.  ১২ পা\u09dc")
    assert raws == ["The", "cat,", "sat.", "১২", "পা\u09dc"]


def test_tokenize_with_raw_falls_back_when_a_raw_word_splits():
    tokens, raws = tokenize_with_raw("an air-tight jar —")
    assert tokens == ["an", "air", "tight", "jar"]
    assert raws == ["an", "air", "tight", "jar"]


def test_tokenize_with_raw_handles_empty_and_punctuation_only_text():
    assert tokenize_with_raw("") == ([], [])
    assert tokenize_with_raw("  ।  , ") == ([], [])
    assert tokenize_with_raw("x \u200d y") == (["x", "y"], ["x", "y"])
