"""Behaviour of the analysis on small fixed sentences: orderings and labels, never exact floats."""

from __future__ import annotations

import pytest

import sentiment
from crawler.config import AppConfig
from sentiment import analyzer


def test_negation_flips_sentiment(nlp_cfg: AppConfig) -> None:
    assert analyzer.score_sentiment("我今天很高兴") > analyzer.score_sentiment("我今天不高兴")
    assert analyzer.score_sentiment("这个很好用") > analyzer.score_sentiment("这个不好用")
    assert (
        analyzer.score_sentiment("质量很好，推荐购买") > 0.5 > analyzer.score_sentiment("质量太差了，不推荐")
    )


@pytest.mark.xfail(
    strict=True,
    reason="known error of the learned model: it reads 丢过件/慢 as a grievance "
    "through the negations (docs/analysis.md, complaint model card, known errors)",
)
def test_negated_problem_is_not_a_complaint(nlp_cfg: AppConfig) -> None:
    a = sentiment.analyze("寄了三次云途快递，没有任何问题，也没丢过件，一点都不慢", brand="云途快递")
    b = sentiment.analyze("寄了三次云途快递，丢了两次件，太慢了", brand="云途快递")
    assert not a.is_complaint and b.is_complaint
    assert a.risk < 30 <= b.risk


def test_sarcasm_with_a_grievance_is_a_complaint(nlp_cfg: AppConfig) -> None:
    a = sentiment.analyze("真是太“好”了，星耀X7的屏幕第三次坏了", brand="星耀手机")
    assert a.is_complaint and a.category == "产品质量"
    assert a.sentiment < 0.5
    assert any("反讽" in r for r in a.reasons)


@pytest.mark.parametrize("emo", ["[怒]", "😡", "[抓狂]"])
def test_angry_emoticons_lower_sentiment_and_raise_urgency(nlp_cfg: AppConfig, emo: str) -> None:
    plain = sentiment.analyze("鲜果时光的外卖送了三个小时", brand="鲜果时光")
    angry = sentiment.analyze(f"鲜果时光的外卖送了三个小时{emo}{emo}！！", brand="鲜果时光")
    assert angry.sentiment <= plain.sentiment + 0.05
    # the marks do not flip the verdict (the complaint model leaves emoticon n-grams out)
    assert plain.is_complaint and angry.is_complaint


def test_weibo_emoticons_carry_polarity(nlp_cfg: AppConfig) -> None:
    assert analyzer.score_sentiment("今天的晚饭[哈哈][爱你]") > analyzer.score_sentiment(
        "今天的晚饭[允悲][泪]"
    )


@pytest.mark.parametrize(
    "text",
    [
        "鲜果时光的橙汁喝出异物，已经打了12315",
        "鲜果时光再不退款我就找律师起诉",
        "这事我已经发给都市报的记者了，鲜果时光等着媒体曝光吧",
        "鲜果时光卖过期果汁，今年315见",
        "鲜果时光的门店员工推了我妈，我们已经报警了",
        "鲜果时光的门店油烟直排进小区，熏得没法开窗，我们已经去住建局和卫健委投诉了",
        "鲜果时光再不给退款，我就告你们",
    ],
)
def test_escalation_phrasing_is_very_urgent(nlp_cfg: AppConfig, text: str) -> None:
    a = sentiment.analyze(text, brand="鲜果时光")
    assert a.is_complaint and a.urgency == "非常紧急" and a.risk >= 80
    assert any(r.startswith("提及") for r in a.reasons)


def test_harm_is_food_discomfort_and_very_urgent(nlp_cfg: AppConfig) -> None:
    a = sentiment.analyze("喝了鲜果时光的芒果冰沙，全家上吐下泻，半夜去医院挂急诊", brand="鲜果时光")
    assert (a.is_complaint, a.category, a.urgency) == (True, "食用不适", "非常紧急")
    near_miss = sentiment.analyze("鲜果时光的沙拉里有颗小石子，差点把牙硌了，还好没事", brand="鲜果时光")
    assert near_miss.urgency != "非常紧急"


def _signals(text: str) -> dict[str, float]:
    from sentiment.signals import collect

    return {k: v for k, v in collect(text, analyzer.state().lexicon).score.items() if v}


def test_harm_the_product_cured_is_no_harm(nlp_cfg: AppConfig) -> None:
    sentiment.analyze("warm up")  # configures the analyser
    for text in ("用了一个月过敏全好了，回购三瓶", "这款面霜治好了我的过敏", "发烧好了，谢谢骑手送药"):
        assert "harm" not in _signals(text), text
    for text in (
        "用了一个月过敏了，脸上全是疹子",
        "拉肚子到现在还没好了",
        "过敏一直没好，脸上全是疹子",
        "喝了奶粉宝宝腹泻，住院一周治好了，要求赔偿",  # treated, and redress asked: harm
        "拉肚子好了又拉，太坑了",  # it came back
        "烫伤好了留了疤",
        "腹泻好了吗？还没有，一直拉",
        "吃完食物中毒退了钱就想了事？",
    ):
        assert _signals(text).get("harm", 0) >= 2.5, text
    a = sentiment.analyze("用了小鹿宝贝的面霜一个月，过敏全好了，回购三瓶", brand="小鹿宝贝")
    assert not a.is_complaint and not any(r.startswith("健康安全") for r in a.reasons)


def test_a_hospital_stay_an_insurance_claim_is_about_is_no_harm(nlp_cfg: AppConfig) -> None:
    sentiment.analyze("warm up")
    for text in (
        "我爸住院要报销，保险的理赔专员一会儿说缺这个材料",
        "广告说住院100%报销，理赔时才说有免赔额",
    ):
        assert "harm" not in _signals(text), text
    for text in ("吃坏肚子住院了，要求报销医药费", "坐专车追尾受伤住院，保险公司和平台互相推诿"):
        assert _signals(text).get("harm", 0) >= 2.5, text


def test_many_people_hit_but_not_a_group_outing(nlp_cfg: AppConfig) -> None:
    sentiment.analyze("warm up")
    for text in ("我们楼里十几户全断网了", "好几户都说孩子吃了不舒服", "我们小区二十多户都漏水"):
        assert _signals(text).get("bulk", 0) >= 2.5, text
    for text in (
        "我们十几个人来聚餐，上菜有点慢",
        "拉了二十个人助力还是没砍成",
        "好几个人推荐我来这家",
        "好几个人都说鲜果时光好喝",
        "好几家都开了鲜果时光",
    ):
        assert "bulk" not in _signals(text), text


def test_taunts_and_sneers_are_strong_emotion(nlp_cfg: AppConfig) -> None:
    sentiment.analyze("warm up")
    for text in (
        "限速逼你开会员，吃相太难看了",
        "这种质量还好意思宣传两天一充",
        "打个电话断三次，我真的会谢",
        "妈的，又坏了",
    ):
        assert _signals(text).get("emotion", 0) >= 1.5, text
    for text in ("他妈妈也喜欢喝", "今天是我妈的生日", "在tmdb上查了评分", "真黑科技，流氓兔联名款"):
        assert "emotion" not in _signals(text), text


def test_regulators_named_as_places_are_no_escalation(nlp_cfg: AppConfig) -> None:
    sentiment.analyze("warm up")
    for text in ("我们准备联合业主去住建局投诉", "已经投诉到工信部了", "鲜果时光再不处理我就告你们"):
        assert _signals(text).get("escalation", 0) >= 2.5, text
    for text in (
        "交通局门口新开了一家鲜果时光",
        "用微信访问小程序，下单很方便",
        "鲜果时光的广告你们看了吗，拍得真好",
    ):
        assert "escalation" not in _signals(text), text


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("给孩子买的小鹿宝贝玩具，孩子嘴巴划破了，太气人了", "小鹿宝贝"),
        pytest.param(
            "孩子吃了鲜果时光的果冻呛到了",
            "鲜果时光",
            marks=pytest.mark.xfail(
                reason="known error of the learned model: p 0.20-0.21 in earlier fits, 0.12-0.13 in "
                "clr-146890c5ab, clr-14777bb774 and clr-1e5ccc2de0, under the 0.2 harm bar (docs/analysis.md, known errors)",
                strict=False,
            ),
        ),
        ("小鹿宝贝的积木边缘锋利，宝宝手被割伤流血", "小鹿宝贝"),
    ],
)
def test_a_child_harmed_is_very_urgent(nlp_cfg: AppConfig, text: str, brand: str) -> None:
    a = sentiment.analyze(text, brand=brand)
    assert (a.is_complaint, a.urgency) == (True, "非常紧急") and a.risk >= 80
    assert any(r.startswith("健康安全") for r in a.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "🎉粉丝福利｜转发+关注，抽3位送鲜果时光芒果冰沙！不满意随时退款，有问题可直接投诉店长",
        "鲜果时光招聘门店店员，月薪6000，五险一金，欢迎转发",
        "据媒体报道，鲜果时光宣布下月起全国门店上线退款秒到账服务",
        "3·15我们承诺｜鲜果时光过期包赔、吃出异物假一赔十，投诉热线全年无休，欢迎监督",
    ],
)
def test_ads_news_and_announcements_with_complaint_words_are_not_complaints(
    nlp_cfg: AppConfig, text: str
) -> None:
    a = sentiment.analyze(text, brand="鲜果时光", likes=5000)
    assert not a.is_complaint and a.urgency is None and a.risk < 30


def test_competitor_grievance_is_not_ours(nlp_cfg: AppConfig) -> None:
    a = sentiment.analyze("隔壁家的快递又丢件了，气死我了。还是云途快递靠谱", brand="云途快递")
    assert not a.is_complaint
    assert any("其他品牌" in r for r in a.reasons)


def test_heimao_is_always_a_complaint_of_at_least_urgent(nlp_cfg: AppConfig) -> None:
    a = sentiment.analyze(
        "投诉对象：星耀手机｜投诉问题：屏幕漏光｜投诉要求：换货｜涉诉金额：3999元。", platform="heimao"
    )
    assert a.is_complaint and a.urgency in ("紧急", "非常紧急") and a.risk >= 60
    assert a.category == "产品质量"


def test_virality_thresholds_come_from_config_and_include_the_boundary(tmp_path) -> None:
    from tests.sentiment.conftest import make_config

    text = "云途快递把我的包裹弄丢了，客服也不管，有点失望"
    sentiment.configure(make_config(tmp_path))
    assert sentiment.analyze(text, likes=999).urgency != "非常紧急"
    at = sentiment.analyze(text, likes=600, comments=300, shares=100)
    assert at.urgency == "非常紧急" and any("1,000" in r for r in at.reasons)
    assert sentiment.analyze(text, followers=100_000).urgency == "非常紧急"
    sentiment.configure(make_config(tmp_path, viral_engagement=50, big_v_followers=10))
    assert sentiment.analyze(text, likes=60).urgency == "非常紧急"
    assert sentiment.analyze("云途快递今天送得很快，点赞", likes=60).urgency is None
    sentiment.configure(make_config(tmp_path))


def test_demand_makes_urgent_and_mild_stays_general(nlp_cfg: AppConfig) -> None:
    demand = sentiment.analyze("星耀X7用了一周就黑屏，要求退货退款！", brand="星耀手机")
    mild = sentiment.analyze("星耀X7用了一年多，后盖有点掉漆，不影响用", brand="星耀手机")
    assert demand.urgency == "紧急" and mild.urgency == "一般"
    assert demand.risk > mild.risk


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("云途快递的快递员不送上门，直接放驿站，还显示已签收", "物流配送"),
        ("鲜果时光退货申请被驳回三次，钱到现在还没退", "退换货"),
        ("鲜果时光会员自动续费没提醒就扣了我68元", "价格收费"),
        ("鲜果时光客服态度恶劣，问两句就挂电话", "服务态度"),
        ("鲜果时光满100减20的券结账时用不了，活动规则说变就变", "活动政策"),
        ("鲜果时光宣传的100%鲜榨，实际是浓缩液兑的，和广告完全不符", "虚假宣传"),
        ("星耀X7升级系统后一直连不上蓝牙，重启也没用，怎么办", "使用问题"),
    ],
)
def test_categories(nlp_cfg: AppConfig, text: str, category: str) -> None:
    a = sentiment.analyze(text)
    assert a.is_complaint and a.category == category


def test_author_history_of_escalation_raises_urgency(nlp_cfg: AppConfig) -> None:
    text = "鲜果时光的橙汁又是坏的，必须给我退款！"
    plain = sentiment.analyze(text)
    repeat = sentiment.analyze(text, author_history={"complaint_count": 4, "escalation_count": 1})
    assert plain.urgency == "紧急" and repeat.urgency == "非常紧急"


def test_reasons_are_chinese_and_name_the_signals(nlp_cfg: AppConfig) -> None:
    a = sentiment.analyze(
        "鲜果时光卖过期牛奶，孩子喝了住院，已经向12315投诉，必须赔偿！", likes=3000, followers=250_000
    )
    joined = "；".join(a.reasons)
    for part in ("12315", "住院", "高传播: 点赞+评论+转发 3,000", "大V作者 粉丝 25万"):
        assert part in joined
