"""Masking of contact details in free text that we store or log.

Young people sometimes type their phone number or e-mail anywhere in the chat;
review logs and application logs must not keep them in clear.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# French numbers, overseas included: 0690 12 34 56, 06.90.12.34.56, +262 692 12 34 56, 00596...
PHONE = re.compile(r"(?:(?:\+|00)\d{2,3}[\s.-]?)?(?:\(0\))?\d(?:[\s.-]?\d){8,}")


def mask_contacts(text: str) -> str:
    return PHONE.sub("[téléphone]", EMAIL.sub("[e-mail]", text))
