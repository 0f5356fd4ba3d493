"""PDF and Word files are ingested like text files, and PDF citations carry page numbers."""

from __future__ import annotations

import pytest

from bot import Retriever, build_index
from bot.corpus import load_corpus


def make_pdf(path, pages: list[list[str]], title: str = "") -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    if title:
        c.setTitle(title)
    for n, lines in enumerate(pages, 1):
        c.setFont("STSong-Light", 11)
        for i, line in enumerate(lines):
            c.drawString(40, 800 - 18 * i, line)
        c.drawString(280, 30, f"- {n} -")  # page number furniture
        c.showPage()
    c.save()


def make_docx(path, title: str, paragraphs: list[str], table: list[list[str]]) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_heading(title, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    t = d.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, cell in enumerate(row):
            t.cell(r, c).text = cell
    d.save(str(path))


@pytest.fixture(scope="module")
def office_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("office")
    make_pdf(root / "weihai-subsidy.pdf", [
        ["威海市知识产权资助办法", "第一条 为鼓励发明创造，制定本办法。", "第二条 对授权发明专利给予资助，"],
        ["每件资助5000元，同一单位每年最高20万元。", "第三条 对专利质押贷款给予贴息，贴息比例为50%。"],
        ["第四条 本办法自2024年1月1日起施行。"],
    ], title="威海市知识产权资助办法")
    make_docx(root / "rizhao-notice.docx", "日照市专利导航项目通知",
              ["各区县市场监管局：", "日照市2024年组织实施专利导航项目8项，每项支持30万元。"],
              [["项目", "数量", "支持金额"], ["产业规划类专利导航", "5项", "每项30万元"], ["企业运营类专利导航", "3项", "每项10万元"]])
    return root


def test_pdf_text_pages_and_metadata(office_corpus):
    docs, skipped = load_corpus(office_corpus)
    assert not skipped
    pdf = next(d for d in docs if d.doc_id == "weihai-subsidy.pdf")
    assert pdf.title == "威海市知识产权资助办法"
    assert "对授权发明专利给予资助，每件资助5000元" in pdf.text  # sentence joined across the page break
    assert "- 1 -" not in pdf.text and "\ue000" not in pdf.text
    assert len(pdf.extra["page_starts"]) == 2


def test_running_heads_and_page_numbers_stay_out_of_articles(tmp_path):
    """A gazette's law PDF: 国务院公报 atop every page (the law's title atop page 1 under it),
    第 N 页 共 3 页 below; an article running across pages reads on without them."""
    from bot.chunking import chunk_documents

    pages = [["某某保护条例", "2023年12月11日 国务院令第777号公布", "第一条 为了保护权利人，制定本条例。",
              "第二条 权利人可以许可他人使用，"],
             ["应当订立书面合同。", "第三条 许可合同应当备案。"],
             ["第四条 本条例自2024年1月20日起施行。"]]
    make_pdf(tmp_path / "law.pdf", [["国务院公报", *lines, f"第 {n} 页 共 3 页"] for n, lines in enumerate(pages, 1)],
             title="国务院公报2023年第35号")  # the file's title property names the gazette, not the law
    (doc,), _ = load_corpus(tmp_path)
    assert doc.title == "某某保护条例" and doc.date == "2023-12-11" and doc.statute
    assert "国务院公报" not in doc.text and "共 3 页" not in doc.text
    chunks, _ = chunk_documents([doc], 300, 60, 5, article_size=500)
    assert [c.text for c in chunks if c.article == "第二条"] == ["第二条 权利人可以许可他人使用，应当订立书面合同。"]


def test_word_list_numbers_are_part_of_the_text(tmp_path):
    """A law in Word whose articles are a list numbered 第%1条 in Chinese numerals (the numbers are
    in no paragraph's text) and whose chapters are Heading 1: cut by article like a Markdown law,
    with a 第三条之一 typed by hand between the numbered ones."""
    import docx
    from docx.oxml import parse_xml

    from bot.chunking import chunk_documents

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    d = docx.Document()
    numbering = d.part.numbering_part.element
    numbering.insert(0, parse_xml(f'<w:abstractNum {w} w:abstractNumId="90"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
                                  f'<w:numFmt w:val="chineseCounting"/><w:lvlText w:val="第%1条"/></w:lvl></w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {w} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    d.add_heading("某某保护条例", 0)
    d.add_paragraph("2023年12月11日 国务院令第777号公布")
    for kind, text in [("h", "第一章 总则"), ("n", "为了保护权利人，制定本条例。"), ("n", "本条例所称权利，是指依法取得的权利。"),
                       ("h", "第二章 许可"), ("n", "权利人可以许可他人使用。"), ("p", "第三条之一 许可应当书面进行。"),
                       ("n", "本条例自公布之日起施行。")]:
        if kind == "h":
            d.add_heading(text, 1)
            continue
        paragraph = d.add_paragraph(text)
        if kind == "n":
            paragraph._p.get_or_add_pPr().append(parse_xml(f'<w:numPr {w}><w:ilvl w:val="0"/><w:numId w:val="90"/></w:numPr>'))
    d.save(tmp_path / "law.docx")
    (doc,), _ = load_corpus(tmp_path)
    chunks, _ = chunk_documents([doc], 300, 60, 5, article_size=500)
    assert [(c.article, c.path, c.text) for c in chunks if c.article] == [
        ("第一条", "第一章 总则", "第一条 为了保护权利人，制定本条例。"),
        ("第二条", "第一章 总则", "第二条 本条例所称权利，是指依法取得的权利。"),
        ("第三条", "第二章 许可", "第三条 权利人可以许可他人使用。"),
        ("第三条之一", "第二章 许可", "第三条之一 许可应当书面进行。"),
        ("第四条", "第二章 许可", "第四条 本条例自公布之日起施行。")]
    assert (doc.title, doc.date, doc.effective, doc.doc_type) == ("某某保护条例", "2023-12-11", "2023-12-11", "行政法规")


def test_docx_paragraphs_and_tables(office_corpus):
    docs, _ = load_corpus(office_corpus)
    word = next(d for d in docs if d.doc_id == "rizhao-notice.docx")
    assert word.title == "日照市专利导航项目通知"
    assert "每项支持30万元" in word.text
    # each cell names its column: 每项10万元 read alone is the sum per project, not a count
    assert "企业运营类专利导航 | 数量：3项 | 支持金额：每项10万元" in word.text
    assert word.region == "日照"


def test_a_pdf_table_keeps_its_rows_and_columns(tmp_path):
    """Plain extraction puts each cell of a PDF table on its own line, so 100万元 lost the row
    (驰名商标) and column (资助金额) that give it its meaning."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import SimpleDocTemplate, Table

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    table = Table([["资助事项", "资助金额", "备注"], ["新认定的驰名商标", "100万元", "一次性奖励"],
                   ["马德里商标国际注册", "每件5000元", "每年最多10万元"]], colWidths=[150, 120, 170])
    table.setStyle([("FONTNAME", (0, 0), (-1, -1), "STSong-Light")])
    SimpleDocTemplate(str(tmp_path / "hefei.pdf")).build([table])
    docs, skipped = load_corpus(tmp_path)
    assert not skipped
    assert "新认定的驰名商标 | 资助金额：100万元 | 备注：一次性奖励" in docs[0].text


def test_pdf_citation_has_page_number(office_corpus, tmp_path, encoder):
    build_index(office_corpus, tmp_path / "idx", progress=False, chunk_size=40, chunk_overlap=10)
    r = Retriever.load(tmp_path / "idx")
    hit = r.search("专利质押贷款贴息比例", k=1)[0]
    assert hit.doc_id == "weihai-subsidy.pdf" and "50%" in hit.text
    assert hit.page == 2
    hit = r.search("资助办法什么时候施行", k=1)[0]
    assert hit.page == 3
    assert r.search("产业规划类专利导航支持金额", k=1)[0].page is None  # not a PDF


def test_broken_office_files_are_skipped(tmp_path):
    (tmp_path / "ok.txt").write_text("烟台有院士工作站33个。", encoding="utf-8")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 broken zip")
    docs, skipped = load_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.txt"]
    assert sorted(f.rsplit("/", 1)[-1] for f, _ in skipped) == ["bad.docx", "bad.pdf"]
