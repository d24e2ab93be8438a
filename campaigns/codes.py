"""Join codes: short, read aloud and typed on phones, hard to guess.

Pure: no Django. The alphabet leaves out the letters and digits people mix up
when a code is read from a wall or a whiteboard (0/O, 1/I/L) and U (read as V).
Eight symbols of 30 give 30**8 ≈ 6.6e11 codes: with joins throttled to a few
per minute per client, guessing a live campaign's code takes centuries.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
# Characters a person may type for a symbol of the alphabet.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "L": "I"})
_IGNORED = str.maketrans("", "", " -_.")


def code_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def code_normalise(typed: str) -> str:
    """What a person typed, as stored: upper case, without spaces or dashes.

    Look-alikes are folded onto the letters they look like; since those letters
    are not in the alphabet either, a code with them stays invalid rather than
    matching somebody else's campaign."""
    return typed.upper().translate(_IGNORED).translate(_LOOKALIKES)


def code_is_wellformed(code: str) -> bool:
    return len(code) == LENGTH and all(c in ALPHABET for c in code)


def code_display(code: str) -> str:
    """``ABCD-EFGH``: two groups of four are easier to read out and copy."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"
