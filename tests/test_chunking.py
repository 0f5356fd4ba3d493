"""Chunks: Chinese-aware cuts, exact offsets, no duplicates."""

from __future__ import annotations

import re

from bot.chunking import chunk_documents
from bot.corpus import Document, load_corpus

from conftest import CORPUS


def test_offsets_point_into_the_cleaned_text():
    docs, _ = load_corpus(CORPUS)
    by_id = {d.doc_id: d for d in docs}
    chunks, _ = chunk_documents(docs, 300, 60, 12)
    assert len(chunks) > 40
    for c in chunks:
        assert by_id[c.doc_id].text[c.start : c.end] == c.text
        assert len(c.text) <= 300
        assert c.title == by_id[c.doc_id].title


def test_never_cuts_inside_a_number():
    text = "。".join(f"第{i}项指标增长了12345.678%，金额为98765432.1万元" for i in range(40)) + "。"
    doc = Document("d", "t", text)
    chunks, _ = chunk_documents([doc], 120, 20, 5)
    for c in chunks:
        before = text[c.start - 1] if c.start > 0 else ""
        after = text[c.end] if c.end < len(text) else ""
        assert not (re.match(r"[\d.]", before) and re.match(r"[\d.]", c.text[0])), c.text
        assert not (re.match(r"[\d.]", c.text[-1]) and re.match(r"[\d.%]", after)), c.text


def test_cuts_prefer_sentence_ends():
    text = "".join(f"这是第{i}个句子，讲的是知识产权质押融资的政策安排。" for i in range(30))
    chunks, _ = chunk_documents([Document("d", "t", text)], 100, 20, 5)
    assert all(c.text.endswith("。") for c in chunks[:-1])


def test_identical_passages_are_indexed_once():
    para = "烟台市大力开展科信贷业务，引导金融机构加大对科技型企业的支持力度，以风险补偿和信贷补贴的方式为科技型企业提供融资支持。"
    docs = [Document("a", "甲", para), Document("b", "乙", para.replace("，", ", ")), Document("c", "丙", "完全不同的内容，讲专利导航。")]
    chunks, dropped = chunk_documents(docs, 300, 60, 5)
    assert dropped == 1
    assert [c.doc_id for c in chunks] == ["a", "c"]


def test_a_notice_is_cut_at_its_section_headings():
    from bot.chunking import sections

    text = "关于申报的通知\n\n## 一、申报条件\n\n（一）在本市注册。\n\n二、申报材料\n\n1. 申请表；\n\n三、说明，本条不是标题。"
    assert [(text[s:e].split("\n")[0], h) for s, e, h in sections(text)] == [
        ("关于申报的通知", ""), ("## 一、申报条件", "一、申报条件"), ("二、申报材料", "二、申报材料")]
