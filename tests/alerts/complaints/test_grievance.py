"""The first-person grievance judgement on varied phrasings (written for this test, not the simulator's)."""

from __future__ import annotations

import pytest

from alerts.complaints.grievance import judge, own_clauses, story_of

STORY = story_of(["鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，大家转起来"])

OWN = [  # a grievance of the author's own: order, purchase, money, harm, child
    "我也是！我买的芒果冰沙也有异物",
    "我家孩子上周也在这家店喝出玻璃，嘴里划了个口子",
    "我也中招了，拉肚子三天",
    "昨天在鲜果时光买的橙汁打开就发霉了",
    "花了299元买的，用了两天就坏了",
    "订单号123456789，到现在没发货",
    "客服直接挂我电话，什么态度",
    "请尽快给我退款！",
    "退款申请了十天一直显示处理中",
    "我喝完肚子疼了一晚上",
    "宝宝用了他家纸尿裤屁股红肿破皮",
    "我妈吃了他们家的月饼住院了",
    "会员自动续费扣了我99元，没有任何提醒",
    "我的账号莫名其妙被封了",
    "下单五天了还没发货",
    "我也遇到过，买的面包发霉了",
    "姐妹们避雷，我在直播间买的面膜用完脸又红又痒",
    "快递员让我自己下楼去路口拿，态度很凶",
    "回复@小王:我也是，我家老人吃完上吐下泻，现在还在医院",
]
NOT_OWN = [  # echoes, support, advice, questions, other people's trouble, praise, the story itself
    "建议直接打12315",
    "支持维权，已转发",
    "同款问题+1",
    "同款遭遇，鲜果时光真的要给个说法",
    "我也是！鲜果时光的芒果冰沙也出过一样的问题",
    "抱抱，我之前也被这样对待过",
    "太离谱了[吃瓜]",
    "蹲一个后续",
    "求官方回应",
    "我觉得很可怕，孩子住院了好可怜",
    "你可以去消协投诉",
    "楼主赶紧去医院看看吧",
    "我朋友也拉肚子了",
    "用了一个月，没有任何问题",
    "你们也拉肚子了吗？",
    "多名消费者反映吃了后集体腹泻",
    "听说有人喝出了玻璃",
    "转发微博",
    "加油，一定要维权到底",
    "我要是你就直接起诉",
    "心疼孩子 #鲜果时光维权#",
]


@pytest.mark.parametrize("text", OWN)
def test_own_grievances(text: str) -> None:
    s = judge(text, author_name="网友3")
    assert s.own and s.kind == "own", (text, s)


@pytest.mark.parametrize("text", NOT_OWN)
def test_not_own_grievances(text: str) -> None:
    s = judge(text, author_name="网友3", story=STORY)
    assert not s.own and s.kind != "own", (text, s)


def test_kinds_and_escalation() -> None:
    assert judge("建议直接打12315").kind == "advice" and not judge("建议直接打12315").escalation
    assert judge("同款问题+1").kind == "echo"
    assert judge("支持维权，已转发").kind == "support"
    threat = judge("已经打了12315投诉")
    assert not threat.own and threat.escalation  # the author escalated: a signal, not a grievance of theirs
    assert judge("准备找律师起诉").escalation


def test_the_story_and_other_peoples_words_are_not_the_authors() -> None:
    story = "鲜果时光芒果冰沙里喝出玻璃碎片，孩子嘴巴划破了，门店拒绝赔偿，大家转起来"
    # a repost: the child in the story is the poster's, not the reposter's
    assert not judge(f"转发：{story}", story=STORY, repost=True).own
    assert judge(f"{story}", story=STORY, repost=True).kind == "repost"
    # the quoted chain belongs to other people; the author's own words after their own name count
    assert own_clauses("太可怕了//@小李:我买的也坏了//@网友3:我家孩子也喝出玻璃了", author_name="网友3") == [
        "太可怕了",
        "我家孩子也喝出玻璃了",
    ]
    assert not judge("太可怕了//@小李:我买的也坏了", author_name="网友3").own
    assert judge(f"{story} //@网友3: 我儿子喝完嘴里也出血了", author_name="网友3", story=STORY).own


def test_subject_less_experience_counts_in_a_post_of_its_own_only() -> None:
    text = "鲜果时光寄来的箱子压扁了，橙汁全漏了"
    assert judge(text, implicit=True).own  # a post: "寄来的" is the author's parcel
    assert not judge(text).own  # as a comment it may describe the poster's parcel
    assert judge("黑猫投诉：要求退款", formal=True).why == "正式投诉"
