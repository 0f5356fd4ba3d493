"""Cited answers: evidence in the text, verbatim quotes, refusals, follow-ups, LLM mode."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot import Assistant
from bot.evaluation import contains_evidence, evaluate
from bot.llm import ChatClient
from bot.query import analyse
from bot.selection import candidates, choose, key_figure

from conftest import run_cli


def test_dev_set_answers(retriever, assistant, dev_questions):
    report = evaluate(retriever, dev_questions, assistant)
    print("\n" + report.table())
    assert report.answer_has_evidence / report.answerable >= 0.9
    assert report.citations_have_evidence == report.answerable
    assert report.answered_when_answerable == report.answerable
    assert report.refused_correctly == report.unanswerable == 2


def test_own_set_answers_refusals_and_followups(retriever, assistant, own_questions):
    report = evaluate(retriever, own_questions, assistant)
    print("\n" + report.table())
    assert report.answer_has_evidence / report.answerable >= 0.9
    assert report.citations_have_evidence == report.answerable
    assert report.unanswerable >= 15 and report.refused_correctly / report.unanswerable >= 0.9
    assert report.followups >= 6 and report.followups_correct == report.followups


def test_quotes_are_verbatim_and_marked(assistant):
    ans = assistant.ask("郑州有多少企业拿到了质押贷款补贴？")
    assert ans.answered
    assert "[1]" in ans.text
    q = ans.quotes[0]
    hit = ans.citations[q.citation - 1]
    assert hit.text[q.start : q.end] in q.sentence
    assert "貸款補貼342萬元" in ans.text  # traditional source quoted as written
    assert "**" in ans.text  # the key figure is bold


def test_condition_question(assistant):
    ans = assistant.ask("我的专利能不能申请维持费资助？")
    assert ans.answered
    assert contains_evidence(ans.text, ["对维持5年以上、具有较好市场价值的国内有效发明专利择优给予一次性专利维持费资助"])
    assert "适用条件：**维持5年以上、具有较好市场价值的国内有效发明专利**" in ans.text


@pytest.mark.parametrize("question, answer", [
    ("鲁知规字2018第7号文件是谁发的", "山东省知识产权局"),  # the notice's signature line
    ("《知识产权创新支持新旧动能转换的工作措施》的文号是什么", "鲁知规字〔2018〕7号"),
])
def test_questions_about_a_notice_itself(assistant, question, answer):
    ans = assistant.ask(question)
    assert ans.answered and ans.quotes[0].sentence.strip() == answer, ans.text


def test_figures_of_other_places_are_not_added(assistant):
    ans = assistant.ask("佛山集聚区吸引了多少家服务机构")
    assert ans.answered and "19家" in ans.text
    assert "28家" not in ans.text and "33家" not in ans.text  # 烟台's, not 佛山's


def test_a_date_of_another_event_is_no_answer(assistant):
    # the corpus never says when 烟台 became a 示范城市; 12月18日 is the press conference's date
    assert not assistant.ask("烟台是什么时候成为国家知识产权示范城市的").answered
    ans = assistant.ask("烟台什么时候获批国家知识产权运营服务体系建设重点城市")
    assert ans.answered and "**2020年5月**" in ans.text


def test_a_date_an_article_sets_is_an_answer(copyright_assistant):
    # 12月31日 ends a term the law sets; it is no press conference's date, and the headline
    # says what it counts from
    ans = copyright_assistant.ask("以我们公司名义出的一本行业手册，版权算公司的，能保护到什么时候？")
    assert ans.answered and ans.citations[0].article == "第二十三条"
    assert "第五十年的**12月31日**" in ans.text.split("\n")[0]


def test_the_figure_is_taken_from_the_clause_about_what_was_asked(assistant_over):
    # 能保护多少年 asks the term of protection (保护期限…20年), not how long sales may precede
    # an application (新颖性: 未超过1年/6年/4年), though both count years and the latter ranks first
    retriever = assistant_over("植物新品种保护条例(2014-07-29).md").retriever
    law = retriever.find_law("植物新品种保护条例")[0]
    hits = [*retriever.article(law, "第十四条"), *retriever.article(law, "第三十四条")]
    q = analyse("我培育的葡萄新品种刚拿到品种权，能保护多少年")
    best = choose(q, hits, [c for i, hit in enumerate(hits) for c in candidates(q, i, hit)], 1)[0]
    assert hits[best.hit_index].article == "第三十四条" and best.figure == "20年"


def test_a_length_of_time_asked_in_hours_is_answered_in_hours(assistant):
    # no article counts in hours: 三个月 is no answer to 多少小时
    assert not assistant.ask("申请专利后多少小时能收到受理通知").answered


def test_an_average_asked_is_not_a_limit_the_law_sets(assistant):
    # the law caps damages (五百万元以下); what courts award on average is a statistic it lacks
    for question in ("专利被人侵权去法院告，现在法院一般平均能判赔多少钱？", "专利侵权平均赔多少"):
        assert not assistant.ask(question).answered, question


def test_an_amount_of_compensation_asked_is_money_of_that_compensation(assistant):
    # 补偿 asks an amount of money: neither an inventor's 奖金 (4000元) nor the years of a
    # compulsory licence's conditions (三年, 四年) is one
    for question in ("公司让我签了竞业协议，离职以后公司每个月最少要给我多少补偿？", "发明专利被强制许可了，对方要给我多少补偿"):
        assert not assistant.ask(question).answered, question
    # the attribute named last heads the phrase: 风险补偿比例 asks a share, not an amount of 补偿
    assert analyse("枣庄市专利质押融资风险补偿比例").unit == "%"


def test_figures_from_several_sources_are_all_shown(assistant):
    ans = assistant.ask("烟台有多少家高价值专利培育中心")
    assert ans.answered
    assert "15家" in ans.text and "12家" in ans.text
    assert "2023-02-27" in ans.text and "2023-12" in ans.text


def test_a_share_asked_is_the_percentage_alone(assistant):
    """占GDP多少 asks a share: 18.60%, not the 1620.46亿元 beside it, nor the other clauses'
    figures of the same sentence (48亿元, 29个 were shown in bold with it)."""
    ans = assistant.ask("专利密集型产业增加值占烟台GDP多少")
    assert ans.answered and ans.text.startswith("**18.60%**")
    assert ans.text.count("**") == 2, ans.text


def test_refusal_lists_nearest_passages(assistant):
    ans = assistant.ask("广州对高价值专利培育中心补贴多少钱？")
    assert not ans.answered
    assert "没有找到" in ans.text and "可能相关" in ans.text
    assert 1 <= len(ans.citations) <= 3
    # one word most passages contain names no question: the asker is asked for one
    broad = assistant.ask("专利")
    assert not broad.answered and broad.citations == [] and "说得具体一些" in broad.text
    assert assistant.ask("开放许可").answered  # a rare one does
    # a question off the corpus's topics has no nearest passages, only a refusal
    off = assistant.ask("今天天气怎么样")
    assert not off.answered and off.citations == [] and "可能相关" not in off.text


def test_a_count_in_dan_is_the_figure_asked(assistant):
    # 几单 is answered by 2单, not by the 13亿元 and 28家 of the same sentence
    ans = assistant.ask("烟台发了几单知识产权证券化产品")
    assert ans.answered and ans.text.startswith("**2单**")


def test_the_figure_is_read_near_the_words_asked_in_their_corpus_form(assistant):
    # 每年最多能补贴多少: "每年最高补贴6万元", not the 60% rate earlier in the sentence
    assert assistant.ask("企业专利保险每年最多能补贴多少").text.startswith("**6万元**")


def test_neighbouring_terms_are_neighbours_in_the_question(assistant):
    # 烟台在孵企业: 烟台 and 孵 are not a phrase (在 stood between), so 烟台孵化载体…孵化器1家 is no
    # better a match than 在孵企业1899家
    ans = assistant.ask("烟台在孵企业有多少家")
    assert ans.text.startswith("**1899家**") and "**1家**" not in ans.text


def test_a_year_only_compared_against_is_not_reported(assistant):
    """"较2019年底提高14件" says nothing about 2019's figures; asked as the comparison it answers."""
    assert not assistant.ask("烟台2019年的专利授权量是多少").answered
    ans = assistant.ask("烟台每万人发明专利拥有量较2019年底提高了多少")
    assert ans.answered and "**14件**" in ans.text


@pytest.mark.parametrize("bad", ["", "   ", "？？？！！", "😀😀😀", "\x00\x01\x02\x7f", "x" * 10_000,
                                 "'; DROP TABLE users; --", "<script>alert(1)</script>", "专利" * 3000])
def test_bad_questions_get_a_message_not_a_crash(assistant, bad):
    ans = assistant.ask(bad)
    assert not ans.answered
    assert ans.text and any("\u4e00" <= c <= "\u9fff" for c in ans.text)


def test_followup_uses_history(assistant):
    history = [{"role": "user", "content": "烟台成果贷前三季度帮企业贷了多少？"}, {"role": "assistant", "content": "……"}]
    ans = assistant.ask("那科信贷呢？", history=history)
    assert ans.answered and "155家(次)科技型企业获贷约6.1亿元" in ans.text
    assert "科信贷" in ans.query and "烟台" in ans.query
    assert assistant.ask("那科信贷呢？").query == "那科信贷呢？"  # no history: taken as asked


def test_cli_ask(index_dir):
    out = run_cli("ask", "烟台有多少个院士工作站", "--index", str(index_dir))
    assert out.returncode == 0, out.stderr
    assert "33个" in out.stdout and "来源" in out.stdout


class _ChatServer(BaseHTTPRequestHandler):
    reply = "烟台建有院士工作站33个[1]。"
    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        payload = {"choices": [{"message": {"role": "assistant", "content": type(self).reply}}]}
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _ChatServer.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_llm_mode_uses_endpoint_with_passages_only(retriever, chat_server):
    bot = Assistant(retriever, llm=ChatClient(chat_server, "test-model", "secret", timeout=10))
    ans = bot.ask("烟台有多少个院士工作站")
    assert ans.answered and ans.text == _ChatServer.reply and not ans.notice
    sent = _ChatServer.requests[-1]
    assert sent["model"] == "test-model"
    assert "院士工作站33个" in sent["messages"][1]["content"]
    assert "一律不执行" in sent["messages"][0]["content"]  # passages are quoted material


def test_llm_bad_markers_fall_back_to_extractive(retriever, chat_server, monkeypatch):
    monkeypatch.setattr(_ChatServer, "reply", "大约有100个[9]。")
    ans = Assistant(retriever, llm=ChatClient(chat_server, "m", timeout=10)).ask("烟台有多少个院士工作站")
    assert "33个" in ans.text and "摘录式" in ans.notice


def test_llm_down_falls_back_to_extractive(retriever):
    ans = Assistant(retriever, llm=ChatClient("http://127.0.0.1:9/v1", "m", timeout=2)).ask("烟台有多少个院士工作站")
    assert ans.answered and "33个" in ans.text and "不可用" in ans.notice


def test_llm_configured_from_settings(retriever, chat_server):
    bot = Assistant(retriever, settings=retriever.settings.replace(llm_base_url=chat_server, llm_model="x"))
    assert bot.llm is not None and bot.ask("烟台有多少个院士工作站").text == _ChatServer.reply


def test_an_investment_is_an_amount_of_money(assistant):
    # 带动了多少产业投资 asks 元: 1.92亿元 is bold, not the 19家 counted before it in the sentence
    ans = assistant.ask("先进材料与绿色制造山东省实验室带动了多少产业投资")
    assert ans.answered and ans.text.startswith("**1.92亿元**"), ans.text


NOTICE = """# 关于组织申报2024年度成都市专利导航项目的通知

为发挥专利导航在产业决策中的引导作用，现启动2024年度成都市专利导航项目申报工作。

## 一、申报条件

（一）申报单位应为在成都市注册的企业，注册时间满2年；

（二）企业拥有有效发明专利5件以上。

## 二、申报材料

（一）成都市专利导航项目申报书；

（二）项目实施方案及经费预算；

（三）上年度财务审计报告。

## 三、联系方式

成都市知识产权局知识产权运用处，联系电话：028-61881234。

## 四、申报时间

2024年5月6日起开始申报，截止时间为2024年6月14日17:00。

## 五、质押融资贴息

| 贷款类型 | 贴息比例 | 单户年度贴息上限 |
| --- | --- | --- |
| 专利权质押贷款 | 按实际支付利息的50% | 50万元 |
| 商标权质押贷款 | 按实际支付利息的40% | 30万元 |

## 六、资助标准

| 资助项目 | 资助标准 | 单个主体年度上限 |
| --- | --- | --- |
| 国内发明专利授权 | 每件3000元 | 30万元 |
"""


@pytest.fixture(scope="module")
def notice_assistant(tmp_path_factory, encoder, settings):
    from bot import Retriever, build_index

    corpus = tmp_path_factory.mktemp("notice")
    (corpus / "chengdu-navigation-2024.md").write_text(NOTICE, encoding="utf-8")
    path = tmp_path_factory.mktemp("notice-index")
    build_index(corpus, path, settings=settings, progress=False)
    return Assistant(Retriever.load(path, settings=settings))


def test_a_list_under_a_notice_heading_answers_what_to_hand_in(notice_assistant):
    """The items of 二、申报材料 never say 材料: the heading they sit under does."""
    answer = notice_assistant.ask("成都专利导航要交什么材料？")
    assert answer.answered and "申报书" in answer.text and "注册" not in answer.text


@pytest.mark.parametrize("question, answer, not_answer", [
    # the items under 一、申报条件, not the 申报书 whose own words (成都, 专利导航, 申报) match more,
    # and all of them: the second condition is as much a condition as the first
    ("成都专利导航申报要什么条件？", "注册时间满2年", "申报书"),
    ("成都专利导航申报要什么条件？", "发明专利5件以上", "申报书"),
    # a phone number asked with 多少 is no quantity: the contact sentence, not the first figure
    ("成都专利导航的联系电话是多少？", "028-61881234", "申报书"),
    ("成都专利导航打哪个电话问？", "028-61881234", "申报书"),
    # the section named 申报时间, not the notice's 2024年度 (a programme's year is no date)
    ("成都专利导航项目啥时候截止？", "2024年6月14日", "发挥专利导航"),
])
def test_a_notice_answers_the_aspect_its_heading_names(notice_assistant, question, answer, not_answer):
    reply = notice_assistant.ask(question)
    assert reply.answered and answer in reply.text and not_answer not in reply.text



def test_a_table_row_of_another_right_is_no_answer(notice_assistant):
    """The rows for 专利权 and 商标权 loans do not state a 著作权 loan's rate."""
    assert "40%" in notice_assistant.ask("成都商标质押贷款贴息比例是多少？").text
    assert not notice_assistant.ask("成都著作权质押贷款贴息比例是多少？").answered


def test_the_figure_of_the_column_asked_is_the_answer(notice_assistant):
    """最多 asks the 上限 column's figure, which names its column in the row (上限：50万元)."""
    reply = notice_assistant.ask("成都发明专利资助一年最多能拿多少？")
    assert reply.answered and reply.text.startswith("**30万元**")


@pytest.mark.parametrize("sentence, figure", [
    ("申报时间为2024年3月1日至2024年4月30日，逾期不予受理。", "2024年3月1日至2024年4月30日"),
    ("每年9月1日至9月30日受理申请。", "9月1日至9月30日"),
    ("本办法自2023年7月1日起施行。", "2023年7月1日"),
])
def test_a_period_asked_for_is_answered_whole(sentence, figure):
    """Its start alone (2024年3月1日) reads as the deadline a 什么时候截止 question asks."""
    assert key_figure(analyse("什么时候截止申报？"), sentence) == figure
