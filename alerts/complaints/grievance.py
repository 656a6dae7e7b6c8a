"""Whose grievance is it? Tell a consumer's own complaint from reposts, echoes, support and advice.

Complaint registration asks one question of a mention that belongs to a story which already
has a record: does its author state a grievance of their **own** (their order, their purchase,
their money, their harm, their child), or do they repeat the story, echo it (同款 / +1 / 我也是),
cheer the poster on (支持维权 / 抱抱) or advise them (建议直接打12315)? Only the first opens a
record of its own; the rest join the story's record as evidence.

The judgement runs on the author's **own words**: links, emoticons, #topics#, ``回复@name:``
and the quoted ``//@name:`` chain of other people are removed, and so is every clause that the
story itself already contains (character-bigram containment against the story's text), so a
repost of "孩子嘴巴划破了" does not make the reposter a parent with a harmed child.

Then, clause by clause (cheap compiled patterns, no model):

- advice clauses (建议…, 可以去…, 你应该…) and support clauses (支持, 加油, 心疼, 太离谱了) say
  nothing about the author, and an escalation word in advice ("建议打12315") is not the
  author's own escalation;
- echo clauses (同款, +1, 我也是, 一样的问题, 被这样对待) claim the same thing happened without
  saying what: a "me too" is an echo unless another clause names a concrete problem;
- ownership: a first-person actor with a purchase / use / contact verb (我昨天买的, 我喝了),
  a first-person possession or body (我的订单, 我肚子), family (我家孩子, 我妈), a subject-less
  purchase at the head of a clause (买的…, 刚收到的…, 下单三天…), an amount paid or taken
  (花了299元, 扣了我99元), an order number, or the author's own request refused (退款被拒);
- a problem: a concrete defect, harm, service or money problem (异物, 拉肚子, 过敏, 坏了, 没收到,
  退款被拒, 挂我电话, 多扣…), not negated (没有任何问题) and not asked about someone else;
- a first-person demand (给我退款, 赔我, 还我钱) or a first-person victim (骗了我, 扣我钱) is
  ownership and problem at once.

A mention is the author's own grievance when it has ownership and a problem outside advice,
support and echo clauses (a first-person echo such as "我也中招了" counts as ownership when
another clause names the problem). A formal complaint (every Heimao post) is always the
author's own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from alerts.complaints.customers import ESCALATION_RE

# --- cleaning -----------------------------------------------------------------------

_URL = re.compile(r"https?://\S+")
_REPLY = re.compile(r"回复\s*@[^:：\s]{1,30}\s*[:：]")
_CHAIN = re.compile(r"//\s*@([^:：\s]{1,30})\s*[:：]")
_AT = re.compile(r"@[^\s:：,，。!！?？@]{1,30}(?=[\s:：,，。!！?？]|$)")
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_TOPIC = re.compile(r"#[^#\n]{1,40}#")
_SPLIT = re.compile(r"[，,。！!？?；;、…~～\n\r\t ]+")
_PUNCT = re.compile(r"[\s\W_]+")
STORY_CONTAINMENT = (
    0.6  # a clause with this share of its bigrams in the story is the story's, not the author's
)

# --- lexicons -----------------------------------------------------------------------

_FIRST = r"(?:我|俺|咱|本人|自家)"
_NOT_ME = re.compile(r"我(?:的)?(?:朋友|同事|邻居|同学|闺蜜|室友|表姐|表哥|表妹|表弟|发小|舍友|网友)")
_KIN = r"(?:孩子|小孩|宝宝|宝贝|儿子|女儿|闺女|娃|老人|爸爸?|妈妈?|父亲|母亲|老公|老婆|爱人|家人|一家|全家|婆婆|公公|奶奶|爷爷|外婆|姥姥)"
_BODY = (
    r"(?:订单|快递|包裹|账号|账户|会员|钱|卡|手机|电脑|车|衣服|皮肤|脸|手|嘴|肚子|胃|头|眼睛|牙|喉咙|身体)"
)
_VERB = (
    r"(?:买|购|入手|下单|下了单|订|点了|点的|充值|充了|办了|收到|拿到|到手|签收|吃|喝|用|穿|戴|涂|擦|抹|试|"
    r"寄|退|换|付|花|交|申请|联系|打了|找了|投诉了|问了|等了)"
)
_TIME = (
    r"(?:刚刚?|才|昨天|今天|前天|上周|上个?月|上次|前几天|早上|中午|晚上|周末|去年|\d{1,2}月\d{1,2}[日号])"
)
_THIRD = re.compile(
    r"多名|很多人|好多人|不少人|有人|网友|消费者|大家|别人|他们|她们|博主|楼主|[Uu][Pp]主|"
    r"姐妹们|家长们|朋友|新闻|据|听说|网传|爆料|被曝|曝光了|报道|看到"
)
# Implicit first person (posts only): Chinese complaints drop the subject ("寄来的箱子压扁了"),
# so a clause that tells an experience with the product, the order or the service is the author's.
_EXPERIENCE = re.compile(
    r"(?:^|[^不])用[^，。！？]{1,12}时|装了|按说明书|参加|领了|直播间|下单|寄来的|送来的|发来的|到手|拆开|打开|吃出|喝出|吃完|喝完|吃了|喝了|用了|用完|买了|买的|收到|拿到|"
    r"领的|下单|结账|付款|支付|兑换|绑定|登录|申请|问了|联系|客服|售后|快递员|配送员|店员|门店|外卖|"
    r"订单|账号|会员|优惠券|积分|发票|退货|退款|换货|运费|服务费|包装费|扣了|被扣|收了"
)

PROBLEM = (
    r"坏了|坏掉|损坏|破损|破了|碎了|裂了|漏液|漏水|漏气|漏了|发霉|霉变|长毛|变质|过期|临期|异物|头发|虫子|小虫|苍蝇|蟑螂|"
    r"玻璃|碎片|塑料|铁丝|石子|怪味|异味|有股味|发臭|馊了|酸了|假货|是假的|山寨|做工粗糙|质量差|质量太差|质量问题|有问题|"
    r"出问题|瑕疵|掉色|起球|开线|生锈|划痕|不新鲜|缺斤少两|分量不足|少了一|"
    r"拉肚子|腹泻|呕吐|上吐下泻|吐了|肚子疼|肚子痛|胃疼|胃痛|肠胃炎|过敏|红疹|起疹|疹子|发烧|头晕|不舒服|身体不适|中毒|"
    r"痒|刺痛|烂脸|爆痘|长痘|住院|急诊|进了医院|去了医院|去医院|挂水|输液|烫伤|烫到|划破|划伤|割伤|受伤|出血|流血|红肿|破皮|"
    r"用不了|不能用|无法使用|失效|被拒|拒绝|不给退|不退|不赔|拒赔|扣了|扣钱|扣款|扣费|多收|多扣|乱收费|重复扣|扣了两次|"
    r"自动续费|涨价|被宰|没到账|未到账|不到账|"
    r"没收到|未收到|没到货|丢了|丢件|不发货|没发货|还没发|延迟|超时|送错|压扁|摔坏|"
    r"闪退|登录不上|登不上|装不上|连不上|打不开|卡住|卡死|失败|报错|死机|黑屏|"
    r"态度差|态度恶劣|态度很差|态度不好|不理人|没人理|不回复|不回消息|挂电话|踢皮球|推脱|敷衍|不耐烦|翻白眼|"
    r"虚假|虚标|不符|货不对板|被骗|骗人|泄露|骚扰电话|封号|被封|"
    r"发票开不出|开不出来|开不了发票|不给开发票|一直不发|不发货|没消息|没回音|再也没|没人接|排队|卡在|不行|没法|找不到|太复杂|"
    r"只有一件|不一样|两回事|根本不是|根本没|多出|莫名其妙|脏|冒犯|过度包装|化了|很凶|太凶|还贵|太贵|被人拿走|扔在|发烫|水泡|被吞|不翼而飞"
)
_PROBLEM = re.compile(PROBLEM)
_OWNED = re.compile(
    _FIRST
    + r"(?:也|都|还|刚|昨天|今天|之前|当时|已经|一家|全家|们)?[^，。！？]{0,12}?"
    + _VERB
    + "|"
    + _FIRST
    + r"(?:的|家的?|们家的?)?"
    + _BODY
    + "|"
    + _FIRST
    + r"(?:的|家|们家)?(?:的)?"
    + _KIN
    + "|家里(?:的)?(?:孩子|小孩|宝宝|老人)"
    + "|"
    + _FIRST
    + r"(?:也|都|还)?被"
    + r"|(?:给|让|叫|要|帮|跟|和|对|说)我(?!们|觉得|看|想)"
    + "|"
    + _FIRST
    + r"[^，。！？]{0,4}(?:"
    + PROBLEM
    + ")"
    + r"|订单号|订单编号|运单号|快递单号"
    + r"|(?:花了|付了|交了|充了|收了|扣了我?|多收了?|被扣了?)\s*\d+(?:\.\d+)?\s*(?:元|块|rmb|RMB)"
    + r"|(?:刚|才|刚刚)(?:买|用|收到|拿到|到手|吃|喝)"
)
_HEAD = re.compile(
    r"^(?:" + _TIME + r"\s*)*(?:在[^，。！？]{1,12})?(?:买|购买|入手|下单|下了单|订了?|点了?|收到|拿到|"
    r"签收|吃了|喝了|吃完|喝完|用了|用完|充值)"
)
_KIN_HEAD = re.compile(
    r"^(?:" + _TIME + r"\s*)*(?:宝宝|孩子|小孩|娃|老人|家里人|家人)(?:也|都)?(?:吃|喝|用|穿|戴|涂)"
)
_PROCESS = re.compile(
    r"(?:申请|退货|退款|换货|价保|索赔|售后)[^，。！？]{0,8}(?:被拒|被驳回|不通过|没通过|没人理|没到账|"
    r"未到账|还没到|一直(?:显示)?(?:处理中|没)|不给)"
)
_DEMAND = re.compile(
    r"(?:给我|还我|赔我|退我|帮我)(?:全额)?(?:退款|退钱|赔偿|赔钱|赔|退|换|补发|一个说法|个说法|道歉)|"
    r"(?:骗|坑|宰|扣|封|骂|吼|凶|拉黑|怼|挂)了?我"
)
_ADVICE = re.compile(
    r"建议|要是我|我要是你|换我|换做是我|如果是我|不如|赶紧|赶快|快去|记得|最好|推荐你|可以(?:去|打|找|投诉|报|申请|要求|直接)|"
    r"^(?:去|直接|打(?!了|过|电话))|(?:你|你们|楼主|博主|姐妹|亲)(?:可以|应该|去|要|快|赶紧|得)|应该(?:去|找|打|投诉)"
)
_SUPPORT = re.compile(
    r"支持|声援|加油|抱抱|心疼|顶一?下?$|^顶|蹲|关注|求后续|求官方|求回应|官方.{0,4}回应|已转|转发|扩散|帮转|"
    r"同情|可怕|可怜|恶心|离谱|过分|吓人|吓死|无语|吃瓜|真的假的|说得对|说的对|已下单|求链接|避雷|别买了|"
    r"不敢(?:买|吃|喝|用)了"
)
_ECHO = re.compile(
    r"同款|\+1|＋1|加一|我也是|我也一样|我也遇到|我也碰到|我也中招|我也有过|我家也是|同问|一样的(?:问题|情况|遭遇)|"
    r"同样的(?:问题|情况|遭遇)|类似的|类似问题|也这样|也是这样|这样对待|被这样|一模一样"
)
_NEGATED = re.compile(
    r"没有任何问题|没什么问题|没问题|没毛病|完全没事|没事|一点问题都没有|不怪|已经解决|已解决"
)
_QUESTION = re.compile(r"吗$|么$|是不是|有没有|会不会|\?$|？$")


@dataclass(frozen=True, slots=True)
class Stance:
    """What a mention's author says for themselves."""

    own: bool  # a grievance of their own: it opens a record
    kind: str  # own | advice | echo | support | repost | other
    escalation: bool  # the author escalated or threatens to (not advice to someone else)
    why: str  # the deciding signal, in Chinese (for the record's reasons)
    own_text: str  # the author's own words, story and quotes removed


def bigrams(text: str) -> set[str]:
    """Character bigrams of ``text`` without punctuation and spaces."""
    out: set[str] = set()
    for part in _PUNCT.sub(" ", text or "").lower().split():
        out.update(part[i : i + 2] for i in range(len(part) - 1))
    return out


def _own_segments(text: str, author_name: str | None) -> str:
    """``text`` without links, emoticons, topics, reply prefixes and the ``//@other:`` quoted chain."""
    text = _URL.sub(" ", text or "")
    text = _REPLY.sub(" ", text).replace("转发微博", " ")
    parts = _CHAIN.split(text)
    kept = [parts[0]]
    for name, words in zip(parts[1::2], parts[2::2], strict=False):
        if author_name and name.strip() == author_name.strip():  # the author quoting themselves
            kept.append(words)
    text = " ".join(kept)
    text = _TOPIC.sub(" ", _EMOTICON.sub(" ", text))
    return _AT.sub(" ", text)


def own_clauses(text: str, *, author_name: str | None = None, story: set[str] | None = None) -> list[str]:
    """The author's own clauses: the cleaned text split at punctuation, minus clauses the story contains."""
    out: list[str] = []
    for clause in _SPLIT.split(_own_segments(text, author_name)):
        clause = clause.strip()
        if len(clause) < 2 and clause not in ("顶",):
            continue
        if story:
            grams = bigrams(clause)
            if grams and len(grams & story) / len(grams) >= STORY_CONTAINMENT:
                continue
        out.append(clause)
    return out


def _ownership(clause: str, implicit: bool = False) -> str | None:
    """Which ownership signal a clause carries (Chinese label), if any; ``implicit``: a subject-less
    experience counts (a post of its own, not a comment or a repost)."""
    c = _NOT_ME.sub("他人", clause)
    if re.search(_FIRST + r"(?:的|家|们家)?(?:的)?" + _KIN + "|家里(?:的)?(?:孩子|小孩|宝宝|老人)", c):
        return "本人家人"
    if re.search(r"订单号|订单编号|运单号|快递单号|" + _FIRST + r"的?(?:订单|快递|包裹)", c):
        return "本人订单"
    if re.search(r"\d+(?:\.\d+)?\s*(?:元|块|rmb|RMB)", c) and _OWNED.search(c):
        return "本人金额"
    if _PROCESS.search(c) and not _THIRD.search(c):
        return "本人申请被拒"
    if _OWNED.search(c):
        return "本人购买或使用"
    if not _THIRD.search(c) and _HEAD.search(c):
        return "本人购买或使用"
    if not _THIRD.search(c) and _KIN_HEAD.search(c):
        return "本人家人"
    if implicit and not _THIRD.search(c) and _EXPERIENCE.search(c):
        return "本人经历"
    return None


def judge(
    text: str,
    *,
    author_name: str | None = None,
    story: set[str] | None = None,
    formal: bool = False,
    repost: bool = False,
    implicit: bool = False,
) -> Stance:
    """Whether the author of ``text`` states a grievance of their own (see the module docstring).

    ``story``: bigrams of the story the mention belongs to (its clauses are not the author's);
    ``formal``: a formal complaint (Heimao), always the author's own; ``repost``: the platform
    says the mention is a repost, so an empty remainder is a plain repost; ``implicit``: the
    mention is a post of its own (not a comment, not a repost), where a subject-less experience
    ("寄来的箱子压扁了") is the author's.
    """
    clauses = own_clauses(text, author_name=author_name, story=story)
    own_text = "，".join(clauses)
    escalation = False
    owner: str | None = None
    weak_owner = False
    problem = False
    seen = {"advice": 0, "echo": 0, "support": 0}
    demand = _DEMAND.search(_NOT_ME.sub("他人", own_text))
    for clause in clauses:
        if _ADVICE.search(clause) and not _DEMAND.search(clause):
            seen["advice"] += 1
            continue
        escalation = escalation or bool(ESCALATION_RE.search(clause))
        if _ECHO.search(clause):
            seen["echo"] += 1
            weak_owner = weak_owner or bool(re.search(_FIRST, _NOT_ME.sub("他人", clause)))
            continue
        has_problem = bool(_PROBLEM.search(clause)) or bool(_PROCESS.search(clause))
        if _NEGATED.search(clause):
            continue
        label = _ownership(clause, implicit and not repost)
        if _SUPPORT.search(clause) and not label and not has_problem:
            seen["support"] += 1
            continue
        if has_problem and _QUESTION.search(clause) and not label:
            continue  # asking someone else whether it happened to them
        owner = owner or label
        problem = problem or has_problem
    if formal:
        return Stance(True, "own", escalation or bool(ESCALATION_RE.search(own_text)), "正式投诉", own_text)
    if demand:
        return Stance(
            True,
            "own",
            escalation,
            "要求给本人退款或赔偿" if demand.group(0)[:1] in "给还赔退帮" else "本人受到不公对待",
            own_text,
        )
    if problem and (owner or weak_owner):
        return Stance(True, "own", escalation, f"{owner or '本人遭遇'}+具体问题", own_text)
    if seen["advice"]:
        kind = "advice"
    elif seen["echo"]:
        kind = "echo"
    elif seen["support"]:
        kind = "support"
    elif not clauses or repost:
        kind = "repost"
    else:
        kind = "other"
    return Stance(False, kind, escalation, KIND_NAMES[kind], own_text)


KIND_NAMES = {
    "own": "自述问题",
    "advice": "给出建议",
    "echo": "附和（同款/+1）",
    "support": "声援",
    "repost": "转发",
    "other": "未自述本人问题",
}


@functools.lru_cache(maxsize=4096)
def source_story(title: str | None, text: str | None) -> frozenset[str]:
    """:func:`story_of` a record's source post (title, text), cached: triage reloads the same open
    records for every batch of a busy event."""
    return frozenset(story_of([title, text]))


def story_of(texts: Iterable[str | None]) -> set[str]:
    """Bigrams of the texts that tell a story (a record's source post, a repost's original)."""
    out: set[str] = set()
    for t in texts:
        if t:
            out |= bigrams(_own_segments(t, None))
    return out
