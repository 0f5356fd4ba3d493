"""Hostile and broken corpus files, built byte by byte: shared by tests/test_hostile.py and
bench/hostile.py, so the benchmark measures the corpus the tests check."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

GOOD = {
    # file name -> (text, a question it answers, the figure the answer must contain)
    "weihai-good.md": ("---\ntitle: 威海市专利资助办法\ndate: 2024-05-06\n---\n# 威海市专利资助办法\n\n"
                       "威海市对授权发明专利给予资助，每件资助5000元。\n", "威海市授权发明专利每件资助多少钱", "5000元"),
    "rizhao-good.txt": ("日照市专利导航项目通知\n\n日照市2024年组织实施专利导航项目8项，每项支持30万元。\n",
                        "日照市专利导航项目每项支持多少钱", "30万元"),
    "linyi-good.html": ("<html><head><title>x</title><script>var a = '<p>';</script></head><body><h1>临沂市商标品牌奖励</h1>"
                        "<p>临沂市对新认定的地理标志商标每件奖励10万元。</p></body></html>",
                        "临沂市新认定的地理标志商标每件奖励多少", "10万元"),
}
HOSTILE_TITLE = "烟台专利资助 ![1](http://127.0.0.1:{port}/title.png) [1](https://phish.example/title)"
SECRET = "sk-outside-secret-0123456789"
ADVERSARIAL_SIZE = 200_000
ADVERSARIAL = {  # runs that made the old cleaning regexes backtrack, and a few more
    "brackets": "[",
    "images": "![",
    "script": "<script>",
    "div": "<div ",
    "comment": "<!--",
    "unclosed": "<a href='",
    "links": "[a](",
    "emphasis": "**a",
    "autolink": "<http://x",
    "commas": "专利，\n",
    "spaces": "1\u2003",
}


def adversarial(unit: str, size: int = ADVERSARIAL_SIZE) -> str:
    return unit * (size // len(unit))


def pdf_bytes(objects: dict[int, bytes], root: int = 1) -> bytes:
    """A PDF with a correct cross-reference table around ``objects`` (number -> body)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    xref, size = len(out), max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num] if num in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


def _page_objects(first: int) -> dict[int, bytes]:
    """A one-page leaf (object ``first``) with its content stream and font."""
    stream = b"BT /F1 12 Tf 72 720 Td (hello) Tj ET"
    return {
        first: b"<< /Type /Page /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>"
               % (first + 1, first + 2),
        first + 1: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        first + 2: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }


def deep_pdf(depth: int = 3000) -> bytes:
    """A page tree ``depth`` levels deep (pypdf's recursion limit)."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    for level in range(depth):
        objects[2 + level] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (3 + level)
    objects.update(_page_objects(2 + depth))
    return pdf_bytes(objects)


def cyclic_pdf() -> bytes:
    """A page tree whose node lists itself (and its parent) as kids."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
               2: b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
               3: b"<< /Type /Pages /Kids [2 0 R 4 0 R] /Count 2 >>"}
    objects.update(_page_objects(4))
    return pdf_bytes(objects)


def _png() -> bytes:
    """A 1x1 white PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


def docx_bytes(title: str, paragraphs: list[str], picture: bool = False) -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_heading(title, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    if picture:
        d.add_picture(io.BytesIO(_png()))
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def _rewrite_zip(data: bytes, change) -> bytes:  # noqa: ANN001 - (name, bytes) -> bytes
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info.filename)))
    return out.getvalue()


def truncated_docx() -> bytes:
    """word/document.xml cut in half (lxml: XMLSyntaxError)."""
    good = docx_bytes("截断的文件", ["这段文字在截断的文件里。" * 20])
    return _rewrite_zip(good, lambda name, raw: raw[: len(raw) // 2] if name == "word/document.xml" else raw)


def bitflipped_docx() -> bytes:
    """One flipped byte in the compressed word/document.xml (zlib error or CRC mismatch)."""
    data = bytearray(docx_bytes("损坏的文件", ["这段文字在损坏的文件里。" * 50]))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0xFF
    return bytes(data)


def bomb_docx(unpacked_mb: int = 100) -> bytes:
    """A small .docx whose picture inflates to ``unpacked_mb`` MB of zeros."""
    good = docx_bytes("压缩炸弹", ["这份文件带着一张巨大的图片。"], picture=True)
    zeros = bytes(unpacked_mb * 1_000_000)
    return _rewrite_zip(good, lambda name, raw: zeros if name.startswith("word/media/") else raw)


def alias_bomb(levels: int = 9) -> str:
    """Front matter of ~500 bytes whose aliases expand to 10 x 9**levels strings."""
    lines = ['a0: &a0 ["xxxxxxxxxx","xxxxxxxxxx","xxxxxxxxxx","xxxxxxxxxx","xxxxxxxxxx","xxxxxxxxxx","xxxxxxxxxx",'
             '"xxxxxxxxxx","xxxxxxxxxx"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"title: *a{levels}")
    return "---\n" + "\n".join(lines) + "\n---\n潍坊市专利转化专项资金每年安排2000万元。\n"


def write_hostile_corpus(root: Path, pixel_port: int = 9) -> dict[str, str]:
    """Good documents among hostile ones under ``root`` (created), plus an outside folder
    beside it that links point into. Returns the files a build must skip -> what they are
    (the rest are indexed: adversarial markup as whatever text is left, the alias bomb with
    its front matter refused and read as text)."""
    root.mkdir(parents=True, exist_ok=True)
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text(f"外部文件不应被读取。API_KEY={SECRET}", encoding="utf-8")
    (outside / "secret.meta.yaml").write_text(f"title: 外部标题\napi_key: {SECRET}\n", encoding="utf-8")
    for name, (text, _, _) in GOOD.items():
        (root / name).write_text(text, encoding="utf-8")
    hostile = {
        "truncated.docx": "a truncated DOCX",
        "bitflip.docx": "a bit-flipped DOCX",
        "bomb.docx": "a decompression-bomb DOCX",
        "deep.pdf": "a PDF page tree 3000 levels deep",
        "cyclic.pdf": "a cyclic PDF page tree",
        "outside-link.txt": "a link to a file outside the corpus",
        "loop-a.txt": "a symlink loop",
        "loop-b.txt": "a symlink loop",
    }
    (root / "truncated.docx").write_bytes(truncated_docx())
    (root / "bitflip.docx").write_bytes(bitflipped_docx())
    (root / "bomb.docx").write_bytes(bomb_docx())
    (root / "deep.pdf").write_bytes(deep_pdf())
    (root / "cyclic.pdf").write_bytes(cyclic_pdf())
    (root / "alias-bomb.md").write_text(alias_bomb(), encoding="utf-8")
    (root / "outside-link.txt").symlink_to(outside / "secret.txt")
    (root / "loop-a.txt").symlink_to(root / "loop-b.txt")
    (root / "loop-b.txt").symlink_to(root / "loop-a.txt")
    # a good document whose sidecar links outside: the document stays, the sidecar is ignored
    (root / "qingdao-sidecar.txt").write_text("青岛市专利质押融资贴息比例为50%。\n", encoding="utf-8")
    (root / "qingdao-sidecar.meta.yaml").symlink_to(outside / "secret.meta.yaml")
    # a document whose title tries to smuggle an image and a link disguised as citation [1]
    (root / "yantai-title.md").write_text(
        f"---\ntitle: \"{HOSTILE_TITLE.format(port=pixel_port)}\"\ndate: \"2024-01-02\\n\\n**后面的文字**\"\n"
        "source: \"https://example.gov.cn/a\\n\\n![x](http://127.0.0.1:9/x.png)\"\n---\n"
        "烟台市对新认定的国家知识产权示范企业一次性奖励30万元。\n", encoding="utf-8")
    for key, unit in ADVERSARIAL.items():
        (root / f"adversarial-{key}.md").write_text(adversarial(unit) + "\n\n淄博市专利奖每项奖励5万元。\n", encoding="utf-8")
    (root / "adversarial-long-line.html").write_text(
        "<p>" + "济南市" * (ADVERSARIAL_SIZE // 3) + "</p>", encoding="utf-8")
    return hostile


def slow_pdf(operators: int = 200_000) -> bytes:
    """One page whose content stream shows text ``operators`` times: slow to extract."""
    stream = b"BT /F1 12 Tf 72 720 Td " + b"(abc) Tj " * operators + b"ET"
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"}
    objects.update(_page_objects(3))
    objects[4] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    return pdf_bytes(objects)
