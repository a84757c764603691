"""Where the simulated merchant's parcels go: the 34 provincial divisions of China with their official
full names, a share of online orders loosely like real Chinese e-commerce (the coastal east and the
big cities first), and a few cities each."""

import numpy as np

# (official full name, weight, cities): weights are relative, normalised below.
PROVINCES = [
    ("广东省", 14.0, ("广州市", "深圳市", "东莞市", "佛山市")),
    ("浙江省", 10.0, ("杭州市", "宁波市", "温州市", "金华市")),
    ("江苏省", 10.0, ("南京市", "苏州市", "无锡市", "常州市")),
    ("山东省", 7.0, ("济南市", "青岛市", "烟台市")),
    ("上海市", 6.0, ("上海市",)),
    ("北京市", 5.0, ("北京市",)),
    ("河南省", 5.0, ("郑州市", "洛阳市")),
    ("四川省", 5.0, ("成都市", "绵阳市")),
    ("福建省", 4.5, ("福州市", "厦门市", "泉州市")),
    ("湖北省", 4.0, ("武汉市", "宜昌市")),
    ("湖南省", 3.5, ("长沙市", "株洲市")),
    ("安徽省", 3.5, ("合肥市", "芜湖市")),
    ("河北省", 3.5, ("石家庄市", "保定市", "唐山市")),
    ("陕西省", 2.5, ("西安市", "咸阳市")),
    ("辽宁省", 2.5, ("沈阳市", "大连市")),
    ("重庆市", 2.5, ("重庆市",)),
    ("江西省", 2.0, ("南昌市", "赣州市")),
    ("广西壮族自治区", 2.0, ("南宁市", "桂林市")),
    ("天津市", 1.5, ("天津市",)),
    ("云南省", 1.5, ("昆明市", "大理白族自治州")),
    ("山西省", 1.5, ("太原市", "大同市")),
    ("黑龙江省", 1.2, ("哈尔滨市", "大庆市")),
    ("贵州省", 1.2, ("贵阳市", "遵义市")),
    ("吉林省", 1.0, ("长春市", "吉林市")),
    ("内蒙古自治区", 0.8, ("呼和浩特市", "包头市")),
    ("甘肃省", 0.7, ("兰州市",)),
    ("新疆维吾尔自治区", 0.6, ("乌鲁木齐市",)),
    ("海南省", 0.6, ("海口市", "三亚市")),
    ("宁夏回族自治区", 0.3, ("银川市",)),
    ("青海省", 0.2, ("西宁市",)),
    ("香港特别行政区", 0.2, ("香港",)),
    ("西藏自治区", 0.1, ("拉萨市",)),
    ("澳门特别行政区", 0.1, ("澳门",)),
    ("台湾省", 0.1, ("台北市",)),
]
WEIGHTS = np.array([weight for _, weight, _ in PROVINCES]) / sum(weight for _, weight, _ in PROVINCES)
SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")


def short_form(name: str) -> str:
    """The name without its suffix, as shops and buyers often type it (浙江省 -> 浙江)."""
    return next((name.removesuffix(suffix) for suffix in SUFFIXES if name.endswith(suffix)), name)
