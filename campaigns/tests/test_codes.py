from campaigns import codes


def test_codes_use_only_unambiguous_symbols():
    drawn = {codes.code_generate() for _ in range(200)}
    assert len(drawn) == 200
    for code in drawn:
        assert codes.code_is_wellformed(code)
        assert not set(code) & set("0O1IL")


def test_typed_codes_are_case_and_dash_insensitive():
    code = codes.code_generate()
    assert codes.code_normalise(codes.code_display(code).lower()) == code
    assert codes.code_normalise(f" {code[:4]} {code[4:]} ") == code


def test_look_alikes_never_match_another_code():
    # 0 and O, 1, I and L are folded onto letters outside the alphabet.
    assert not codes.code_is_wellformed(codes.code_normalise("ABCD0FGH"))
    assert not codes.code_is_wellformed(codes.code_normalise("abcd-lfgh"))
