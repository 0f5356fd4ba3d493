"""Hybrid retrieval: dense (e5 + FAISS) and lexical (BM25) rankings fused by reciprocal rank.

Dense search finds reworded questions; BM25 finds exact figures, names and policy terms. Both
see simplified Chinese (the corpus is converted for matching), while hits carry the original
text for display.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from itertools import takewhile
from pathlib import Path

import numpy as np

from .config import Settings
from .corpus import legacy_doc_id
from .embedding import encode, load_encoder
from .formats import page_at
from .index import IndexStore, IndexUnavailable
from .query import Question, analyse
from .statute import (ARTICLE_START, IN_FORCE, book_title, cited_articles, cites_alone, cn_number, law_matches, related_laws, rights_named,
                      sanctioned_articles, short_title, states_consequence, subject_of, version_key)
from .text import coverage, has_answer_figure, match_form, to_simplified, tokenize

log = logging.getLogger(__name__)

# a phrase this long that an interpretation's article repeats from a law's says it applies it
RESTATED_PHRASE = 10
RESTATED_IN = 3  # documents at most that say such a phrase: the law, the interpretation, another version
INTERPRETATION = "司法解释"
# rank of a statute's source in the legal hierarchy, for the authority prior
AUTHORITY = {"法律": 1.0, "行政法规": 0.6, "司法解释": 0.4, "部门规章": 0.2, "地方性法规": 0.2}
FILTER_KEYS = ("region", "doc_id", "doc_type", "date_from", "date_to")


@dataclass
class Hit:
    text: str  # the passage in its original script
    doc_id: str
    title: str
    date: str
    source: str
    score: float  # fused score (higher is better)
    chunk_id: int
    start: int  # character offsets into the document's cleaned text
    end: int
    region: str = ""
    dense_score: float = 0.0  # cosine similarity, 0 when the dense side did not rank it
    lexical_score: float = 0.0  # BM25, 0 when the lexical side did not rank it
    coverage: float = 0.0  # weighted share of the question's terms found in the passage
    page: int | None = None  # PDF page where the passage starts
    article: str = ""  # 第五十条, for a statute's passage
    chapter: str = ""  # 第五章 专利实施的特别许可 (not "path": API clients read a "path" key as a file)
    lead: str = ""  # the sentence introducing this piece of a long article
    doc_type: str = ""
    effective: str = ""  # 施行 date of a statute, when stated
    superseded: bool = False  # an older version of a law (已被新版本取代)
    whole_article: bool = False  # the passage is its article entire, not one piece of a long one

    @property
    def citation(self) -> str:
        """How a user quotes the source: 《中华人民共和国专利法》第五十条, or the title."""
        return f"{book_title(self.title)}{self.article}" if self.article else self.title

    def to_dict(self) -> dict:
        return {**asdict(self), "citation": self.citation}


class Retriever:
    """Search an index built by :func:`bot.build_index`.

    >>> r = Retriever.load("index")
    >>> hits = r.search("崂山专利质押贷款", k=3)
    """

    def __init__(self, store: IndexStore, encoder, settings: Settings, index_dir: Path | None = None) -> None:
        self.store = store
        self.index_dir = Path(index_dir) if index_dir else store.path
        self.encoder = encoder
        self.settings = settings
        self._by_document: tuple[IndexStore | None, dict[str, list[int]]] = (None, {})
        self._forms: tuple[IndexStore | None, list[str]] = (None, [])
        self._sanction_map: tuple[IndexStore | None, dict[tuple[str, str], list[int]]] = (None, {})

    @classmethod
    def load(cls, index_dir: str | Path = "index", settings: Settings | None = None, model: str | None = None,
             verify: bool = True) -> "Retriever":
        """Load and verify an index; the query encoder is the model that built it.

        Raises :class:`bot.index.IndexUnavailable` when the index is missing, damaged, or was
        built with a different model than the one ``model`` asks for.
        """
        settings = settings or Settings.from_env()
        store = IndexStore.load(Path(index_dir), verify=verify)
        built_with = store.manifest.get("model")
        if model and model != built_with:
            raise IndexUnavailable(
                f"the index was built with model {built_with!r} but {model!r} was requested; "
                f"rebuild with: python -m bot build --model {model}"
            )
        # queries are embedded like the passages were (indexes from before the setting: torch)
        settings = settings.replace(model=built_with, encoder=store.manifest.get("settings", {}).get("encoder", "torch"))
        encoder = load_encoder(settings=settings)
        if encoder.dimension != store.manifest.get("dimensions"):
            raise IndexUnavailable("the index's vector size does not match its model; rebuild with: python -m bot build")
        return cls(store, encoder, settings, Path(index_dir))

    def reload(self) -> None:
        """Pick up a rebuilt index (same model) in place; searches under way finish on the old one."""
        store = IndexStore.load(self.index_dir)
        if store.manifest.get("model") != self.store.manifest.get("model"):
            raise IndexUnavailable("the rebuilt index uses another model; restart to load it")
        self.store = store

    @property
    def documents(self):
        return self.store.documents

    def rarity(self, term: str) -> float:
        """How rare a question term is in the index (BM25's idf of it, or of its rarest token)."""
        return self.store.lexical.idf(to_simplified(term).lower(), tokenize(term))

    def unknown_terms(self, terms: list[str]) -> list[str]:
        """Terms the corpus never mentions: a question built on them is not covered."""
        return [t for t in terms if not self.store.lexical.knows(to_simplified(t).lower(), tokenize(t))]

    def allowed_mask(self, filters: dict | None, store: IndexStore | None = None) -> np.ndarray | None:
        """Boolean mask over chunks that pass ``filters`` (``None`` when nothing is filtered)."""
        if not filters:
            return None
        unknown = set(filters) - set(FILTER_KEYS)
        if unknown:
            raise ValueError(f"unknown filter(s) {sorted(unknown)}; use {', '.join(FILTER_KEYS)}")
        store = store or self.store
        ok_docs = {d.doc_id for d in store.documents.values() if _doc_passes(d, filters)}
        return np.fromiter((c.doc_id in ok_docs for c in store.chunks), dtype=bool, count=len(store.chunks))

    def search(self, query: str | Question, k: int = 5, filters: dict | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query`` (text, or a question already analysed), best first."""
        q = query if isinstance(query, Question) else analyse(query or "")
        if not q.simple or k <= 0:
            return []
        s, store = self.settings, self.store  # one snapshot, even if reload() swaps the index meanwhile
        allowed = self.allowed_mask(filters, store)
        if allowed is not None and not allowed.any():
            return []
        # the question as asked, and in the laws' own terms (外观专利能管多少年 -> 外观设计…期限):
        # e5 ranks an article far higher for its own wording than for a paraphrase
        share = s.statutory_share if q.statutory else 0.0
        qvecs = encode(self.encoder, [q.simple, q.statutory] if share else [q.simple], "query")
        d_ids, d_scores = self._dense(store, qvecs[0], allowed)
        l_ids, l_scores = store.lexical.search(q.tokens, s.candidates, allowed)
        runs = [(s.dense_weight * (1 - share), d_ids), (s.lexical_weight, l_ids)]
        if share:
            runs.append((s.dense_weight * share, self._dense(store, qvecs[1], allowed)[0]))
        fused: dict[int, float] = {}
        for weight, ids in runs:
            for rank, cid in enumerate(ids.tolist()):
                fused[cid] = fused.get(cid, 0.0) + weight / (s.rrf_k + rank + 1)
        # Rerank the head by how much of the question each passage covers: rank fusion alone
        # lets a passage that shares the topic but not the asked-for year or term win.
        vote = 1 / (s.rrf_k + 1)
        if q.defines:
            self._definitions(store, q, fused, vote, allowed)
        self._authority(store, fused, vote, q)
        head = sorted(fused, key=lambda cid: -fused[cid])[: max(s.rerank_candidates, k)]
        if q.asks_consequence:
            head += self._sanctioning(store, fused, head)
        # rare terms tell passages apart; the square root keeps a shared common word worth something
        rarity = {t: self.rarity(t) ** 0.5 for t in q.terms}
        rights = q.rights  # an article about another kind of right (商标 for a 专利 question) answers less
        cover = {cid: coverage(q.terms, match_form(store.chunks[cid].embedding_text()), q.aliases, rarity) for cid in head}
        for cid in head:
            fused[cid] += s.coverage_weight * vote * cover[cid]
            if q.places and self._in_region(store, cid, q):
                fused[cid] += s.region_weight * vote
            # "能管多少年" is answered by a passage that states a number of years, "多久" by a length of time
            if q.kind == "quantity" and has_answer_figure(to_simplified(store.chunks[cid].text), q.unit, q.asks_duration, q.penalties):
                fused[cid] += s.answer_type_weight * vote
            # "不交会怎么样" is answered by a passage that states a consequence (终止, 罚款)
            if q.asks_consequence and states_consequence(to_simplified(store.chunks[cid].text)):
                fused[cid] += s.consequence_weight * vote
            if store.documents[store.chunks[cid].doc_id].superseded_by:
                fused[cid] -= s.superseded_penalty * vote
            if rights and store.chunks[cid].article and rights.isdisjoint(self._rights(store, cid) or rights):
                fused[cid] -= s.other_right_penalty * vote
        dense = dict(zip(d_ids.tolist(), d_scores.tolist()))
        lexical = dict(zip(l_ids.tolist(), l_scores.tolist()))
        # an article the question names (专利法第五十条) comes first
        named = [cid for cid in self._named_articles(q) if allowed is None or allowed[cid]]
        for cid in named:
            cover.setdefault(cid, 1.0)
            fused.setdefault(cid, 0.0)
        best = named + [cid for cid in sorted(head, key=lambda cid: (-fused[cid], -dense.get(cid, 0.0))) if cid not in named]
        best = best[:k]
        return [self._hit(store, cid, fused[cid], dense.get(cid, 0.0), lexical.get(cid, 0.0), cover[cid]) for cid in best]

    def _dense(self, store: IndexStore, qvec: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The passages nearest the question: each scored by its own vector or, when higher by
        ``part_margin``, by its best 款 (a part must beat the whole, or an article of many
        parts would win by having more tries)."""
        s = self.settings
        ids, scores = store.dense.search(qvec, s.candidates, allowed, nprobe=s.ivf_nprobe)
        if store.parts is None:
            return ids, scores
        best = dict(zip(ids.tolist(), scores.tolist()))
        p_ids, p_scores = store.parts.search(qvec, s.candidates, allowed, nprobe=s.ivf_nprobe)
        for cid, score in zip(p_ids.tolist(), p_scores.tolist()):
            best[cid] = max(best.get(cid, -1.0), score - s.part_margin)
        ranked = sorted(best, key=lambda cid: -best[cid])[: s.candidates]
        return np.array(ranked, dtype=np.int64), np.array([best[cid] for cid in ranked], dtype=np.float32)

    def nearness(self, question: str, texts: list[str]) -> list[float]:
        """Cosine of the question to each text, embedded as passages are (items of a list that
        have no vector of their own in the index)."""
        qvec = encode(self.encoder, [question], "query")[0]
        return (encode(self.encoder, texts, "passage") @ qvec).tolist()

    def find_law(self, name: str, versions: bool = False) -> list[str]:
        """Current statutes whose title fits a law named in a question (专利法, 实施细则), best first;
        with ``versions``, its older versions too, newest first."""
        scored = [(law_matches(name, d.title), d.doc_id) for d in self.store.documents.values()
                  if d.statute and (versions or not d.superseded_by)]
        best = max((sc for sc, _ in scored), default=0.0)
        found = [doc_id for sc, doc_id in scored if sc and sc == best]
        return sorted(found, key=lambda d: self.store.documents[d].date, reverse=True) if versions else found

    def find_law_in(self, words: str) -> list[str]:
        """The law that ``words`` end with (律师让我看看商标法实施条例 -> 商标法实施条例): an article
        reference is read from the first words that could start a law's name."""
        for start in range(max(1, len(words) - 2)):
            found = self.find_law(words[start:])
            if found:
                return found
        return []

    def find_version(self, names: tuple[str, ...], year: str) -> tuple[list[str], str]:
        """The versions of the first of ``names`` that fits a law (newest first), and the one of
        ``year`` ("" when the corpus lacks it): adopted, amended or in force from that year."""
        for name in names:
            laws = self.find_law(name, versions=True)
            if laws:
                docs = self.store.documents
                return laws, next((d for d in laws if year in (docs[d].date[:4], docs[d].effective[:4])), "")
        return [], ""

    def _named_articles(self, q: Question) -> list[int]:
        """Chunk ids of the articles a question names, in the current version of the law."""
        out = []
        for ref in q.refs:
            laws = self.find_law_in(ref.law) if ref.law else []
            if laws:
                out += self._article_ids(self.store, laws[0], ref.label)
        return out

    def article(self, doc_id: str, label: str) -> list[Hit]:
        """The passages of one article (several when a long article was split), in order."""
        store = self.store
        return [self._hit(store, cid, 1.0, 0.0, 0.0, 1.0) for cid in self._article_ids(store, doc_id, label)]

    def preamble(self, doc_id: str) -> Hit | None:
        """The text before a statute's first article: its title and history lines, joined from
        every passage it was cut into (商标法's history runs over two)."""
        store = self.store
        ids = list(takewhile(lambda cid: not store.chunks[cid].article, self._chunk_ids(store, doc_id)))
        if not ids:
            return None
        first = self._hit(store, ids[0], 1.0, 0.0, 0.0, 1.0)
        lines = list(dict.fromkeys(line for cid in ids for line in store.chunks[cid].text.splitlines()))
        return replace(first, text="\n".join(lines), end=store.chunks[ids[-1]].end)

    def in_force(self, doc_id: str) -> Hit | None:
        """The article that says from when the statute applies (本法自…起施行), if it has one."""
        store = self.store
        cid = next((c for c in reversed(self._chunk_ids(store, doc_id))
                    if store.chunks[c].article and IN_FORCE.search(to_simplified(store.chunks[c].text))), None)
        return None if cid is None else self._hit(store, cid, 1.0, 0.0, 0.0, 1.0)

    def companions(self, hit: Hit) -> list[Hit]:
        """Articles that answer together with ``hit``: the current articles of a related law or
        regulation that cite it ("依照专利法第四十二条…"), and the articles it cites itself."""
        if not hit.article:
            return []
        store = self.store
        short = short_title(version_key(hit.title))
        related = {d.doc_id: short_title(version_key(d.title)) for d in store.documents.values()
                   if d.statute and not d.superseded_by and related_laws(d.title, hit.title)}
        wanted = {(doc_id, label) for doc_id, name in related.items()
                  for label in cited_articles(hit.text, name)}
        return [self._hit(store, cid, 0.0, 0.0, 0.0, 0.0)
                for doc_id in related for cid in self._chunk_ids(store, doc_id)
                if (doc_id, store.chunks[cid].article) in wanted or cites_alone(store.chunks[cid].text, short, hit.article)]

    def restatements(self, hit: Hit) -> list[Hit]:
        """Articles of the current judicial interpretations on the same kind of right that repeat
        a phrase of ``hit``'s article (…自繁自用授权品种的繁殖材料): an interpretation says how a
        law's article applies, often without citing it, or citing it by a number it had before
        the law was renumbered (专利法第六十九条 for today's 第七十五条)."""
        store = self.store
        if not hit.article or store.documents[hit.doc_id].doc_type == INTERPRETATION:
            return []
        text = match_form(hit.text)
        phrases = {text[i : i + RESTATED_PHRASE] for i in range(len(text) - RESTATED_PHRASE + 1)}
        rights = rights_named(to_simplified(hit.title))
        docs = [d.doc_id for d in store.documents.values()
                if d.doc_type == INTERPRETATION and not d.superseded_by
                and not (rights and rights.isdisjoint(rights_named(to_simplified(d.title))))]
        forms = self._match_forms(store)
        found = {cid: {p for p in phrases if p in forms[cid]}
                 for doc_id in docs for cid in self._chunk_ids(store, doc_id) if store.chunks[cid].article}
        # a phrase many documents say (由国务院专利行政部门…) is the laws' common wording, not a restatement
        shared = {p for found_in in found.values() for p in found_in}
        rare = {p for p in shared
                if len({store.chunks[cid].doc_id for cid, form in enumerate(forms) if p in form}) <= RESTATED_IN}
        return [self._hit(store, cid, 0.0, 0.0, 0.0, 0.0) for cid, found_in in found.items() if found_in & rare]

    def sanctions(self, hit: Hit) -> list[Hit]:
        """The articles of the same law that sanction breaking ``hit``'s article (违反本条例第二十条
        规定的，由…责令…并处…罚款): what happens to whoever does what it forbids."""
        if hit.superseded:
            return []
        store = self.store
        return [self._hit(store, cid, 0.0, 0.0, 0.0, 0.0) for cid in self._sanctions_of(store, hit.doc_id, hit.article)]

    def sanctioned(self, hit: Hit) -> list[Hit]:
        """The articles of the same law whose breach ``hit`` sanctions (违反本法第八条规定的…处…罚款
        -> 第八条): the rule that says what was done wrong."""
        store = self.store
        labels = dict.fromkeys(label for label in sanctioned_articles(hit.text) if label != hit.article)
        return [self._hit(store, cid, 0.0, 0.0, 0.0, 0.0) for label in labels for cid in self._article_ids(store, hit.doc_id, label)]

    def laws_with(self, label: str) -> list[str]:
        """The current statutes that have article ``label``, laws before regulations: those a
        lookup naming no law may mean."""
        store = self.store
        docs = [d for d in store.documents.values() if d.statute and not d.superseded_by and self._article_ids(store, d.doc_id, label)]
        return [d.doc_id for d in sorted(docs, key=lambda d: -AUTHORITY.get(d.doc_type, 0.0))]

    def article_count(self, doc_id: str) -> int:
        store = self.store
        return len({store.chunks[cid].article for cid in self._chunk_ids(store, doc_id)} - {""})

    def last_article(self, doc_id: str) -> int:
        """The highest article number of a document: an older version's articles that read as in
        the current one are kept once, under the current version, so it may hold fewer passages."""
        store = self.store
        numbers = (ARTICLE_START.match(store.chunks[cid].article) for cid in self._chunk_ids(store, doc_id))
        return max((cn_number(m.group(1)) for m in numbers if m), default=0)

    def _match_forms(self, store: IndexStore) -> list[str]:
        """Every passage in match form, computed once per loaded index (a restatement is looked
        for across all the interpretations on every statute answer)."""
        built_for, forms = self._forms
        if built_for is not store:
            forms = [match_form(chunk.text) for chunk in store.chunks]
            self._forms = (store, forms)
        return forms

    def _chunk_ids(self, store: IndexStore, doc_id: str) -> list[int]:
        """A document's chunk ids in order, from a map built once per loaded index (articles
        and companions are looked up on every statute answer; a scan of every chunk is not)."""
        built_for, by_doc = self._by_document
        if built_for is not store:
            by_doc = {}
            for cid, chunk in enumerate(store.chunks):
                by_doc.setdefault(chunk.doc_id, []).append(cid)
            self._by_document = (store, by_doc)
        return by_doc.get(doc_id, [])

    def _article_ids(self, store: IndexStore, doc_id: str, label: str) -> list[int]:
        return [cid for cid in self._chunk_ids(store, doc_id) if store.chunks[cid].article == label]

    def _definitions(self, store: IndexStore, q: Question, fused: dict[int, float], vote: float,
                     allowed: np.ndarray | None) -> None:
        """A definition question (什么是职务作品, 短视频构成作品吗) is answered by the passage that
        defines the term, which shares few words with the question: look for it lexically and
        lift it, in place."""
        probe, _ = store.lexical.search([*tokenize(q.defines), "是指", "所称", "含义", "即"], self.settings.candidates, allowed)
        for cid in set(probe.tolist()) | set(fused):
            if q.defined_in(match_form(store.chunks[cid].text)):
                fused[cid] = fused.get(cid, 0.0) + self.settings.definition_weight * vote

    def _sanctioning(self, store: IndexStore, fused: dict[int, float], head: list[int]) -> list[int]:
        """Asked what happens to whoever does something (被查到会怎么处理), the article that
        sanctions a retrieved article (违反本条例第二十条规定的，由…罚款) answers as well as the
        article itself: it takes that article's score, in place. Returns those not in ``head``."""
        added = []
        for cid in list(head):
            chunk = store.chunks[cid]
            for sid in self._sanctions_of(store, chunk.doc_id, chunk.article):
                if fused.get(sid, 0.0) < fused[cid]:
                    fused[sid] = fused[cid]
                    if sid not in head and sid not in added:
                        added.append(sid)
        return added

    def _sanctions_of(self, store: IndexStore, doc_id: str, article: str) -> list[int]:
        if not article:
            return []
        built_for, by_article = self._sanction_map
        if built_for is not store:
            by_article = {}
            for cid, chunk in enumerate(store.chunks):
                for label in sanctioned_articles(chunk.text) if chunk.article else ():
                    if label != chunk.article:
                        by_article.setdefault((chunk.doc_id, label), []).append(cid)
            self._sanction_map = (store, by_article)
        return by_article.get((doc_id, article), [])

    def _authority(self, store: IndexStore, fused: dict[int, float], vote: float, q: Question) -> None:
        """Legal hierarchy, added in place: people asking "can I" want the law before a
        regulation or an interpretation of it, and a local regulation of the place they name
        as much as the national law, and a regulation of the very subject they ask about
        (软件, 海关) as much as the law it details, and, on a matter for a court (能去法院告吗),
        the articles of the Supreme People's Court's interpretations as much as the law (not a
        decision amending eighteen of them). News and policy pages
        stand outside the hierarchy: the prior only orders legal documents among themselves."""
        weight = self.settings.authority_weight
        asked = " ".join([q.simple, q.statutory, *q.expansion])
        for cid in fused:
            doc = store.documents[store.chunks[cid].doc_id]
            doc_type = doc.doc_type
            subject = subject_of(doc.title) if doc_type == "行政法规" else ""
            if (doc_type not in AUTHORITY or (q.places and self._in_region(store, cid, q)) or (subject and subject in asked)
                    or (doc_type == "司法解释" and q.court and store.chunks[cid].article)):
                rank = 1.0
            else:
                rank = AUTHORITY[doc_type]
            fused[cid] += vote * weight * rank

    @staticmethod
    def _rights(store: IndexStore, cid: int) -> frozenset[str]:
        chunk = store.chunks[cid]
        return rights_named(to_simplified(f"{chunk.title}{chunk.text}"))

    @staticmethod
    def _in_region(store: IndexStore, cid: int, q: Question) -> bool:
        """Whether a chunk's document is about one of the places the question names, or is a
        rule of a region around one."""
        doc = store.documents[store.chunks[cid].doc_id]
        where = to_simplified(f"{doc.region} {doc.title}")
        return any(p in where for p in (q.jurisdictions if doc.statute else q.places))

    @staticmethod
    def _hit(store: IndexStore, cid: int, score: float, dense: float, lexical: float, cover: float) -> Hit:
        chunk = store.chunks[cid]
        doc = store.documents[chunk.doc_id]
        return Hit(
            text=chunk.text, doc_id=chunk.doc_id, title=doc.title, date=doc.date, source=doc.source,
            score=score, chunk_id=cid, start=chunk.start, end=chunk.end, region=doc.region,
            dense_score=dense, lexical_score=lexical, coverage=cover,
            page=page_at(doc.extra["page_starts"], chunk.start) if doc.extra.get("page_starts") else None,
            article=chunk.article, chapter=chunk.path, lead=chunk.lead, doc_type=doc.doc_type, effective=doc.effective,
            superseded=bool(doc.superseded_by), whole_article=_whole_article(store, cid),
        )


def _whole_article(store: IndexStore, cid: int) -> bool:
    """Pieces of a long article are consecutive chunks with its label; the first has no lead."""
    chunk = store.chunks[cid]
    after = store.chunks[cid + 1] if cid + 1 < len(store.chunks) else None
    return bool(chunk.article) and not chunk.lead and not (
        after and after.doc_id == chunk.doc_id and after.article == chunk.article)


def make_filters(region: str | None = None, doc_id: str | None = None, doc_type: str | None = None,
                 date_from: str | None = None, date_to: str | None = None, *, any_value: str = "") -> dict | None:
    """A filters dict from optional values; blanks and ``any_value`` (a UI's "all") drop out."""
    values = {"region": region, "doc_id": doc_id, "doc_type": doc_type, "date_from": date_from, "date_to": date_to}
    cleaned = {k: v.strip() for k, v in values.items() if isinstance(v, str)}
    return {k: v for k, v in cleaned.items() if v and v != any_value} or None


def _doc_passes(doc, filters: dict) -> bool:
    def wanted(key: str) -> list[str]:
        value = filters.get(key)
        if value in (None, "", []):
            return []
        return [value] if isinstance(value, str) else list(value)

    regions = wanted("region")
    if regions and not any(r and (r in doc.region or doc.region in r) for r in regions if doc.region):
        return False
    if wanted("doc_id") and not {doc.doc_id, legacy_doc_id(doc.doc_id)} & set(wanted("doc_id")):
        return False  # ids without extension (older indexes) keep working
    if wanted("doc_type") and doc.doc_type not in wanted("doc_type"):
        return False
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    if (date_from or date_to) and not doc.date:
        return False
    if date_from and doc.date[: len(date_from)] < date_from:
        return False
    if date_to and doc.date[: len(date_to)] > date_to:
        return False
    return True
