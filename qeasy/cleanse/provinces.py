"""Receiver provinces normalised so that a map can use them (screens.md): surrounding spaces removed,
short forms mapped to the official full names of the 34 provincial divisions, `未知` when empty."""

import polars as pl

UNKNOWN = "未知"
FULL_NAMES = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省",
    "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "海南省",
    "四川省", "贵州省", "云南省", "陕西省", "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区",
    "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区",
)
# Longest first, so that 广西壮族自治区 loses 壮族自治区 rather than 自治区.
SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
SHORT_FORMS = {next(name.removesuffix(s) for s in SUFFIXES if name.endswith(s)): name for name in FULL_NAMES}


def normalise_province(raw: pl.Expr) -> pl.Expr:
    """The province a receiver_state names: its full name when written short (浙江 -> 浙江省), as
    written otherwise (one-character abbreviations such as 沪 stay), `未知` when empty."""
    text = raw.str.strip_chars()  # every Unicode space, the ideographic one included
    return (pl.when(text.is_null() | (text == "")).then(pl.lit(UNKNOWN))
            .otherwise(text.replace(SHORT_FORMS)))
