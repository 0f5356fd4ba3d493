"""Ingestion: real pages come out as clean paragraphs with the right metadata."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.corpus import CorpusError, clean_text, load_corpus, parse_document

from conftest import CORPUS


@pytest.fixture(scope="module")
def seed_docs():
    docs, skipped = load_corpus(CORPUS)
    assert not skipped
    return {d.doc_id.rsplit(".", 1)[0]: d for d in docs}  # ids are file names; keyed here by stem


def test_seed_corpus_metadata(seed_docs):
    assert len(seed_docs) == 5
    laoshan = seed_docs["qingdao-laoshan-ip-pilot-zone-2022-04"]
    assert laoshan.title == "青岛市崂山区知识产权先行先试区完善创新生态环境厚植知识产权沃土"  # front matter
    assert laoshan.date == "2022-04-28"
    assert laoshan.source.startswith("http://")  # the page's own link
    assert laoshan.region == "青岛/崂山"
    policy = seed_docs["shandong-ip-measures-new-old-drivers-2018"]
    assert "鲁知规字〔2018〕7号" in policy.title and policy.date == "2018-03-20"  # sidecar
    assert policy.doc_type == "政策文件" and policy.region == "山东"
    assert seed_docs["national-ip-service-clusters-zh-hant"].region == "全国"


@pytest.mark.parametrize("junk", ["<p>", "</p>", "返回首页", "【打印】", "免责声明", "版权所有", "当前位置",
                                  "鲁ICP备", "访问量", "layout: post", "---", "您的位置", "责任编辑", "上一篇"])
def test_furniture_is_removed(seed_docs, junk):
    for doc in seed_docs.values():
        assert junk not in doc.text, (doc.doc_id, junk)


def test_a_sentence_naming_a_furniture_word_is_text():
    """专利法实施细则第十九条's item lists 邮政编码 among what an application states: it is no page footer."""
    item = "（二）申请人是中国单位或者个人的，其名称或者姓名、地址、邮政编码、统一社会信用代码或者身份证件号码；"
    assert clean_text(f"（一）名称；\n{item}\n（三）发明人的姓名；\n通信地址：北京市海淀区 邮政编码：100088") == \
        f"（一）名称；\n\n{item}\n\n（三）发明人的姓名；"


def test_a_list_of_names_of_one_length_is_no_hard_wrapped_text():
    names = [f"烟台市第{i:02d}号科技有限公司" for i in range(30)]
    assert clean_text("\n".join(names)).split("\n\n") == names


@pytest.mark.parametrize("page", ["- 3 -", "第 3 页 共 10 页", "第3页，共10页", "3 / 10"])
def test_page_number_lines_are_furniture(page):
    assert clean_text(f"第一条 为了保护权利人，制定本条例。\n{page}\n第二条 本条例自公布之日起施行。") == \
        "第一条 为了保护权利人，制定本条例。\n\n第二条 本条例自公布之日起施行。"


def test_mojibake_runs_are_dropped(seed_docs):
    text = seed_docs["national-ip-service-clusters-zh-hant"].text
    assert "?!" not in text and "?;" not in text
    assert "其中5個建設期滿的試驗區已轉入示范區建設" in text  # the text around it survives


def test_page_break_inside_sentence_is_repaired(seed_docs):
    assert "贴息补助资金1513万元" in seed_docs["yantai-ip-press-conference-2023-12"].text
    assert "核心技术专利（群）培育工作" in seed_docs["shandong-ip-measures-new-old-drivers-2018"].text
    html = "<p>对符合条件的企业给予研发补助，共计发放补助资</p>\n\n<p>金1513万元，惠及企业20家。</p>"
    assert clean_text(html) == "对符合条件的企业给予研发补助，共计发放补助资金1513万元，惠及企业20家。"


def test_headings_are_not_glued_to_body():
    text = clean_text("## 关于印发某某办法的通知\n\n各市知识产权局，各有关单位：\n\n为充分发挥作用，现印发。")
    assert text.split("\n\n")[0] == "关于印发某某办法的通知"


def test_html_entities_and_tags():
    assert clean_text("<div>专利&amp;商标&nbsp;&lt;试点&gt;</div><script>alert(1)</script>") == "专利&商标 <试点>"


def test_a_law_named_in_angle_brackets_keeps_its_name():
    """Plain-text laws write a law inside a title in ASCII angle brackets: no HTML tag."""
    doc = parse_document("# 山东省实施<中华人民共和国反不正当竞争法>办法\n\n"
                         "1993年2月22日 《关于修改<中华人民共和国商标法>的决定》第一次修正<br>", "a.md")
    assert doc.title == "山东省实施〈中华人民共和国反不正当竞争法〉办法"
    assert "《关于修改〈中华人民共和国商标法〉的决定》第一次修正" in doc.text and "<br>" not in doc.text


def test_web_table_cells_stay_apart():
    # glued cells made one figure of a year and an amount: 崂山区2023150万元
    table = ("<table><tr><th>区</th><th>年份</th><th>资助金额</th></tr>"
             "<tr><td>崂山区</td><td>2023</td><td>150万元</td></tr></table>")
    # and each cell names its column, so a row read alone still says what 150万元 is
    assert clean_text(table) == "区 | 年份 | 资助金额\n\n崂山区 | 年份：2023 | 资助金额：150万元"
    assert clean_text("| 区 | 金额 |\n|---|:--:|\n| 崂山区 | 150万元 |") == "区 | 金额\n\n崂山区 | 金额：150万元"


def test_repeated_paragraphs_kept_once():
    para = "烟台市大力开展科信贷业务，引导金融机构加大对科技型企业的支持力度。"
    assert clean_text(f"{para}\n\n中间段落，内容不同。\n\n{para}").count(para) == 1


def test_metadata_extracted_without_front_matter():
    doc = parse_document("当前位置：首页\n\n## 威海市专利资助办法\n\n发布日期：2021年6月3日\n\n威海市对发明专利给予资助，每件5000元。",
                         "x", "x.md")
    assert doc.title == "威海市专利资助办法"
    assert doc.date == "2021-06-03"
    assert doc.region == "威海"
    assert doc.source == "x.md"


def test_a_notice_is_dated_by_its_signature_and_keeps_its_contact_sentence():
    """The first date of a notice is often a condition's period (2023年1月1日至…授权) and its file
    properties say when a copy was exported; the date under the issuing body dates it. Its
    contact sentence is what people ask for, unlike a site's contact footer."""
    notice = ("关于组织申报2024年度苏州市专利资助的通知\n\n一、申报条件\n\n专利须于2023年1月1日至2023年12月31日期间获得授权。\n\n"
              "二、联系方式\n\n苏州市知识产权局，联系人：王女士，联系电话：0512-68612345。\n\n"
              "通信地址：苏州市三香路998号 联系电话：0512-00000000\n\n苏州市知识产权局\n\n2024年2月18日")
    doc = parse_document(notice, "x", "x.docx", embedded={"date": "2026-11-28"})
    assert doc.date == "2024-02-18"
    assert "0512-68612345" in doc.text and "0512-00000000" not in doc.text
    assert parse_document(notice, "x", "x.md", sidecar={"date": "2024-02-20"}).date == "2024-02-20"


def test_a_saved_web_page_is_named_by_its_heading_not_its_breadcrumb():
    page = ("<html><head><title>威海市专利资助办法_政策法规_威海市市场监督管理局</title></head><body>"
            "<div>首页 &gt; 政策法规 &gt; 正文</div><div>【字体：大 中 小】</div>{h1}"
            "<p>威海市对发明专利给予资助，每件5000元。</p><div>打印本页 关闭窗口</div><div>分享到：</div></body></html>")
    with_h1 = parse_document(page.format(h1="<h1>威海市<b>专利</b>资助办法</h1>"), "x.html", "x.html")
    assert with_h1.title == "威海市专利资助办法"
    assert with_h1.text == "威海市专利资助办法\n\n威海市对发明专利给予资助，每件5000元。"  # no page furniture
    assert parse_document(page.format(h1=""), "x.html", "x.html").title == "威海市专利资助办法"  # <title>, site name cut
    # the bare date line is furniture in the text, but still the page's date
    assert parse_document(page.format(h1="<div>2023-05-06 10:20</div>"), "x.html", "x.html").date == "2023-05-06"


def test_a_page_about_another_city_is_filed_under_it():
    # regions beyond Shandong come from the title: a page about 杭州 is 杭州's; a place only
    # mentioned in the text does not make a page local
    assert parse_document("# 杭州市2023年专利资助结果公布\n\n对发明专利给予资助。", "x", "x.md").region == "杭州"
    assert parse_document("# 知识产权服务业发展报告\n\n北京、上海、深圳的服务机构最多。", "x", "x.md").region == ""


def test_unreadable_files_are_skipped_not_fatal(tmp_path, caplog):
    (tmp_path / "good.txt").write_text("烟台有院士工作站33个，人才资源总量突破190万人。", encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("威海市对发明专利给予资助，每件5000元。".encode("gbk"))
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("外部文件不应被读取。", encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(outside)
    with caplog.at_level(logging.WARNING):
        docs, skipped = load_corpus(tmp_path)
    ids = {d.doc_id for d in docs}
    assert ids == {"good.txt", "gbk.txt"}
    assert "威海市对发明专利给予资助" in next(d for d in docs if d.doc_id == "gbk.txt").text
    assert {Path(f).name for f, _ in skipped} == {"empty.txt", "binary.txt", "link.txt"}  # named in the summary
    assert "links outside" in caplog.text


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no readable documents"):
        load_corpus(tmp_path)
