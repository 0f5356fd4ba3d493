"""Place names: the regions documents are filed under, and the places people ask about.

Pure data and text logic, shared by reading documents (a page's region) and reading questions
(the places a question names).
"""

from __future__ import annotations

import re

# Regions we recognise, most specific first; the value is what a filter offers.
REGIONS = {
    "崂山": "青岛/崂山", "青岛": "青岛", "烟台": "烟台", "莱州": "烟台", "济南": "济南", "潍坊": "潍坊",
    "淄博": "淄博", "威海": "威海", "日照": "日照", "临沂": "临沂", "东营": "东营", "济宁": "济宁",
    "山东": "山东", "全国": "全国", "国家知识产权局": "全国",
}

# Places in China that questions and documents name beyond those regions: provinces, large
# cities, and districts with rules of their own (上海市浦东新区…若干规定).
CHINA_PLACES = frozenset(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 河南 湖北 湖南 广东 海南 四川 "
    "贵州 云南 陕西 甘肃 青海 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 台湾 广州 深圳 杭州 南京 苏州 武汉 成都 "
    "西安 郑州 长沙 合肥 福州 厦门 宁波 无锡 佛山 东莞 大连 沈阳 哈尔滨 长春 石家庄 太原 南昌 昆明 贵阳 "
    "南宁 兰州 海口 乌鲁木齐 呼和浩特 银川 西宁 拉萨 天津滨海 中关村 "
    "浦东 前海 横琴 南沙 雄安 临港 海淀 滨海新区".split()
)
# the region a place lies in (a city's province, a district's city): a rule of the enclosing
# region governs there too (山东省专利条例 in 济南), though its figures do not count the place
PARENT = {
    **dict.fromkeys("青岛 烟台 济南 潍坊 淄博 威海 日照 临沂 东营 济宁 德州 聊城 滨州 菏泽 枣庄 泰安".split(), "山东"),
    **dict.fromkeys("杭州 宁波 温州 嘉兴 绍兴 金华 台州 湖州 衢州 舟山 丽水".split(), "浙江"),
    **dict.fromkeys("广州 深圳 佛山 东莞 珠海 惠州 汕头 江门 湛江 肇庆 茂名 揭阳 韶关 梅州 潮州 横琴".split(), "广东"),
    **dict.fromkeys("郑州 洛阳 开封 新乡 南阳 安阳 许昌 平顶山 焦作 商丘 信阳 周口 濮阳 漯河 三门峡 鹤壁".split(), "河南"),
    **dict.fromkeys("南京 苏州 无锡 常州 南通 徐州 扬州".split(), "江苏"),
    **dict.fromkeys("福州 厦门".split(), "福建"), **dict.fromkeys("大连 沈阳".split(), "辽宁"),
    **dict.fromkeys("石家庄 雄安".split(), "河北"),
    "武汉": "湖北", "成都": "四川", "西安": "陕西", "长沙": "湖南", "合肥": "安徽", "哈尔滨": "黑龙江",
    "长春": "吉林", "太原": "山西", "南昌": "江西", "昆明": "云南", "贵阳": "贵州", "南宁": "广西", "兰州": "甘肃",
    "海口": "海南", "乌鲁木齐": "新疆", "呼和浩特": "内蒙古", "银川": "宁夏", "西宁": "青海", "拉萨": "西藏",
    "崂山": "青岛", "莱州": "烟台", "前海": "深圳", "南沙": "广州", "浦东": "上海", "临港": "上海",
    "海淀": "北京", "中关村": "北京", "滨海新区": "天津", "天津滨海": "天津",
}
FOREIGN_PLACES = frozenset("美国 欧洲 欧盟 日本 韩国 德国 英国 法国 俄罗斯 印度 新加坡 澳大利亚 加拿大 东南亚 非洲".split())
# Places people ask about that the corpus may not cover.
GAZETTEER = CHINA_PLACES | FOREIGN_PLACES | frozenset(PARENT)
# place names that are also everyday words (开封后 "once opened", 日照 "sunlight", 临港 "by the
# port"): in a question they name the place only with a cue (开封市, 在日照, 上海临港)
EVERYDAY_WORDS = frozenset("开封 日照 临港".split())
_CUE = "(?:在|去|到|来自|从|咱们?|我们{parents}){place}|{place}(?:市|区|县|新区|新片区|片区|那边|这边|那里|这里|当地|本地)"


def names_place(place: str, text: str) -> bool:
    """Whether ``text`` names ``place``, where an everyday word needs a cue to be one."""
    if place not in EVERYDAY_WORDS or place not in text:
        return place in text
    parents = "".join(f"|{p}" for p in enclosing(place))
    return bool(re.search(_CUE.format(place=re.escape(place), parents=parents), text))


def enclosing(place: str) -> list[str]:
    """The regions around ``place``, nearest first (崂山 -> 青岛, 山东)."""
    out: list[str] = []
    while place in PARENT and PARENT[place] not in out:
        place = PARENT[place]
        out.append(place)
    return out


def guess_region(title: str, text: str) -> str:
    """The region a document is about: the known region it names most (title and text), else a
    place in China its title names (a page about 杭州 is 杭州's), else ""."""
    counts: dict[str, int] = {}
    for key, region in REGIONS.items():
        n = (title + "\n" + text).count(key)
        if n:
            counts[region] = counts.get(region, 0) + n
    if counts:
        return max(counts, key=lambda r: (counts[r], -list(REGIONS.values()).index(r)))
    named = [p for p in CHINA_PLACES if p in title]
    return max(named, key=lambda p: (len(p), -title.index(p))) if named else ""
