"""PII masking: each kind is masked, the rest of the text is untouched."""

from __future__ import annotations

import pytest

from sentiment import pii


@pytest.mark.parametrize(
    ("text", "secret", "shown"),
    [
        ("电话13812345678找我", "13812345678", "138****5678"),
        ("手机 +86 139-1234-5678", "1234-5678", "139****5678"),
        ("身份证110101199003071234", "110101199003071234", "110***********1234"),
        ("身份证号11010119900307123X", "11010119900307123X", "110***********123X"),
        ("卡号6222 0212 3456 7890 123", "6222 0212 3456 7890 123", "6222"),
        ("邮箱zhang.san@example.com", "zhang.san@example.com", "z***@example.com"),
        ("订单号：2024051212345678", "2024051212345678", "20**********5678"),
        ("运单号YT1234567890123", "YT1234567890123", "YT*********0123"),
    ],
)
def test_each_kind_is_masked(text: str, secret: str, shown: str) -> None:
    masked = pii.mask(text)
    assert secret not in masked
    assert shown in masked


def test_text_without_pii_is_unchanged_and_prices_survive() -> None:
    text = "这个价格299元，满300减40，第2次买了"
    assert pii.mask(text) == text


def test_find_reports_kinds() -> None:
    kinds = {k for k, _ in pii.find("13812345678 a@b.cn 110101199003071234 订单号：DD20240512001")}
    assert {"phone", "email", "id_card", "order_number"} <= kinds


def test_full_width_digits_are_masked() -> None:
    assert "５６７８" in pii.mask("电话１３８１２３４５６７８") and "１２３４５６７８" not in pii.mask(
        "电话１３８１２３４５６７８"
    )
