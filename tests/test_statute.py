"""Statute structure: articles, 款/项, chapter paths, long articles, versions, references,
and statute-shaped DOCX/PDF files; citations through the API."""

from __future__ import annotations

import re
import shutil

import pytest

from bot.build import mark_versions
from bot.chunking import chunk_documents
from bot.corpus import load_corpus, parse_document
from bot.formats import file_title
from bot.compose import compose
from bot.evaluation import evaluate, extra_articles
from bot.query import analyse, sub_questions, subject_swapped
from bot.retrieval import Hit
from bot.refusal import evidence_strength
from bot.selection import Candidate, candidates, choose, key_figure
from bot.statute import (article_refs, cited_paragraphs, cn_number, cn_numeral, doc_type_of, history_lines, paragraph_at,
                         parse_articles, region_of, sanctioned_articles, subject_of, version_dates, version_key)

from bot.text import coverage, match_form
from conftest import CORPUS, SHIPPED

LAW = """# 某某保护条例

2010年1月9日 通过

2023年12月11日 第三次修订

2024年1月20日 施行

## 第一章 总则

第一条 为了保护权利人，制定本条例。

第二条 本条例所称权利，是指依法取得的权利。

## 第二章 许可

### 第一节 一般规定

第三条 权利人可以许可他人使用。

第三条之一 有下列情形之一的，不得许可：

（一）权利已经终止的；

（二）权利被质押，未经质权人同意的；

（三）其他情形。

许可应当书面进行。

## 第三章 附则

第四条 本条例自2024年1月20日起施行。
"""


def test_numerals_round_trip():
    for n in (1, 10, 11, 20, 50, 86, 100, 101, 110, 119, 150):
        assert cn_number(cn_numeral(n)) == n
    assert cn_numeral(50) == "五十" and cn_numeral(101) == "一百零一" and cn_numeral(110) == "一百一十"
    assert cn_number("86") == 86 and cn_number("８６") == 86


def test_articles_paths_items_and_zhiyi():
    doc = parse_document(LAW, "law", "laws/law.md")
    arts = parse_articles(doc.text)
    assert [a.label for a in arts] == ["第一条", "第二条", "第三条", "第三条之一", "第四条"]
    zhiyi = arts[3]
    assert zhiyi.path == ("第二章 许可", "第一节 一般规定")
    assert [p.item for p in zhiyi.paragraphs] == [0, 1, 2, 3, 0]  # 款, three 项, 款
    assert arts[4].path == ("第三章 附则",)
    assert doc.statute and doc.title == "某某保护条例"
    assert doc.date == "2023-12-11" and doc.effective == "2024-01-20"  # latest amendment, not the first date


def test_one_passage_per_article_and_long_articles_keep_their_lead():
    doc = parse_document(LAW, "law", "laws/law.md")
    chunks, _ = chunk_documents([doc], 300, 60, 5, article_size=300)
    by_article = {c.article: c for c in chunks if c.article}
    assert set(by_article) == {"第一条", "第二条", "第三条", "第三条之一", "第四条"}
    assert by_article["第三条之一"].text.startswith("第三条之一") and "（二）权利被质押" in by_article["第三条之一"].text
    assert by_article["第三条之一"].path == "第二章 许可 › 第一节 一般规定"
    # a small article size forces a split at 款/项 boundaries; later pieces carry the list's lead
    pieces = [c for c in chunk_documents([doc], 300, 60, 5, article_size=40)[0] if c.article == "第三条之一"]
    assert len(pieces) > 1
    assert all(p.text.startswith("（") or p.text.startswith("第三条之一") or p.text.startswith("许可") for p in pieces)
    assert all(p.lead == "有下列情形之一的，不得许可：" for p in pieces[1:] if p.text.startswith("（"))
    assert all(p.article == "第三条之一" for p in pieces)
    assert "有下列情形之一的" in pieces[1].embedding_text()


def passages(text: str, name: str = "law.txt") -> list[tuple[str, str, str]]:
    """(article, chapter path, text without spaces) of each passage of a law written as ``text``."""
    chunks, _ = chunk_documents([parse_document(text, name, name)], 300, 60, 5, article_size=500)
    return [(c.article, c.path, re.sub(r"[\s\u3000]", "", c.text)) for c in chunks]


def as_published(law: str) -> list[str]:
    """``law`` (Markdown) as its lines read on a government site: plain title and headings, a
    full-width space after each label."""
    lines = [re.sub(r"^#+\s*", "", line) for line in law.splitlines() if line.strip()]
    return [re.sub(r"^(第[一二三四五六七八九十]+[条章节](?:之[一二三四五六七八九十]+)?) ", "\\1\u3000", line) for line in lines]


LONG_CHAPTER = LAW.replace("第二章 许可", "第二章 注册商标的续展、变更、转让和使用许可")


def test_a_table_of_contents_is_no_chapter():
    """目录 listing the chapters before the body: the body's headings are not dropped as repeats
    of the listed ones (a long chapter name was), nor is the list a passage."""
    lines = as_published(LONG_CHAPTER)
    chapters = [line for line in lines if re.match(r"第.[章节]", line)] + ["第一节 一般规定"]  # a section name recurs
    body = lines.index(chapters[0])
    text = "\n".join([*lines[:body], "目　　录", *chapters, *lines[body:]])
    assert passages(text) == passages("\n".join(lines))
    assert dict(p[:2] for p in passages(text))["第三条"] == "第二章 注册商标的续展、变更、转让和使用许可 › 第一节 一般规定"


def article_passages(text: str, name: str = "law.txt") -> list[tuple[str, str, str]]:
    return [p for p in passages(text, name) if p[0]]


def test_a_hard_wrapped_law_reads_as_the_shipped_one():
    """A .txt with every line cut at 35 characters: the lines of an article are joined again,
    also where a cut leaves a line starting with a cross-reference (第二十六条第五款、…) or
    with 。, and no article is lost or invented."""
    shipped = (SHIPPED / "laws" / "专利法实施细则(2023-12-11).md").read_text(encoding="utf-8")
    head, body = shipped.split("<!-- INFO END -->")
    lines = []
    for line in as_published(body):
        lines += [line[i:i + 35] for i in range(0, len(line), 35)]
    wrapped = "\n".join([*as_published(head), *lines])
    assert any(re.match(r"第[一二三四五六七八九十]+条[^\u3000]", line) for line in lines)  # a cross-reference starts a line
    assert article_passages(wrapped) == article_passages(shipped, "laws/专利法实施细则.md")


def test_a_line_opening_with_a_cross_reference_is_no_article():
    """A line cut before 第十条规定的… (依照本法 / 第十条规定的方式) continues its article: the number is
    not the next one and what follows it cites; the next article in order still starts afresh."""
    text = LAW.replace("第三条 权利人可以许可他人使用。", "第三条 权利人可以依照本条例\n第十条规定的方式许可他人使用。")
    arts = article_passages(text, "law.md")
    assert [a[0] for a in arts] == ["第一条", "第二条", "第三条", "第三条之一", "第四条"]
    assert arts[2][2] == "第三条权利人可以依照本条例第十条规定的方式许可他人使用。"


def test_labels_alone_on_their_line_or_in_arabic_numerals():
    """第一条 on a line of its own, its text on the next, reads as 第一条 followed by its text
    (not a 款 that is only the label); 第 5 条 is article 5."""
    lines = as_published(LAW)
    bare = "\n".join(part for line in lines for part in re.split(r"(?<=条)\u3000", line, maxsplit=1))
    arabic = "\n\n".join(re.sub(r"^第([一二三四])条", lambda m: f"第 {cn_number(m.group(1))} 条", line) for line in lines)
    expected = article_passages(LAW, "law.md")
    assert article_passages(bare) == expected
    assert [p[:2] for p in article_passages(arabic)] == [p[:2] for p in expected]
    doc = parse_document(bare, "law.txt")
    assert doc.text.count("第三条之一 有下列情形") == 1 and doc.date == "2023-12-11"
    assert all(len(p.paragraphs) == 1 for p in parse_articles(doc.text)[:3])


ORDER = """中华人民共和国国务院令
第706号
《专利代理条例》已经2018年11月6日国务院第31次常务会议修订通过，现将修订后的《专利代理条例》公布，自2019年3月1日起施行。
总理　李克强
2018年11月6日
"""


@pytest.mark.parametrize("law, head, dates", [
    # a promulgation order before the law: the law's title, the order's dates
    ("专利代理条例(2018-11-06).md", ORDER + "专利代理条例", ("2018-11-06", "2019-03-01")),
    # a long title broken over two lines
    ("最高人民法院关于审理侵害知识产权民事案件适用惩罚性赔偿的解释(2021-03-02).md",
     "最高人民法院关于审理侵害知识产权民事案件\n适用惩罚性赔偿的解释\n（2021年2月7日最高人民法院审判委员会第1831次会议通过）",
     ("2021-02-07", "2021-03-03")),
])
def test_the_title_is_the_laws_own(law, head, dates):
    shipped = parse_document((SHIPPED / "laws" / law).read_text(encoding="utf-8"), law, f"laws/{law}")
    body = (SHIPPED / "laws" / law).read_text(encoding="utf-8").split("<!-- INFO END -->")[1]
    doc = parse_document("\n".join([head, *as_published(body)]), "law.txt")
    assert doc.statute and (doc.title, doc.date, doc.effective, doc.doc_type) == (shipped.title, *dates, shipped.doc_type)


def test_a_markdown_law_from_another_source():
    """Markdown as other sites write a law: the history quoted (> 2010年1月9日 通过), the contents a
    list of links, each article a ### heading with its text below."""
    out = []
    for line in LAW.splitlines():
        m = re.match(r"^(第[一二三四五六七八九十]+条(?:之[一二三四五六七八九十]+)?) (.*)$", line)
        out += [f"### {m.group(1)}", "", m.group(2)] if m else [f"> {line}" if re.match(r"20\d\d年", line) else line]
    chapters = [f"- [{line[3:]}](#{line[3:]})" for line in LAW.splitlines() if line.startswith("## ")]
    text = "\n".join(out).replace("## 第一章 总则", "\n".join(["## 目录", "", *chapters, "", "## 第一章 总则"]), 1)
    doc = parse_document(text, "law.md")
    assert article_passages(text, "law.md") == article_passages(LAW, "law.md")
    assert [p for p in passages(text, "law.md") if not p[0]] == [p for p in passages(LAW, "law.md") if not p[0]]
    assert (doc.title, doc.date, doc.effective) == ("某某保护条例", "2023-12-11", "2024-01-20")


def test_news_pages_keep_length_chunking():
    docs, _ = load_corpus(CORPUS)
    chunks, _ = chunk_documents(docs, 300, 60, 12, article_size=500)
    assert chunks and not any(c.article for c in chunks)


def test_shipped_law_metadata():
    docs, skipped = load_corpus(SHIPPED / "laws")
    assert not skipped and len(docs) == 73
    by_name = {d.path: d for d in docs}
    rules = by_name["专利法实施细则(2023-12-11).md"]
    assert rules.title == "中华人民共和国专利法实施细则" and rules.date == "2023-12-11"  # not 2001-06-15
    assert rules.doc_type == "行政法规" and rules.region == "全国"
    assert by_name["专利法(2020-10-17).md"].doc_type == "法律"
    assert by_name["青岛市专利保护规定(2011-11-25).md"].region == "青岛"
    assert by_name["青岛市专利保护规定(2011-11-25).md"].doc_type == "地方性法规"
    assert by_name["最高人民法院关于知识产权法庭若干问题的规定(2023-10-21).md"].doc_type == "司法解释"
    assert by_name["山东省专利条例(2013-08-01).md"].effective == "2013-09-01"
    current = {d.path: d for d in mark_versions(docs)}
    assert current["专利法实施细则(2010-01-09).md"].superseded_by == rules.doc_id
    assert not rules.superseded_by
    assert current["最高人民法院关于知识产权法庭若干问题的规定(2018-12-28).md"].superseded_by
    # different numbered interpretations (（二） and （三）) are different laws, not versions
    assert not current["最高人民法院、最高人民检察院关于办理侵犯知识产权刑事案件具体应用法律若干问题的解释（二）(2007-04-05).md"].superseded_by


ARTICLES = "第一条 为了保护权利人，制定本条例。\n\n第二条 本条例所称权利，是指依法取得的权利。\n\n第三条 {in_force}"


@pytest.mark.parametrize("preamble, in_force, dates", [
    # a government site's one-line history: the version is its last date, not its first
    ("（2008年12月27日第十一届全国人民代表大会常务委员会第六次会议通过　2020年10月17日第十三届全国人民代表大会常务委员会"
     "第二十二次会议《关于修改〈某某条例〉的决定》修正）", "本条例自2009年10月1日起施行。", ("2020-10-17", "")),
    # in force when published: the date it was published
    ("2001年11月28日 国家知识产权局令第17号公布", "本条例自公布之日起施行。", ("2001-11-28", "2001-11-28")),
    # ...which is not the current version's, once it has been amended
    ("2001年11月28日 公布\n\n2010年1月9日 修订", "本条例自发布之日起施行。", ("2010-01-09", "")),
    # a database's header fields
    ("公布日期：2023年12月11日\n\n施行日期：2024年1月20日", "本条例自2024年1月20日起施行。", ("2023-12-11", "2024-01-20")),
    ("（2023年12月11日中华人民共和国国务院令第769号公布　自2024年1月20日起施行）", "本条例自2024年1月20日起施行。",
     ("2023-12-11", "2024-01-20")),
    # a preamble telling of another law's date is not this one's
    ("商标法修改决定已由全国人民代表大会常务委员会第二十四次会议通过，自2001年12月1日起施行。现就有关问题，作如下解释：",
     "本条例自公布之日起施行。", ("", "")),
])
def test_version_and_effective_dates_as_other_sources_write_them(preamble, in_force, dates):
    assert version_dates(f"某某条例\n\n{preamble}\n\n" + ARTICLES.format(in_force=in_force)) == dates


def test_a_one_line_history_lists_each_event():
    """修改过几次 counts the events of a history written in one parenthesised line."""
    line = ("（1984年3月12日第六届全国人民代表大会常务委员会第四次会议通过　根据1992年9月4日第七届全国人民代表大会常务委员会"
            "第二十七次会议《关于修改〈中华人民共和国专利法〉的决定》第一次修正　2020年10月17日第十三届全国人民代表大会常务委员会"
            "第二十二次会议《关于修改〈中华人民共和国专利法〉的决定》第四次修正）")
    events = history_lines(f"中华人民共和国专利法\n\n{line}\n\n")
    assert [e[:10] for e in events] == ["1984年3月12日", "根据1992年9月4", "2020年10月17"] and events[-1].endswith("第四次修正")


def test_title_patterns():
    assert doc_type_of("上海市浦东新区建立高水平知识产权保护制度若干规定") == "地方性法规"
    assert region_of("上海市浦东新区建立高水平知识产权保护制度若干规定") == "上海"
    assert doc_type_of("集成电路布图设计行政执法办法") == "部门规章"
    assert doc_type_of("国务院关于涉外知识产权纠纷处理的规定") == "行政法规"
    # a notice carrying rules is typed and placed by the rules and by who issues them
    for title, kind, region in [("关于印发《青岛市专利资助办法》的通知", "地方性法规", "青岛"),
                                ("崂山区关于印发《崂山区知识产权专项资金管理办法》的通知", "地方性法规", "崂山"),
                                ("国家知识产权局关于印发《专利侵权纠纷行政裁决办案指南》的通知", "部门规章", "全国"),
                                ("中华人民共和国商务部令 对外贸易经营者备案登记办法", "部门规章", "全国")]:
        assert (doc_type_of(title), region_of(title)) == (kind, region), title
    assert version_dates("2001年6月15日 公布\n\n2010年1月9日 修订\n\n第一条 ……。", "x(2023-12-11).md")[0] == "2023-12-11"


def test_legal_documents_without_articles_keep_their_place_in_the_hierarchy():
    # an amendment decision lists numbered edits, not 第N条 articles; it is still an interpretation
    decision = parse_document("# 最高人民法院关于修改《关于审理专利纠纷案件的若干规定》等十八件司法解释的决定\n\n"
                              "一、修改《若干规定》\n\n1.将第二条修改为：\n\n“权利人……”\n", "d.md")
    assert not decision.statute and decision.doc_type == "司法解释"
    news = parse_document("# 烟台打造知识产权运营服务体系\n\n烟台市2019年专利授权量增长。\n", "n.md")
    assert news.doc_type == ""


def test_compound_terms_match_in_either_order():
    assert coverage(["注册商标"], match_form("应当向商标局申请商标注册。")) == pytest.approx(0.75)
    assert coverage(["注册商标"], match_form("注册商标的有效期为十年。")) == 1.0
    # the parts far apart are not the term
    assert coverage(["保护中心"], match_form("加强保护。建设覆盖全省的专利大数据服务中心。")) == 0.0


def test_every_statutory_term_of_the_lexicon_is_in_the_shipped_texts():
    """A term no shipped text uses (a typo, a word the laws do not say) rewords questions into
    wording nothing matches."""
    from bot.lexicon import LAY_TERMS, NOTICE_TERMS

    shipped = "".join(match_form(p.read_text(encoding="utf-8")) for p in SHIPPED.rglob("*.*") if p.suffix in (".md", ".txt", ".html"))
    # (a row that starts with its own word keeps the question's wording and only adds terms; the
    # few terms of local notices that no shipped text uses are listed apart)
    assert not [(k, t) for k, terms in LAY_TERMS.items() for t in terms
                if t != k and match_form(t) not in shipped and t not in NOTICE_TERMS]
    assert all(k == k.lower() for k in LAY_TERMS)  # questions are matched lower-cased
    # everyday wording reworded: 搬运 (reposting) is 通过信息网络向公众提供, 抢注 is 抢先注册
    assert "通过信息网络向公众提供" in analyse("我的视频被人搬运到别的平台了").statutory
    assert "抢先注册" in analyse("商标被人抢注了怎么办").statutory
    # an everyday phrase the table knows is one term of the question, with its statutory terms,
    # wherever jieba would cut (刷单刷好评 -> 刷 / 单刷 / 好评)
    q = analyse("朋友让我帮他刷单刷好评，这样会被罚吗？")
    assert {"刷单", "刷好评"} <= set(q.terms) and "组织虚假交易" in q.aliases["刷单"]
    # a key inside a longer word that means something else is not that key: 算法 in 也算法律,
    # 几年 in 审了好几年 (no "how many years"), 告 in 广告
    assert "智力活动" not in analyse("这也算法律保护的装潢吗？").statutory
    assert "期限" not in analyse("发明专利审了好几年才批下来").statutory
    assert "起诉" not in analyse("在网上打广告宣传专利产品要注意什么").expansion
    # one pass: a term put in (拼多多 -> 电子商务平台) is not reworded again (平台 -> 网络服务提供者)
    reworded = analyse("拼多多商家被投诉了，平台让我几天内申诉？").statutory
    assert "电子商务平台" in reworded and "网络服务提供者" in reworded and "电子商务网络服务提供者" not in reworded


def test_a_question_is_also_searched_in_the_laws_terms(retriever):
    from bot import Settings
    from bot.embedding import encode

    q = analyse("员工辞职半年后搞出来一个发明，跟他以前在公司负责的活儿有关，专利算谁的？")
    assert "职工离职" in q.statutory and "单位" in q.statutory and "员工" not in q.statutory
    # a lone 批 is part of 获批 here, not 授予; and a question in the laws' own words is searched once
    assert analyse("烟台什么时候获批国家知识产权运营服务体系建设重点城市").statutory == ""
    assert analyse("职务发明创造申请专利的权利属于谁").statutory == ""

    def dense_rank(text: str) -> int:
        ids, _ = retriever.store.dense.search(encode(retriever.encoder, [text], "query")[0], 100, None)
        return next(i for i, cid in enumerate(ids.tolist()) if retriever.store.chunks[cid].article == "第六条"
                    and retriever.store.documents[retriever.store.chunks[cid].doc_id].title.endswith("专利法"))

    # e5 finds 专利法第六条 far sooner for the laws' wording than for the everyday one
    assert dense_rank(q.statutory) + 5 < dense_rank(q.simple)
    assert retriever.search(q, k=1)[0].citation == "《中华人民共和国专利法》第六条"
    with pytest.raises(ValueError, match="statutory_share"):
        Settings(statutory_share=1.5).normalised()


def test_taiwan_words_are_read_in_the_laws_terms():
    """軟體 converts to 软体, which no mainland law writes: it is read as 软件 (计算机软件)."""
    q = analyse("買了正版軟體，自己再拷一份備份存在硬碟裡，這樣算侵權嗎？")
    assert "软件" in q.statutory and "计算机软件" in q.expansion
    assert "知识产权" in analyse("公司的智慧財產權怎麼保護").expansion


def test_everyday_names_for_statutory_notions():
    # a county's name is a 地名 of a 行政区划 (商标法第十条); 反对 a published mark is an 异议
    assert {"地名", "行政区划"} <= set(analyse("拿我们县名当牌子去注册行不行").expansion)
    assert "异议" in analyse("别人申请的商标公告了，我要反对得多久内提").expansion
    assert "植物品种" in analyse("新培育的玉米品种能申请专利吗").expansion
    # a free charity show is the law's 未向公众收取费用; a farmer who keeps seed is a 农民
    assert {"表演", "未向公众收取费用"} <= set(analyse("不收门票的公益晚会上唱别人的歌，要给钱吗").expansion)
    assert "农民" in analyse("我是种地的，留点种子明年接着种违法吗").expansion
    # a company is a 法人 in the laws' words (计算机软件保护条例第十三条: 法人或者其他组织)
    assert "法人" in analyse("公司指定我开发的软件归谁").expansion
    assert "不使用" in analyse("注册的商标一直闲着，会被撤销吗").expansion


@pytest.mark.parametrize("question, terms", [
    ("我们还能接着生产不", {"继续制造", "原有范围"}),
    ("我爷爷2000年过世的，他写的书版权保护到哪年", {"死亡"}),
    ("写书评摘了原书几段话要作者同意吗", {"介绍、评论", "引用"}),
    ("代理费实在掏不起，有没有地方能帮一把", {"无能力支付"}),
    ("没去备案，这合同还算数吗", {"效力"}),
    ("芯片已经量产三年了，现在登记还行吗", {"商业利用"}),
    ("我给产品设计的外观拿到专利了，能保护几年", {"外观设计"}),
    ("商标在海关备个案，备一次管几年", {"备案", "有效期"}),
    ("那个商标注册好几年了根本没用过，能撤吗", {"不使用"}),
    ("别人申请专利前就一直在做这个零件，还能接着做吗", {"申请日前", "已经制造"}),
    ("被市场监管查到要罚多少钱", {"监督检查部门"}),
    ("翻唱别人的歌录成专辑卖，要授权吗", {"录音制品"}),
    ("协会让签授权合同，一签五年，有这规矩吗", {"许可使用合同"}),
    ("商标过了期还能补救吗，有多久的缓冲", {"宽展期"}),
    ("我们是品牌的普通授权店，能自己去告吗", {"普通许可"}),
    # a local notice's words: 资助 and 补贴 are what people call 报销, its 申请材料 what they 准备
    ("苏州的专利年费能报销吗？报多少？", {"资助", "补贴"}),
    ("厦门贴息要准备哪些东西？", {"材料"}),
])
def test_everyday_words_for_acts_and_events(question, terms):
    assert terms <= set(analyse(question).expansion)


def test_a_fee_is_one_word_before_a_modal_verb():
    # jieba's guess 年费能 matched no passage's 年费
    assert "年费" in analyse("苏州的专利年费能报销吗？").terms


def test_an_ai_picture_is_not_read_as_a_creation():
    # the laws do not say whose an AI picture is: 用AI画 is not reworded as 创作/独创性
    assert not {"创作", "独创性"} & set(analyse("用AI画的图我自己有版权吗").expansion)


def test_making_it_before_the_application_is_read_as_prior_use(assistant):
    # 早在…之前就在做…还能接着生产 is 专利法第七十五条（二）: 申请日前已经制造…原有范围内继续制造
    ans = assistant.ask("我们厂早在别人申请专利之前就在做这个东西了，现在他拿了专利说我们侵权，我们还能接着生产不？")
    assert ans.answered and ans.citations[0].citation.startswith("《中华人民共和国专利法》第七十五条")
    assert "仅在原有范围内继续制造" in ans.text


def test_overlapping_everyday_phrases_stay_whole():
    # 卖盗版 and 盗版书 overlap in 卖盗版书: cut at one, jieba glued the lone 书 to 会 (书会)
    q = analyse("网上卖盗版书会被判刑吗")
    assert "卖盗版书" in q.terms and "书会" not in q.terms
    assert {"销售侵权复制品", "图书"} <= set(q.aliases["卖盗版书"])


def test_a_noun_that_only_sets_the_scene_weighs_less_against_an_answer(retriever):
    # 奶茶 is no word of the laws; told before the question it sets the scene, asked about it
    # would be the topic the corpus lacks
    def penalty(question: str, share: float) -> float:
        q = analyse(question)
        hits = retriever.search(q, k=8)
        chosen = choose(q, hits, [c for i, h in enumerate(hits) for c in candidates(q, i, h)], 3)
        return chosen[0].score - evidence_strength(retriever, q, chosen, 1.0, share)

    scene = "隔壁奶茶店老板搞出个新配方，自己申请专利要找代理机构吗"
    assert penalty(scene, 0.5) == pytest.approx(penalty(scene, 1.0) / 2) and penalty(scene, 1.0) > 0
    asked = "奶茶配方申请专利要找代理机构吗"  # one clause: 奶茶 is part of what is asked
    assert penalty(asked, 0.5) == penalty(asked, 1.0) > 0


def test_rare_terms_weigh_more_in_coverage(retriever):
    lexical = retriever.store.lexical
    assert lexical.idf("专利", ["专利"]) < lexical.idf("院士工作站", ["院士", "工作站"]) < lexical.idf("热词", ["热词"])
    text = match_form("注册商标需要变更注册人的名义、地址的，应当提出变更申请。")
    plain = coverage(["热词", "注册商标"], text)
    assert coverage(["热词", "注册商标"], text, rarity={"热词": 3.0, "注册商标": 1.0}) < plain == pytest.approx(4 / 6)


@pytest.mark.parametrize("question, term", [
    ("什么是职务作品？职务作品的权利归属于谁？", "职务作品"),
    ("短视频可以构成作品吗？", "作品"),
    ("游戏直播画面是作品吗？", "作品"),
    ("公司的哪些信息才算商业秘密？客户名单算吗？", "商业秘密"),
    ("什么样的发明能申请专利", "发明"),
    ("什么样的东西才算是作品？", "作品"),  # what it must count as, not 东西
    ("驰名商标到底是什么意思？", "驰名商标"),  # without the filler
    ("离职半年后做出的发明，算老东家的职务发明吗？", "职务发明"),  # not whose
    ("实用新型专利指的是啥？", "实用新型"),  # the law defines 实用新型
    ("隔壁店照搬了我们的整体形象，这也算法律保护的“装潢”吗？", "装潢"),
    ("到底啥情况才算脱销？", "脱销"),
    ("将他人姓名署在自己的作品上会侵犯著作权中的署名权吗？", "署名权"),  # a right is what it lets one do
    ("把别人的文章放到网站上让人下载，侵犯了信息网络传播权吗？", "信息网络传播权"),
    ("专利权人是谁？", ""),
    ("我的专利能不能申请开放许可？", ""),
    ("卖盗版会侵犯别人的权利吗", ""),
])
def test_definition_questions(question, term):
    assert analyse(question).defines == term


def test_a_deeming_provision_defines_its_term():
    q = analyse("到底啥情况才算脱销？")
    assert q.defined_in(match_form("著作权人寄给图书出版者的两份订单在6个月内未能得到履行，视为著作权法第三十二条所称图书脱销。"))
    assert not q.defined_in(match_form("图书脱销后，图书出版者拒绝重印、再版的，著作权人有权终止合同。"))
    # deeming an act an infringement of the term does not define it
    secret = analyse("什么是商业秘密？")
    assert not secret.defined_in(match_form("经营者以外的其他自然人实施前款所列违法行为的，视为侵犯商业秘密。"))
    assert secret.defined_in(match_form("本法所称的商业秘密，是指不为公众所知悉、具有商业价值的商业信息。"))


def test_a_definition_is_the_term_standing_alone():
    q = analyse("短视频可以构成作品吗？")
    assert q.defined_in(match_form("本法所称的作品，是指文学、艺术和科学领域内具有独创性的智力成果"))
    assert q.defined_in(match_form("著作权法和本条例中下列作品的含义："))
    assert not q.defined_in(match_form("（一）文字作品，是指小说、诗词、散文"))  # defines 文字作品
    assert not q.defined_in(match_form("不构成作品的数据或者其他材料"))
    right = analyse("改编小说的时候，会侵犯保护作品完整权吗？")
    assert right.defined_in(match_form("（四）保护作品完整权，即保护作品不受歪曲、篡改的权利；"))
    assert not right.defined_in(match_form("不得侵犯作者的署名权、修改权、保护作品完整权和获得报酬的权利。"))


@pytest.mark.parametrize("question, defined", [
    ("手机壳换了个新造型，这算外观设计吗？", "外观设计，是指"),
    ("我改进了做豆腐的方法，这算发明吗", "发明，是指"),
])
def test_definition_questions_quote_the_definition(assistant, question, defined):
    ans = assistant.ask(question)
    print("\n" + ans.text)
    assert ans.answered and defined in ans.text
    assert ans.quotes[0].cite_as == "《中华人民共和国专利法》第二条"
    assert len(ans.quotes) == 1  # the definition answers by itself
    # 第二条 is quoted whole (four definitions): only the asked one is bold
    assert f"\n> **{defined}" in ans.text and ans.text.count("**") == 2


def test_paragraphs_of_an_article_and_their_citations():
    text = "第四十二条 发明专利权的期限为二十年。\n\n自发明专利申请日起满四年的，应专利权人的请求给予补偿：\n\n（一）……；\n\n为补偿新药上市审评占用的时间……"
    assert [paragraph_at(text, text.find(s)) for s in ("二十年", "满四年", "（一）", "新药")] == [1, 2, 2, 3]
    assert paragraph_at("（二）在中国政府主办的国际展览会上首次展出的；", 0) == 0  # a later piece: unknown
    cites = "依照专利法第四十二条第二款的规定请求给予期限补偿的，或者专利法第四十二条第三款"
    assert cited_paragraphs(cites, "专利法", "第四十二条") == {2, 3}
    assert cited_paragraphs("依照专利法第四十二条的规定", "专利法", "第四十二条") == set()


def test_a_question_with_two_asks_reads_each_with_the_first():
    # 还有补救的机会吗 is about what happens (会怎么样), not only about the forgotten fee
    assert sub_questions("专利批下来以后忘了交年费，会怎么样？还有补救的机会吗？") == [
        "专利批下来以后忘了交年费，会怎么样", "专利批下来以后忘了交年费，会怎么样，还有补救的机会吗"]
    assert sub_questions("什么是职务作品？职务作品的权利归属于谁？") == ["什么是职务作品", "职务作品的权利归属于谁"]
    assert sub_questions("烟台有多少个院士工作站？") == []


def test_each_ask_gets_its_article(assistant):
    ans = assistant.ask("员工在本职工作中做出的发明，专利归谁？单位要给发明人发多少奖金？")
    print("\n" + ans.text)
    cited = [q.cite_as for q in ans.quotes]
    assert len(cited) == len(set(cited)) >= 2
    text = ans.text.replace("**", "")
    assert "奖金最低不少于4000元" in text  # the second ask
    assert "职务发明创造申请专利的权利属于该单位" in text or "在本职工作中作出的发明创造" in text  # the first


def test_an_ask_for_an_amount_gets_the_article_with_the_amount(assistant):
    # the situation's 几个字 is not the unit asked; 最多罚多少 asks for 元, which 专利法第六十八条 states
    assert analyse("包装上已经印了“专利产品”几个字，被查到最多罚多少").unit == "元"
    ans = assistant.ask("我们产品的专利其实还没批下来，包装上已经印了“专利产品”几个字，这算假冒专利吗？被查到最多罚多少？")
    print("\n" + ans.text)
    cited = [q.cite_as for q in ans.quotes]
    assert any(c.endswith("实施细则》第一百零一条第（一）项") for c in cited)
    assert "《中华人民共和国专利法》第六十八条" in cited


def test_whose_a_right_is_gets_the_article_that_assigns_it(assistant):
    # 算谁的 asks ownership, not "who issued": an article naming a ministry (第四十九条) is no answer
    q = analyse("员工离职几个月后做出一个发明，和他原来在厂里负责的活有关，专利算谁的？")
    assert q.kind == "owner" and analyse("鲁知规字2018第7号文件是谁发的").kind == "who"
    ans = assistant.ask(q.text)
    print("\n" + ans.text)
    assert [x.cite_as for x in ans.quotes] == ["《中华人民共和国专利法》第六条", "《中华人民共和国专利法实施细则》第十三条第（三）项"]


def test_the_evaluator_counts_quotes_of_articles_that_are_not_gold(retriever, assistant):
    q = "员工离职几个月后做出一个发明，和他原来在厂里负责的活有关，专利算谁的？"
    ans = assistant.ask(q)
    assert extra_articles(ans, ["专利法第六条"]) == {"专利法实施细则第十三条"}
    assert extra_articles(ans, ["专利法第六条", "专利法实施细则第十三条"]) == set()
    item = {"id": "x", "q": q, "evidence": ["职务发明创造申请专利的权利属于该单位"], "articles": ["专利法第六条"]}
    report = evaluate(retriever, [item], assistant)
    print("\n" + report.table())
    assert ("other articles quoted per answer", "1.00") in report.rows()


def test_sanctioned_articles_are_read_from_the_liability_articles():
    assert sanctioned_articles("违反本法第十三条第二款和第三款、第十五条、第十六条第一款、第三十条规定的，") == [
        "第十三条", "第十五条", "第十六条", "第三十条"]
    assert sanctioned_articles("违反本细则第十一条、第八十八条规定的，由…予以警告") == ["第十一条", "第八十八条"]
    assert sanctioned_articles("依照本法第十条的规定") == [] and sanctioned_articles("违反本条第一款规定") == []


@pytest.mark.parametrize("question, asks", [("没经过保密审查就去国外申请专利，会怎么样？", True), ("被查到会怎么处理", True),
                                            ("这样干会被罚吗？", True), ("能直接拿到国外去申请专利吗？", False),
                                            ("专利能保护几年", False), ("材料造假被查出来了 会咋样", True),
                                            ("私下接客户被查到会咋处理", True), ("商标到期了咋续", False)])
def test_a_question_asking_what_happens_to_whoever_does_it(question, asks):
    assert analyse(question).asks_consequence is asks


def test_a_prison_term_or_a_fine_answers_only_what_befalls_an_offender(assistant_over):
    from bot.selection import key_figure

    article = "应当以侵犯商业秘密罪判处三年以下有期徒刑或者拘役，并处或者单处罚金"
    assert key_figure(analyse("商业秘密能保护多少年？"), article) == ""
    assert key_figure(analyse("偷了别人的商业秘密会判几年"), article) == "三年"
    assert key_figure(analyse("侵犯商业秘密罚多少钱"), "处十万元以上一百万元以下的罚款") == "一百万元"
    # damages answer what an infringer pays, a fine what the state takes: neither is a fee
    damages = "由人民法院根据侵权行为的情节，判决给予五百元以上五百万元以下的赔偿"
    assert key_figure(analyse("开火锅店放背景音乐，一年得给协会交多少钱"), damages) == ""
    assert key_figure(analyse("侵犯著作权最多赔多少钱"), damages) == "五百万元"
    assert key_figure(analyse("卖盗版最多赔多少钱"), "可以并处二十五万元以下的罚款") == ""
    laws = assistant_over("反不正当竞争法(2019-04-23).md",
                          "最高人民法院、最高人民检察院关于办理侵犯知识产权刑事案件具体应用法律若干问题的解释(2004-12-08).md")
    # no text says how long a trade secret is protected; the criminal interpretation's 三年 is a prison term
    assert not laws.ask("商业秘密能保护多少年？").answered
    ans = laws.ask("偷了别人的商业秘密，会判几年")
    assert ans.answered and "有期徒刑" in ans.text


def test_spoken_question_words_are_read_as_their_written_forms(assistant):
    # 会咋样 is 会怎么样: the article that sanctions the act answers, not one sharing the situation's words
    ans = assistant.ask("山东这边申请专利资助材料造假被查出来了 会咋样")
    assert ans.answered and ans.citations[0].citation == "《山东省专利条例》第五十条"
    assert analyse("续展最晚啥时候办").kind == analyse("续展最晚什么时候办").kind == "date"


def test_a_consequence_question_quotes_the_article_that_sanctions_the_act(assistant):
    # 专利法第七十八条 sanctions 第十九条 (违反本法第十九条规定向外国申请专利…): it names the act, not the asker's words
    ans = assistant.ask("在国内搞出来的发明没经过保密审查就直接拿到国外去申请专利了，会怎么样？")
    print("\n" + ans.text)
    assert "《中华人民共和国专利法》第七十八条" in [q.cite_as for q in ans.quotes]
    # asked only whether it may be done, the sanction is not quoted
    plain = assistant.ask("在国内搞出来的发明能直接拿到国外去申请专利吗？")
    assert plain.answered and all("第七十八条" not in q.cite_as for q in plain.quotes)


def test_a_penalty_is_quoted_with_the_rule_it_sanctions(assistant, retriever):
    """实施细则第一百条 fines whoever breaks 第十一条 or 第八十八条: asked about faked data, the
    answer gives the fine and the rule broken (第十一条, 不得编造、伪造…), however few of the
    question's words that rule shares."""
    ans = assistant.ask("专利申请人编造实验数据，被查到最多罚多少？")
    assert [x.cite_as for x in ans.quotes][:2] == ["《中华人民共和国专利法实施细则》第一百条", "《中华人民共和国专利法实施细则》第十一条"]
    assert "**10万元**" in ans.text
    penalty = next(h for h in retriever.search("违反本细则第十一条、第八十八条规定的罚款", k=5) if h.article == "第一百条")
    assert [h.article for h in retriever.sanctioned(penalty)] == ["第十一条", "第八十八条"]


def test_the_companion_article_implements_the_quoted_paragraph(assistant):
    # 细则第七十七、七十八条 implement 第四十二条第二款 (slow examination); 第八十条起 its 第三款 (new drugs)
    ans = assistant.ask("发明专利审了好几年才批下来，保护期能补吗？要多久之内提？")
    print("\n" + ans.text)
    assert [q.cite_as[-6:] for q in ans.quotes][:1] == ["》第四十二条"]
    assert len(ans.quotes) == 2 and "第四十二条第二款" in ans.quotes[1].sentence and "新药" not in ans.quotes[1].sentence


def test_a_procedure_for_a_list_of_articles_is_no_companion(assistant_over):
    # 条例第五十二条 reviews refusals under 商标法第十条、第十一条、第十二条和第十六条: it implements none
    # of them, so a question answered by 第十条 does not quote it
    ans = assistant_over("商标法(2019-04-23).md", "商标法实施条例(2014-04-29).md").ask(
        "想用我们县的县名给自家的农产品做个牌子去注册商标，能批吗？")
    print("\n" + ans.text)
    assert ans.quotes[0].cite_as == "《中华人民共和国商标法》第十条"
    assert all("第五十二条" not in q.cite_as for q in ans.quotes)


def test_the_paragraph_that_answers_in_a_whole_article_is_bold(assistant_over):
    # 第十条 is quoted whole; the 款 after its list (地名) is the condition asked, so it is in bold
    ans = assistant_over("商标法(2019-04-23).md", "商标法实施条例(2014-04-29).md").ask("能不能用我们县的县名去注册商标？")
    assert ans.quotes[0].cite_as == "《中华人民共和国商标法》第十条"
    assert "**县级以上行政区划的地名或者公众知晓的外国地名，不得作为商标。" in ans.text
    assert ans.text.count("**") == 2


def test_the_law_article_a_figure_rests_on_is_quoted_with_it(assistant):
    # 细则第九十三条 gives the amount (4000元) of 专利法第十五条's 奖励; the law article has no
    # figure, yet it is the rule the amount implements
    ans = assistant.ask("我在厂里搞的改进，公司申请发明专利批了，制度里没写奖金，也没跟我约定过，按规定最少该给我多少钱？")
    print("\n" + ans.text)
    assert ans.text.startswith("**不少于4000元**")
    assert [q.cite_as for q in ans.quotes][:2] == ["《中华人民共和国专利法实施细则》第九十三条", "《中华人民共和国专利法》第十五条"]


@pytest.mark.parametrize("question, law, number, para", [
    ("专利法第五十条说的是什么", "专利法", 50, 0),
    ("专利法第50条", "专利法", 50, 0),
    ("实施细则86条是什么规定", "实施细则", 86, 0),
    ("商标法第十条第一款", "商标法", 10, 1),
    ("《著作权法》第二十四条", "著作权法", 24, 0),
    # the asker's words before the name are not part of it
    ("律师让我看看知识产权法第十二条", "知识产权法", 12, 0),
    ("老板叫我去查查反垄断法第五条是怎么写的", "反垄断法", 5, 0),
    ("我们公司想了解一下商标法第十条第一款", "商标法", 10, 1),
    ("我查了商标法第七十三条", "商标法", 73, 0),
    ("看守所条例第五条", "看守所条例", 5, 0),
])
def test_article_references(question, law, number, para):
    ref = article_refs(question)[0]
    assert (ref.law, ref.number, ref.paragraph) == (law, number, para)


def test_an_article_of_no_law_is_asked_back(assistant):
    # many laws have a 第五十条: a search would quote one at random
    assert analyse("第五十条说的是什么").names_only_an_article
    assert not analyse("第五十条开放许可怎么规定").names_only_an_article  # its words can be searched
    ans = assistant.ask("第五十条")
    assert not ans.answered and "哪部法律的第五十条" in ans.text and "“专利法第五十条”" in ans.text
    assert "没有哪部法律有第九百条" in assistant.ask("第九百条").text


def test_an_article_of_no_law_in_a_conversation_is_of_its_law(assistant):
    def history(*turns):
        return [{"role": "user", "content": t} for t in turns]

    # the law the previous question named, or else the law of the article that answered it
    for earlier in ("专利法第五十条是什么", "开放许可需要满足什么条件"):
        ans = assistant.ask("那第五十一条呢", history=history(earlier))
        assert ans.answered and ans.quotes[0].cite_as == "《中华人民共和国专利法》第五十一条", (earlier, ans.text)
    ans = assistant.ask("第五十二条", history=history("专利法第五十条是什么", "那第五十一条呢"))
    assert ans.quotes[0].cite_as == "《中华人民共和国专利法》第五十二条"


def test_a_follow_up_with_a_new_subject_keeps_the_question(assistant):
    # 那实用新型呢 after 外观设计能保护多久 asks the same of 实用新型: the subject is swapped in place
    assert subject_swapped("外观设计能保护多久", "那实用新型呢") == "实用新型能保护多久"
    assert subject_swapped("烟台有多少个院士工作站", "那高层次人才呢") == "烟台有多少高层次人才"  # 个 was 工作站's
    assert subject_swapped("烟台有多少个院士工作站", "青岛呢") == ""  # a place: the place is swapped instead
    history = [{"role": "user", "content": "外观设计专利能保护多久"}]
    assert assistant.ask("那实用新型呢", history=history).text.split("\n")[0] == "**十年**"
    history.append({"role": "user", "content": "那实用新型呢"})
    assert assistant.ask("发明呢", history=history).text.split("\n")[0] == "**二十年**"


def _traditional(text: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(text)


def test_traditional_script_and_spaced_labels_are_articles_too():
    """A law in traditional script (第三條之一, 第一節) or as PDF text spaces it (第 3 条) has the
    same articles, paths and 项 as the simplified original, and the same place in the hierarchy."""
    expected = [(a.label, len(a.path), [p.item for p in a.paragraphs]) for a in parse_articles(parse_document(LAW, "s").text)]
    spaced = LAW.replace("第一条", "第 1 条").replace("第二条", "第 二 条").replace("第一节", "第 一 节")
    for variant in (_traditional(LAW), spaced):
        doc = parse_document(variant, "law")
        arts = parse_articles(doc.text)
        assert doc.statute and [(a.label, len(a.path), [p.item for p in a.paragraphs]) for a in arts] == expected
    trad = parse_document(_traditional(LAW), "law")
    assert parse_articles(trad.text)[3].path == ("第二章 許可", "第一節 一般規定")
    assert doc_type_of("中華人民共和國專利法") == "法律" and region_of("澳門特別行政區工業產權法律制度") == "澳门"
    assert version_key("中華人民共和國專利法") == version_key("中华人民共和国专利法")


def test_a_traditional_script_law_is_found_and_cited_by_article(tmp_path, settings):
    from bot import Retriever, build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "law.md").write_text(_traditional(LAW), encoding="utf-8")
    build_index(corpus, tmp_path / "idx", settings=settings, progress=False)
    hits = Retriever.load(tmp_path / "idx", settings=settings).search("权利被质押了还能许可别人用吗", k=3)
    assert hits[0].article == "第三条之一" and hits[0].citation == "《某某保護條例》第三条之一"
    assert "（二）權利被質押" in hits[0].text  # quoted as written


def test_subject_of_a_regulation():
    assert subject_of("计算机软件保护条例") == "计算机软件" and subject_of("中华人民共和国知识产权海关保护条例") == "海关"
    assert subject_of("著作权集体管理条例") == "著作权集体管理" and subject_of("中华人民共和国专利法实施细则") == ""
    assert subject_of("国务院关于涉外知识产权纠纷处理的规定") == "涉外知识产权纠纷处理"


def test_a_regulation_of_the_subject_asked_about_is_not_outranked_by_the_general_law(tmp_path, settings):
    # the hierarchy puts a law before a regulation, but asked about software (App, 代码), the
    # software regulation's own article answers: 职务作品 in the copyright law is the general rule
    from bot import Retriever, build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("著作权法(2020-11-11).md", "计算机软件保护条例(2013-01-30).md"):
        shutil.copy2(SHIPPED / "laws" / name, corpus / name)
    build_index(corpus, tmp_path / "idx", settings=settings, progress=False)
    retriever = Retriever.load(tmp_path / "idx", settings=settings)
    hits = retriever.search("我是公司程序员，老板指定让我开发的那套App，代码版权归我个人还是公司？", k=3)
    assert hits[0].citation == "《计算机软件保护条例》第十三条"
    # a question about works in general still gets the law first
    assert retriever.search("员工上班时按公司安排写的文章，版权归谁？", k=3)[0].citation.startswith("《中华人民共和国著作权法》")


NOTICE = """# 青岛市人民政府关于印发《青岛市专利资助办法》的通知

各区、市人民政府，市政府各部门：现将《青岛市专利资助办法》印发给你们，请认真贯彻执行。

青岛市专利资助办法

第一条 为鼓励发明创造，制定本办法。

第二条 本办法适用于本市行政区域内的单位和个人。

第三条 对授权的发明专利，每件资助3000元。

第四条 对通过《专利合作条约》途径提交的国际专利申请，每件资助10000元。

第五条 同一单位每年获得的资助总额不超过50万元。

第六条 申请资助的单位和个人应当在专利授权之日起一年内提出申请。

第七条 以欺骗手段骗取资助的，追回资助资金，三年内不再受理其申请。

第八条 本办法自2024年1月1日起施行。
"""


def test_a_notice_carrying_rules_is_cited_by_the_rules(tmp_path, settings):
    """关于印发《…办法》的通知: a 青岛 rule, its articles cited and looked up by the rules' name."""
    from bot import Assistant, Retriever, build_index

    doc = parse_document(NOTICE, "notice.md")
    assert doc.statute and (doc.doc_type, doc.region) == ("地方性法规", "青岛")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notice.md").write_text(NOTICE, encoding="utf-8")
    build_index(corpus, tmp_path / "idx", settings=settings, progress=False)
    retriever = Retriever.load(tmp_path / "idx", settings=settings)
    assert retriever.search("青岛发明专利资助多少钱", k=1)[0].citation == "《青岛市专利资助办法》第三条"
    answer = Assistant(retriever).ask("青岛市专利资助办法第三条")
    assert answer.answered and "每件资助3000元" in answer.text and "《青岛市专利资助办法》第三条" in answer.text


def test_a_long_preamble_and_an_attachment_stay_out_of_the_articles():
    """A notice's long preamble does not hide its rules, and 附件：申请表 after the last article
    is neither part of it nor dropped: it is cut like any other text."""
    preamble = "为深入实施知识产权强市战略，进一步激发全社会创新活力，结合本市实际，制定本办法。" * 8
    text = NOTICE.replace("请认真贯彻执行。", "请认真贯彻执行。" + preamble) + "\n附件：青岛市专利资助申请表\n\n申请单位 | 专利号 | 申请金额\n"
    doc = parse_document(text, "notice.md")
    assert doc.statute
    chunks, _ = chunk_documents([doc], 300, 60, 5, article_size=500)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    last = next(c for c in chunks if c.article == "第八条")
    assert last.text == "第八条 本办法自2024年1月1日起施行。"
    attachment = next(c for c in chunks if "申请单位 | 专利号" in c.text)
    assert not attachment.article and doc.text[attachment.start:attachment.end] == attachment.text
    assert any(preamble[:20] in c.text and not c.article for c in chunks)


def test_statute_docx_and_pdf(tmp_path):
    """A law arriving as Word or PDF is cut by article like a Markdown one."""
    docx = pytest.importorskip("docx")
    body = [line for line in LAW.splitlines() if line.strip() and not line.startswith("#")]
    d = docx.Document()
    d.add_heading("某某保护条例", 1)
    for line in body:
        d.add_paragraph(line.lstrip("# "))
    d.save(tmp_path / "law.docx")
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(tmp_path / "law.pdf"), pagesize=A4)
    c.setFont("STSong-Light", 11)
    y = 800
    for line in ["某某保护条例", *[ln.lstrip("# ") for ln in body]]:
        c.drawString(40, y, line)
        y -= 18
    c.save()
    docs, skipped = load_corpus(tmp_path)
    assert not skipped and len(docs) == 2
    for doc in docs:
        chunks, _ = chunk_documents([doc], 300, 60, 5, article_size=500)
        labels = [ch.article for ch in chunks if ch.article]
        assert labels == ["第一条", "第二条", "第三条", "第三条之一", "第四条"], (doc.path, labels)
        # the law's own text names and dates it, not the file's properties (an "untitled" PDF
        # exported today, a Word template's creation date)
        assert (doc.title, doc.date, doc.effective, doc.doc_type) == ("某某保护条例", "2023-12-11", "2024-01-20", "行政法规")


@pytest.mark.parametrize("prop, title", [("untitled", ""), ("文档1", ""), ("新建文本文档 (2)", ""), ("Document2", ""), ("(anonymous)", ""),
                                         ("Microsoft Word - 专利法.doc", "专利法"), ("威海市知识产权资助办法", "威海市知识产权资助办法")])
def test_a_placeholder_file_title_is_no_title(prop, title):
    assert file_title(prop) == title


def test_citation_in_api(retriever):
    hits = retriever.search("专利开放许可声明", k=5)
    law = next(h for h in hits if h.article)
    data = law.to_dict()
    assert data["citation"] == f"《{law.title}》{law.article}"
    assert data["article"].startswith("第") and data["doc_type"] and "chapter" in data


def test_current_version_ranks_first(retriever):
    hits = retriever.search("专利实施细则 专利权人与被许可人订立的专利实施许可合同备案", k=8)
    rules = [h for h in hits if "实施细则" in h.title]
    assert rules and not rules[0].superseded
    assert all(not h.superseded for h in hits[:1])


def test_superseded_text_is_marked(retriever):
    old = [d for d in retriever.documents.values() if d.superseded_by]
    assert old and all("实施细则" in d.title for d in old)


@pytest.mark.parametrize("question, cited, quoted", [
    ("我的专利能不能申请开放许可？需要满足什么条件？", "第五十条", "实行开放许可"),
    ("专利被质押了还能做开放许可吗", "第八十六条第（四）项", "（四）专利权被质押，未经质权人同意的；"),
    ("发明专利的保护期限是多少年？", "第四十二条", "发明专利权的期限为二十年"),
    ("外观设计专利能保护多久", "第四十二条", "外观设计专利权的期限为十五年"),
    ("员工在本职工作中做出的发明，专利归谁？", "第六条", "职务发明创造申请专利的权利属于该单位"),
])
def test_statute_answers_quote_and_cite_the_article(assistant, question, cited, quoted):
    ans = assistant.ask(question)
    print("\n" + ans.text)
    text = ans.text.replace("**", "")
    assert ans.answered and quoted in text and cited in text
    assert any(q.cite_as.endswith(cited) for q in ans.quotes)
    assert not any(h.superseded for h in ans.citations[:1])


def test_a_figure_the_question_does_not_single_out_is_given_with_each_of_its_rivals(assistant):
    # 专利能保护多久 names no kind of patent: 第四十二条's three terms answer together, each with its kind
    ans = assistant.ask("专利能保护多久")
    assert ans.text.split("\n")[0] == "发明专利权的期限为**二十年**；实用新型专利权的期限为**十年**；外观设计专利权的期限为**十五年**"
    # named, one stands out
    assert assistant.ask("外观设计专利能保护多久").text.split("\n")[0] == "**十五年**"


def test_the_figure_is_the_one_said_of_what_is_asked(assistant):
    # 有效期 is what 商标注册有效期多久 asks the length of: 十二个月 is said of 商标注册人, 十年 of 有效期;
    # and a length of time is asked, so 一届 (a count) is none
    q = analyse("商标注册有效期多久")
    assert q.attribute == "有效期" and q.asks_duration
    article = ("注册商标有效期满，需要继续使用的，商标注册人应当在期满前十二个月内按照规定办理续展手续；在此期间未能办理的，"
               "可以给予六个月的宽展期。每次续展注册的有效期为十年，自该商标上一届有效期满次日起计算。")
    assert key_figure(q, article) == "十年"
    # a report: 合同额 is an amount of money, not the 8项 beside it
    ans = assistant.ask("新药创制山东省实验室转化交易合同额多少")
    assert ans.text.split("\n")[0] == "**16亿元**", ans.text


def test_a_list_article_is_quoted_whole_with_each_item_on_its_line(assistant):
    ans = assistant.ask("质押给银行的专利还能搞开放许可吗")
    print("\n" + ans.text)
    # 细则第八十六条 is one passage: all five items, the one that answers in bold
    assert "\n> **（四）专利权被质押，未经质权人同意的；**\n> （五）其他妨碍专利权有效实施的情形。" in ans.text


def test_a_piece_of_a_long_article_is_quoted_with_its_lead(assistant, retriever):
    # 细则第二十条 (what a description contains) is split: its first piece starts with the article,
    # yet is not all of it
    question = "写专利说明书，背景技术那部分要写些什么？"
    pieces = [h for h in retriever.search(question, k=10) if h.article == "第二十条" and "说明书" in h.text]
    assert pieces and not any(h.whole_article for h in pieces)
    ans = assistant.ask(question)
    print("\n" + ans.text)
    assert "说明书应当包括下列内容：……（二）背景技术" in ans.text.replace("**", "")
    assert "（一）技术领域" not in ans.text


def test_the_in_force_article_answers_only_when_asked():
    from bot.selection import candidates

    def best(question: str, text: str) -> float:
        hit = Hit(text, "a", "中华人民共和国商标法", "2019-04-23", "", 1.0, 0, 0, 20, article="第七十三条", whole_article=True)
        return max(c.score for c in candidates(analyse(question), 0, hit))

    in_force, other = "第七十三条 本法自1983年3月1日起施行。", "第七十三条 本法于1983年3月1日通过。"
    # the same words, but 本法自…起施行 is no answer to a renewal question (it was quoted as a rival)
    assert best("商标到期十年了忘了续展怎么办？", in_force) < best("商标到期十年了忘了续展怎么办？", other) - 0.25
    assert best("商标法是从哪天开始施行的？", in_force) >= best("商标法是从哪天开始施行的？", other)


def test_a_statute_figure_is_the_quoted_articles_own():
    # the quoted article states no figure; its companion (another law) does: nothing is bolded
    law = Hit("第二十条 实际损失可以根据销售量减少的总数乘以合理利润计算。", "a", "最高人民法院关于审理专利纠纷案件的若干规定",
              "2020-12-29", "", 1.0, 0, 0, 30, article="第二十条")
    other = Hit("第六十三条 由人民法院判决给予五百万元以下的赔偿。", "b", "中华人民共和国商标法", "2019-04-23", "", 0.9, 1,
                0, 25, article="第六十三条")
    q = analyse("专利侵权损失算不清，法院能判赔多少？")
    chosen = [Candidate(0, law.text, 0, len(law.text), 1.0, ""), Candidate(1, other.text, 0, len(other.text), 0.9, "五百万元")]
    text = compose(q, q.text, [law, other], chosen, 3).text
    assert "**" not in text and text.startswith("依据")


@pytest.mark.parametrize("question", ["专利法第50条", "专利法第五十条说的是什么", "《专利法》第五十条",
                                      "律师让我查查专利法第五十条讲的啥"])  # the law's name after other words
def test_article_lookup(assistant, question):
    ans = assistant.ask(question)
    assert ans.answered and ans.citations[0].citation == "《中华人民共和国专利法》第五十条"
    assert "专利权人自愿以书面方式" in ans.text


def test_article_lookup_takes_the_current_version(assistant):
    ans = assistant.ask("实施细则86条")
    assert ans.answered and not ans.citations[0].superseded and ans.citations[0].date == "2023-12-11"
    assert "开放许可" in ans.text
    assert "\n> （四）专利权被质押，未经质权人同意的；\n" in ans.text  # each item on its own line, as in answers


def test_a_version_is_read_by_its_year():
    from bot.statute import version_requests, without_versions

    assert version_requests("2010年版专利法实施细则第八十六条") == [(("专利法实施细则", "专利法"), "2010")]
    assert version_requests("1992年那版专利法里，发明专利保护多少年") == [(("专利法",), "1992")]
    assert version_requests("《专利法实施细则》(2010年修订)第八十六条") == [(("专利法实施细则",), "2010")]
    assert version_requests("我2019年申请的商标，商标法规定几年续展") == []  # the asker's year, not a version
    assert without_versions("2010年的专利法实施细则里奖金最少多少") == "专利法实施细则里奖金最少多少"


def test_an_older_version_asked_for_is_quoted_and_marked(assistant):
    # the corpus holds the 2010 细则 as well: it used to say it had no 2010 version
    ans = assistant.ask("2010年版专利法实施细则第八十六条")
    assert ans.answered and ans.citations[0].superseded and ans.citations[0].date == "2010-01-09"
    assert "中止有关程序" in ans.text and "已被 2023-12-11 的版本取代" in ans.text
    assert ans.query == "2010年版专利法实施细则第八十六条"  # the question as asked, version and all
    # an article that reads as in the current version is kept once, under it: still found
    ans = assistant.ask("2010年版实施细则第七条")
    assert ans.answered and "国防专利机构" in ans.text and "文字相同" in ans.text
    # a question about the older version is answered from it alone, and says so
    ans = assistant.ask("2010年的专利法实施细则，职务发明的奖金最少多少")
    assert ans.answered and ans.citations[0].date == "2010-01-09" and "您问的 2010-01-09 的版本" in ans.text
    # a version the corpus lacks is said, with the versions it has
    ans = assistant.ask("2001年的专利法实施细则第十条")
    assert not ans.answered and "只有 2023-12-11、2010-01-09 的版本" in ans.text
    ans = assistant.ask("1992年那版专利法里，发明专利保护多少年？")
    assert not ans.answered and "没有收录 1992 年的版本" in ans.text


@pytest.mark.parametrize("question, says", [
    ("专利法第九十条规定了什么？", "没有第九十条"),
    ("《知识产权法》第十二条怎么说的", "没有找到《知识产权法》"),
    ("律师让我看看知识产权法第十二条", "没有找到《知识产权法》，"),
    ("帮我找找反垄断法第五条", "没有找到《反垄断法》，"),
    ("2008年版专利法第六十三条原文是什么？", "没有收录 2008 年的版本"),
    # a law named without an article: another law's article is no answer to it
    ("《促进科技成果转化法》里职务发明的奖励比例最低多少？", "没有收录《促进科技成果转化法》"),
    ("民法典里对职务发明有没有规定", "没有收录《民法典》"),
])
def test_missing_law_or_article_is_said(assistant, question, says):
    ans = assistant.ask(question)
    assert not ans.answered and says in ans.text


def test_a_district_with_rules_of_its_own_is_a_place():
    # 上海市浦东新区…若干规定 answers for 浦东, and only a passage about it may
    assert analyse("在浦东办展会，参展商没交不侵权承诺书，主办方会被罚吗").places == ["浦东"]


def test_a_provincial_rule_governs_its_cities(assistant):
    from bot.places import enclosing

    assert enclosing("崂山") == ["青岛", "山东"] and enclosing("山东") == []
    q = analyse("在济南，专利行政部门处理侵权纠纷要满足什么条件？")
    assert q.places == ["济南"] and q.jurisdictions == ["济南", "山东"]
    # 山东省专利条例 applies in 济南: it was refused as not being about 济南
    ans = assistant.ask(q.text)
    assert ans.answered and ans.citations[0].citation == "《山东省专利条例》第十八条"
    # but the province's figures do not count the city
    assert not assistant.ask("济南今年专利质押融资多少亿元").answered


def test_an_article_about_another_right_is_no_answer(assistant):
    from bot.statute import rights_named

    assert analyse("淄博的企业商标被人仿冒了，找哪个部门处理？").rights == {"商标"}
    assert analyse("我的App源码被人抄了").rights == {"著作权"} and rights_named("山东省专利条例") == {"专利"}
    # the test corpus's laws are all about patents: 山东省专利条例's reward and dispute articles
    # were quoted for a trademark and a novel
    for question in ("在济南注册商标，政府有奖励吗", "我在济南写了本小说，被人盗版了，去哪里投诉"):
        assert not assistant.ask(question).answered, question


def test_a_word_ending_in_shi_or_guo_is_not_a_place():
    from bot.query import places_in

    # 上市 (listed on the market) was read as a city, and the answer refused for not being about it
    assert places_in("芯片已经上市卖了一年多，现在补登记来得及吗") == []
    assert places_in("出国参展前要注意什么") == []
    assert places_in("潍坊市的企业能拿到多少补贴") == ["潍坊"]
    # place names that are everyday words name the place only with a cue
    assert places_in("种子袋开封后发现是假种子，能找谁") == [] and places_in("开封市的企业能拿多少补贴") == ["开封"]
    assert places_in("大棚日照不够影响品种吗") == [] and places_in("在日照开公司有什么专利政策") == ["日照"]
    assert "临港" in places_in("上海临港新片区的专利资助有多少")


def test_a_named_law_in_the_corpus_is_answered_from(assistant):
    ans = assistant.ask("专利法里对开放许可是怎么规定的？")
    assert ans.answered and "专利法" in ans.citations[0].citation
    assert analyse("有什么办法补救？这种做法合法吗").laws == []


def test_filler_words_do_not_count_against_a_quote(retriever):
    from bot.refusal import matchable_coverage

    # 压根, 店里, 打算… appear in no passage: no article could cover them, so a quote sharing 10% of
    # the question's terms shares far more of those a passage could match
    chatty = analyse("我们店里压根不懂，打算把专利年费拖着不交，专利会终止吗？")
    plain = analyse("没有缴纳年费，专利权会终止吗？")
    quote = Candidate(0, "", 0, 0, 0.0, "", coverage=0.1)
    assert matchable_coverage(retriever, chatty, quote) > 0.2
    assert matchable_coverage(retriever, plain, quote) == pytest.approx(0.1)


def test_nouns_of_any_situation_are_no_unknown_topic(retriever):
    """东西 and 道理 occur in no law, but a question is not about them: they do not weaken the
    evidence as an unknown topic (青花椒) does (老东家说专利该归他们，有道理吗 was refused)."""
    quote = [Candidate(0, "", 0, 0, 0.5, "")]
    assert evidence_strength(retriever, analyse("辞职后搞出的新东西，专利归老东家有道理吗？"), quote, 1.0, 1.0) == 0.5
    assert evidence_strength(retriever, analyse("辞职后搞出的青花椒，专利归老东家吗？"), quote, 1.0, 1.0) < 0.5


def test_a_figure_about_a_name_the_corpus_never_mentions_is_refused(assistant):
    # no passage speaks of 腾讯's case, so 专利法第七十一条's 三万元以上五百万元以下 is no answer
    assert not assistant.ask("腾讯和阿里那场专利官司，法院最后判了多少钱？").answered
    assert assistant.ask("我在华为上班，职务发明的专利归谁？").answered  # a name in a situation is fine


def test_an_amount_asked_in_a_second_breath_must_be_stated(assistant):
    # 专利法第四十三条 says a fee is due, not how much it is
    assert not assistant.ask("发明专利授权以后每年都要交年费吗？交多少？").answered


@pytest.mark.parametrize("question, laws", [
    ("书法受保护吗", []), ("我发明了一种针灸疗法，能申请专利吗", []), ("游戏玩法能受著作权保护吗", []),
    ("按照新法，商标侵权赔偿上限是多少", []), ("我们公司的《员工知识产权管理办法》合法吗", []),
    ("民法典里对职务发明有没有规定", ["民法典"]), ("《促进科技成果转化法》里奖励比例最低多少", ["促进科技成果转化法"]),
])
def test_only_a_law_is_read_as_a_law(question, laws):
    assert analyse(question).laws == laws


def test_a_share_written_in_words_is_a_percentage():
    """The laws write 不低于百分之二十, people ask 多少比例 (%): the figure is the answer's."""
    from bot.selection import key_figure

    q = analyse("学校转让专利后至少得拿出多少比例奖励发明人？")
    assert q.unit == "%"
    assert key_figure(q, "应当从转让的净收入中提取不低于百分之六十的比例用于奖励，五年内每年提取") == "不低于百分之六十"
    from bot.text import FIGURE, has_figure

    assert has_figure("应当在三十日内作出决定", "天") and not has_figure("有效期为10年", "天")
    # working days are days, and the whole count is the figure (was 三个)
    assert has_figure("应当在三个工作日内通知被投诉人", "天")
    assert [m.group() for m in FIGURE.finditer("海关应当自扣留之日起30个工作日内")] == ["30个工作日"]
    # a limit keeps its 不得: 一次不得超过一年 is not "more than a year" (was **超过一年**)
    assert [m.group() for m in FIGURE.finditer("保全的期限一次不得超过一年")][-1] == "不得超过一年"


def test_a_count_the_law_does_not_state_is_refused(assistant):
    """几次 asked of the law: an article with a time limit in months is no answer (it was **三个月**);
    the laws write days as 日, so 几天 is still answered by 十五日."""
    assert not assistant.ask("专利复审一般要开几次会？").answered
    ans = assistant.ask("专利侵权纠纷处理要几天能有结果？")
    assert ans.answered and "十五日" in ans.text


def test_a_count_matches_in_either_numerals():
    from bot.query import numeral_forms
    from bot.text import occurs

    assert numeral_forms("两年") == ("2年", "二年") and numeral_forms("30天") == ("30日", "三十天", "三十日")
    assert numeral_forms("第三年") == () and numeral_forms("专利") == ()
    q = analyse("授权公告后三个月内提出期限补偿来得及吗")
    # the 2023 细则 writes Arabic figures: 自公告授予专利权之日起3个月内
    assert coverage(["三个月"], match_form("自公告授予专利权之日起3个月内向国务院专利行政部门提出"), q.aliases) == 1.0
    assert not occurs("3年", "2023年") and occurs("3年", "连续3年不使用")
    # a count the asker states (满10年) is the situation, not the figure asked for, in any numerals
    from bot.selection import key_figure
    renew = analyse("我们的商标明年就满10年了，提前多久能去续？")
    assert key_figure(renew, "应当在期满前十二个月内按照规定办理续展手续。每次续展注册的有效期为十年") == "十二个月"


def test_question_reading_edge_cases():
    from bot.query import places_in

    assert analyse("年费可以晚交多少个月？").unit == "个月" and not analyse("年费可以晚交多少个月？").asks_money
    assert analyse("要交备案费吗？交多少？").asks_money and analyse("商标侵权要赔多少钱").asks_money
    # a sum named by what it is for (扣多少保证金, 发多少奖金) is money asked in a second breath too
    assert analyse("几天内必须申诉？超时会扣多少保证金？").asks_money and analyse("最少得给发明人发多少奖金？").asks_money
    assert analyse("对处罚决定不服，多久能申请复议").unit == ""  # 处罚 is no amount of money asked
    assert places_in("泉州对专利质押贷款有什么补贴") == ["泉州"] and places_in("在泰国申请商标要多久") == ["泰国"]
    assert analyse("商标是啥时候到期").defines == ""
    assert analyse("侵权了归法院还是归市场监管局管").kind != "owner" and analyse("这事归谁管").kind == "who"
    assert analyse("请人代笔写的自传，版权算我的还是写手的？").kind == analyse("著作权是我的还是公司的？").kind == "owner"
    assert "计算机软件" in analyse("APP源码被抄了").statutory
    # A不A asks yes or no: 带了几个包 is the situation, not a count asked for
    assert analyse("行李里带了几个仿冒名牌包自己用，会不会被海关扣下？").kind == "condition"
    assert analyse("这算不算侵权").kind == analyse("需不需要备案").kind == "condition"
    # the sentences before the asking one tell the story: 几百件 is not what is asked
    assert analyse("我在网上卖了几百件。被投诉了能不能接着卖？").kind == "condition"
    q = analyse("什么是商标？")
    assert not q.defined_in(match_form("期满未答复的，视为撤回申请，商标评审委员会不予受理。"))


def test_a_name_in_the_askers_situation_is_no_reason_to_refuse(retriever):
    from bot.refusal import unknown_names

    for question in ("我设计了一个很美的包装，外观设计专利保护多少年", "在淘宝上卖假冒注册商标的商品，最多罚多少"):
        assert unknown_names(retriever, analyse(question)) == []


def test_how_long_one_usually_waits_is_practice_not_a_rule(assistant):
    """一般要等几年 / 实际要排多久 ask how long applications take in practice; 第四十二条's 四年
    (the delay after which the term is extended) was quoted as the answer."""
    for question in ("发明专利从申请到授权一般要等几年？", "实用新型专利实际要排多久才能拿证？"):
        assert not assistant.ask(question).answered, question


def test_statute_refusals(assistant):
    for question in ("发明专利第6年的年费现在是多少钱？", "在美国申请外观设计专利要多久？", "深圳的企业申请发明专利，政府能补贴多少钱？",
                     "发明专利从申请到授权，平均要等多久？"):  # a law states rules, not averages (was **四年**)
        assert not assistant.ask(question).answered, question


def test_what_follows_from_an_act_ranks_the_article_stating_it(retriever):
    """不交年费会怎么样 is answered by 第四十四条 (专利权在期限届满前终止), not by 第四十三条, which
    only says the fee is due and shares more of the question's words."""
    hits = retriever.search("专利权人一直不交年费，专利会怎么样？", k=3)
    assert hits[0].article == "第四十四条", [h.citation for h in hits]
    assert "第四十三条" in [h.article for h in hits]  # the duty itself is still near


def test_what_follows_is_quoted_first(assistant):
    """Asked 会怎么样, the answer opens with the article saying what follows (实施细则第一百一十五条:
    …专利权自应当缴纳年费期满之日起终止), not with 第四十三条, which only says the fee is due."""
    ans = assistant.ask("专利权人一直不交年费，专利会怎么样？")
    assert ans.answered and ans.quotes[0].cite_as in ("《中华人民共和国专利法实施细则》第一百一十五条", "《中华人民共和国专利法》第四十四条")
    from bot.statute import states_consequence

    assert states_consequence("自然人、法人和非法人组织有下列情形之一的，三年内不得申请政府财政性资金项目")
    # 会作废吗 asks whether it follows: 第四十四条 (终止) answers, not 第四十三条 on paying
    assert analyse("专利年费忘交了，专利会作废吗？").asks_consequence
    ans = assistant.ask("专利年费忘交了，专利会作废吗？")
    assert ans.quotes[0].cite_as.startswith("《中华人民共和国专利法》第四十四条"), [x.cite_as for x in ans.quotes]


def test_a_count_asked_of_an_article_without_any_figure_is_refused(assistant):
    """多少 with no unit (多少分, 写多少): an article quoted for it must state some figure; 实施细则
    第二十条 on what a description contains states none (it was quoted as the answer)."""
    ans = assistant.ask("发明专利的说明书最多能写多少？")
    assert not ans.answered and ans.citations
    assert assistant.ask("发明专利权的期限是多少年？").answered


def test_a_month_asked_of_an_article_without_a_date_is_refused(assistant):
    """几月份 asks for a date; 第四十三条 says when fees start and 实施细则第一百一十五条 that each is
    due before the year's term ends, and neither names a month: they are the nearest passages,
    not an answer."""
    ans = assistant.ask("专利年费每年几月份交？")
    assert not ans.answered and "《中华人民共和国专利法》第四十三条" in [h.citation for h in ans.citations]


def test_how_a_named_case_ended_is_not_in_the_laws(assistant):
    """No passage speaks of the “青花椒” case: the law's article on invalidation is no verdict."""
    assert not assistant.ask("前两年那个“青花椒”专利官司，法院最后怎么判的？").answered
    assert assistant.ask("专利侵权官司输了，法院一般怎么判赔偿？").answered  # no name: the law's rule answers


def test_each_ask_and_the_article_implementing_the_first(assistant):
    """Two asks get an article each (第五十条 on conditions, 第五十一条 on fees); the regulation
    article implementing the first (实施细则第八十六条) is still quoted beside them."""
    ans = assistant.ask("我的专利想搞开放许可，需要满足什么条件？许可费怎么定？")
    cited = [h.citation for h in ans.citations]
    assert ans.answered and "《中华人民共和国专利法》第五十条" in cited, cited
    assert "《中华人民共和国专利法实施细则》第八十六条" in cited, cited


def test_a_whole_list_asked_for_is_cited_as_its_article(assistant):
    """哪些 asks for the list: 第二十四条 is quoted whole and cited whole, not as its first item
    (it was cited as 第二十四条第（一）项, the emergency case nobody asked about)."""
    ans = assistant.ask("申请日前哪些公开不会让发明丧失新颖性？")
    assert ans.answered and "依据《中华人民共和国专利法》第二十四条 [1]" in ans.text
    assert ans.quotes[0].cite_as == "《中华人民共和国专利法》第二十四条"


def test_which_cases_is_not_where(assistant):
    """在哪些情况下 asks which cases, not for an address: it was refused for want of one."""
    assert analyse("专利权在哪些情况下会提前终止？").kind != "where" and analyse("专利局在哪办公？").kind == "where"
    ans = assistant.ask("专利权在哪些情况下会提前终止？")
    assert ans.answered and ans.quotes[0].cite_as == "《中华人民共和国专利法》第四十四条"


def test_what_cannot_be_patented_is_read_as_what_is_not_granted(assistant):
    # 不能申请专利 in the laws' words is 不授予专利权 (第五条, 第二十五条), not 第四条 on secrecy
    ans = assistant.ask("哪些东西不能申请专利？")
    assert ans.answered and ans.quotes[0].cite_as in ("《中华人民共和国专利法》第五条", "《中华人民共和国专利法》第二十五条")


@pytest.mark.parametrize("question, head", [
    ("专利法什么时候施行的", "本法自**1985年4月1日**起施行。"),
    ("新专利法什么时候开始实施", "本法自**1985年4月1日**起施行。"),
    ("专利法是哪一年通过的", "**1984年3月12日** 第六届全国人民代表大会常务委员会第四次会议通过"),
    ("专利法最近一次修改是什么时候", "**2020年10月17日** 第十三届全国人民代表大会常务委员会第二十二次会议"),
    ("专利法修改过几次", "资料库中的《中华人民共和国专利法》文本列出了 **4** 次修改："),
    ("山东省专利条例什么时候开始施行", "**2013年9月1日**起施行"),
])
def test_when_a_law_was_made_changed_or_took_effect(assistant, question, head):
    # from the law's history lines and its 施行 article, not from an article that holds some date
    ans = assistant.ask(question)
    print("\n" + ans.text)
    assert ans.answered and ans.text.startswith(head)
    assert "的制定和修改 [1]：" in ans.text and not ans.citations[0].article


def test_the_first_date_in_force_is_not_passed_off_as_the_current_texts(assistant):
    # 本法自1985年4月1日起施行 is the original date; the 2020 amendment's is not in the text
    ans = assistant.ask("专利法什么时候施行的")
    assert "现行文本是 2020年10月17日 修改的版本，资料库中的文本没有写明这次修改的施行日期" in ans.text
    assert [h.article for h in ans.citations] == ["", "第八十二条"]
    # a question that names no law is no question about one
    assert "制定和修改" not in assistant.ask("我的专利什么时候生效").text


def test_the_history_of_an_older_version_asked_for_is_its_own(assistant):
    ans = assistant.ask("2010年版的专利法实施细则是什么时候施行的")
    print("\n" + ans.text)
    assert ans.answered and all("2010-01-09" in h.doc_id for h in ans.citations)
    assert "这一文本是 2010年1月9日 修改的版本" in ans.text and "已被 2023年12月11日 的版本取代" in ans.text


def test_each_clause_of_an_article_with_several_is_embedded_too():
    from bot.chunking import Chunk

    text = ("第五十九条 注册商标中含有的本商品的通用名称，注册商标专用权人无权禁止他人正当使用。\n\n"
            "商标注册人申请商标注册前，他人已经先于商标注册人使用…的，注册商标专用权人无权禁止该使用人在原使用范围内继续使用该商标。")
    chunk = Chunk(0, "law", text, 0, len(text), "中华人民共和国商标法", article="第五十九条", path="第七章 注册商标专用权的保护")
    parts = chunk.parts()
    assert len(parts) == 2 and all(p.startswith("中华人民共和国商标法\n第七章 注册商标专用权的保护\n第五十九条 ") for p in parts)
    assert "原使用范围内继续使用" in parts[1] and "通用名称" not in parts[1]
    # items stay with their list, one 款 is the article itself, and news passages have no parts
    listed = Chunk(0, "law", "第八十六条 有下列情形之一的，不得：\n\n（一）甲的；\n\n（二）乙的。", 0, 30, "细则", article="第八十六条")
    assert listed.parts() == [] and Chunk(0, "news", "一段。\n\n另一段。", 0, 8, "新闻").parts() == []


def test_an_article_is_found_by_its_later_clause(assistant_over):
    # 商标法第五十九条's third 款 (a name used before another's registration may go on being used)
    # is drowned in the whole article's vector by its first 款 on 通用名称
    laws = assistant_over("商标法(2019-04-23).md", "商标法实施条例(2014-04-29).md")
    hits = laws.retriever.search("我家小饭馆的招牌用了十来年，本地都知道，结果被别人抢注成商标了，我还能继续用吗", k=3)
    assert "第五十九条" in [h.article for h in hits], [h.citation for h in hits]
    assert laws.retriever.store.parts is not None


def test_a_share_of_a_sum_answers_what_part_is_asked(assistant):
    from bot.selection import key_figure

    surcharge = "滞纳金的金额按照每超过规定的缴费时间1个月，加收当年全额年费的5%计算"
    assert key_figure(analyse("年费晚交了，要多交多少"), surcharge) == "5%"
    assert analyse("补偿费我个人至少能分多少").asks_part and not analyse("年费到底交多少钱").asks_part
    ans = assistant.ask("专利年费忘交了，过了日子还能补吗，要多交多少")
    assert ans.answered and "5%" in ans.text and "第一百一十五条" in ans.citations[0].citation
    # the fee itself is no share: the laws do not state it
    assert not assistant.ask("发明专利每年的年费到底交多少钱？").answered


def test_on_a_matter_for_a_court_the_interpretations_weigh_as_much_as_the_law(assistant_over):
    # 惩罚性赔偿 is for a court to award: the interpretation saying when (被告经原告…通知、警告后，
    # 仍继续实施侵权行为的) ranks with the law's articles, not below all of them
    laws = assistant_over("商标法(2019-04-23).md", "最高人民法院关于审理侵害知识产权民事案件适用惩罚性赔偿的解释(2021-03-02).md")
    hits = laws.retriever.search("我给对方发了律师函警告过了，他还接着卖仿我的货，这种能要求惩罚性赔偿吗", k=3)
    assert "第三条" in [h.article for h in hits if h.doc_type == "司法解释"], [h.citation for h in hits]
    assert analyse("能去法院告他吗").court and not analyse("不想上法院，能找政府部门管吗").court


def test_a_history_cut_into_two_passages_is_read_whole(tmp_path, settings, encoder):
    # a history longer than a passage is cut in two; 修改过几次 counted only the first part's changes
    from bot import Assistant, Retriever, build_index

    changes = "\n\n".join(f"{2000 + 3 * n}年6月{n + 1}日 某某市第十五届人民代表大会常务委员会第{n + 10}次会议《关于修改〈某某市专利促进条例〉的决定》"
                          f"第{'一二三四五六'[n]}次修正" for n in range(6))
    law = (f"# 某某市专利促进条例\n\n1998年3月1日 某某市第十二届人民代表大会常务委员会第五次会议通过\n\n{changes}\n\n<!-- INFO END -->\n\n"
           "## 第一章 总则\n\n" + "\n\n".join(f"第{n}条 {rule}" for n, rule in zip("一二三四五六", (
               "为了促进专利的创造和运用，保护专利权人的合法权益，根据有关法律、法规，结合本市实际，制定本条例。",
               "市知识产权局负责本市专利促进和保护工作，区知识产权管理部门负责本辖区的有关工作。",
               "本市设立专利专项资金，用于资助专利申请、专利运用和专利保护，资金的使用和管理办法由市人民政府制定。",
               "单位和个人在本市申请专利并获得授权的，可以按照规定申请专利资助，同一专利不得重复申请资助。",
               "市知识产权局应当建立专利纠纷调解机制，当事人可以申请调解，调解达成协议的，当事人应当履行。",
               "本条例自2016年1月1日起施行。"))) + "\n")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "某某市专利促进条例.md").write_text(law, encoding="utf-8")
    build_index(tmp_path / "corpus", tmp_path / "index", settings=settings, progress=False)
    ans = Assistant(Retriever.load(tmp_path / "index", settings=settings)).ask("某某市专利促进条例修改过几次")
    assert "列出了 **6** 次修改" in ans.text, ans.text


def test_of_a_list_the_item_nearest_in_meaning_is_in_focus(copyright_assistant):
    # 书评 and 摘了几段话 share no word with any item of 第二十四条; by words, （三） (news
    # reports that 引用 works) was marked, though （二） (介绍、评论…引用) is the one that applies
    ans = copyright_assistant.ask("我在公众号上写书评，文章里摘了原书几段话，需要先找作者同意吗")
    print("\n" + ans.text)
    assert ans.answered and "**（二）为介绍、评论某一作品或者说明某一问题" in ans.text


PATENT_COURT_SHELF = ("专利法(2020-10-17).md", "专利法实施细则(2023-12-11).md", "专利代理条例(2018-11-06).md",
                      "最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释(2009-12-28).md",
                      "最高人民法院关于审理专利纠纷案件适用法律问题的若干规定(2015-01-29).md")


def test_a_courts_interpretation_that_restates_the_quoted_item_is_quoted_with_it(assistant_over):
    # 解释第十五条 says what 已经作好制造、使用的必要准备 and 原有范围 mean, citing the article
    # by its number before 2020 (第六十九条): only its wording ties it to 第七十五条（二）
    ans = assistant_over(*PATENT_COURT_SHELF).ask(
        "我们厂在别人申请专利前就一直在做这个零件，现在人家专利下来了，我们还能接着做吗？订单多了想扩产行不行")
    print("\n" + ans.text)
    cited = [h.citation for h in ans.citations]
    assert cited[:2] == ["《中华人民共和国专利法》第七十五条", "《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》第十五条"]
    assert "原有范围，包括专利申请日前已有的生产规模" in ans.text


def test_the_laws_common_wording_is_no_restatement(assistant_over):
    # 专利代理条例第十条 shares with the courts' rules only 由国务院专利行政部门, which most of the shelf says
    retriever = assistant_over(*PATENT_COURT_SHELF).retriever
    exam = retriever.article("专利代理条例(2018-11-06).md", "第十条")[0]
    assert "由国务院专利行政部门" in exam.text and retriever.restatements(exam) == []
