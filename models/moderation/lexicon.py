"""The moderation lexicon: phrase families every label is evaded with, on normalised text.

Why a lexicon beside the classifiers: evasion is deliberate and fast-moving (小红薯 for
小红书, 绿泡泡 for WeChat, ``nmsl``, 兼✖职✖日✖结), the phrases are few and exact, and an
editor needs the matched span and what it decodes to. The classifiers learn the long
tail; the lexicon holds what the policy names (``moderation-policy.md``, issue 12).

Each family is a regular expression over one of two *views* of the text, both mapped back
to the original offsets:

- ``plain``: NFKC, full-width → half-width, traditional → simplified, zero-width removed,
  lower-cased (``datasets.normalize.normalize_with_offsets``);
- ``squeezed``: ``plain`` without what posters put between characters (spaces, ``·``,
  ``+``-less separators, emoji and symbols), so ``兼✖职✖日✖结`` reads 兼职日结.

A family has a label, a sub-type, a confidence (``REJECT`` — unambiguous evidence — or
``REVIEW``), optional *guards* (text around the match that makes it benign: 领了券 is a
buyer, not a coupon push) and an optional length cap (a short filler-only post). On top of
the phrase families: pinyin-aware insult matching (``pypinyin``: 煞笔 / 沙比 / 傻b all read
``sha bi``; latin initials ``nmsl``/``cnm`` as whole tokens), repetition spam measured as
the share of the text made of runs, and contact numbers written in Chinese numerals.
Quoting a diversion (客服让我加微信, 不要相信让你加好友的客服) lowers it below review,
as the contact detectors do.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from pypinyin import lazy_pinyin

from quanzi.models.moderation.detectors import (
    DIGIT_LOOKALIKES,
    Hit,
    View,
    narrated_after,
    plain_view,
    reported_before,
)

REJECT = 0.95  # unambiguous: the policy's reject band for rule hits
REVIEW = 0.75  # needs an editor: the review band
QUOTED = 0.4  # a diversion the poster reports or refuses: below review

LEXICON_VERSION = "1"


@dataclass(frozen=True)
class Family:
    """One phrase family: where it looks, what it means, and what makes it benign."""

    label: str
    subtype: str
    pattern: str
    confidence: float = REJECT
    view: str = "squeezed"  # "plain" or "squeezed"
    guard_before: str | None = None  # regex on up to 8 chars before the match: benign
    guard_after: str | None = None  # regex on up to 8 chars after the match: benign
    max_len: int | None = None  # only texts this short (squeezed length)
    quotable: bool = False  # a reported / refused call to add drops to QUOTED

    def compiled(self) -> re.Pattern[str]:
        return _compile(self.pattern)


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# --------------------------------------------------------------------------- vocabulary
PLATFORMS = (
    "小红书|小红薯|红书|xhs|小破站|b站|哔哩哔哩|bilibili|微博|围脖|公众号|公号|gzh|闲鱼|某鱼"
    "|咸鱼|鱼上|抖音|抖阴|dy|快手|视频号|拼夕夕|拼多多|某宝|某东|某多多|tg|telegram|电报"
    "|line|ins|推特|油管|知乎|豆瓣"
    "|xiaohongshu|hongshu|weibo|douyin|xianyu|kuaishou|zhihu|douban|pinduoduo|gongzhonghao"
    "|shipinhao"
    # nicknames and colour names posters use to dodge the names above (issue 12's list and
    # the field's usage): 公主号 = 公众号, 海鲜市场 = 闲鱼, 某音/某书/某乎 …, wb/vb = 微博
    "|公主号|海鲜市场|某音|某书|某乎|某手|某站|某博|dou音|抖y|小蓝鸟|红色软件|红色app|蓝色软件|蓝色app"
    "|黄色软件|(?<![a-z])[wv]b(?![a-z])"
)
# Platform names by sound (``platform_sounds``): 小洪书 / 晓红书 / 威博 / 斗音 / 线鱼 read as
# the name, so every platform family sees them, unless the characters are an everyday
# word with the same sound (微波炉, 都因为, 先于, 鲜鱼); the families still need
# the diversion context (同名, 搜我, 私信我 …), so a platform named by sound alone is clean.
PLATFORM_SOUNDS = ("小红书", "微博", "抖音", "闲鱼", "快手", "知乎", "豆瓣", "拼多多", "公众号")
SOUND_ALIKE_WORDS = frozenset(["微波", "都因", "先于", "鲜鱼", "闲余", "之乎", "豆板"])
WECHAT_SLANG = "绿泡泡|绿色泡泡|绿色软件|绿色app|小绿书|卫星|薇|威|vx|wx|v信|微"
HANDLE = r"[a-z][a-z0-9_-]{3,19}"
HANDLE_WITH_DIGIT = r"[a-z][a-z_-]{0,15}\d[a-z0-9_-]{0,15}"
SECOND_PERSON = r"(?:你|您|楼上|楼主|你们|卖家|客服|店家|老板|@\S{1,12}?)"
GROUPS = (
    r"(?:东北人|河南人|新疆人|上海人|北京人|广东人|四川人|湖南人|山东人|安徽人|福建人|外地人"
    r"|本地人|农村人|乡下人|山里人|村里人|黑人|少数民族|回族|藏族|维族|女人|男人|女的|男的"
    r"|女司机|娘们|基佬|残疾人|穷人|小地方的人|这届买家)"
)

FAMILIES: tuple[Family, ...] = (
    # ---------------------------------------------------------------- contact: platforms
    Family(
        "contact",
        "platform_handle",
        rf"(?:{PLATFORMS})(?:上|里|的)?(?:同名|搜一?下?(?:我|同名|[\"“「@]|[a-z0-9])|找我|关注我|私我"
        rf"|私信我|看我|我(?:发|写|更)|主页有|主页见|号|id)",
    ),
    Family(
        "contact",
        "platform_search",
        rf"(?:{PLATFORMS}).{{0,14}}(?<!热)搜(?!索|这|一下这|型号|关键词|同款|到|了|的|过|自己|别人)[^,，。!！?？]{{2,}}",
    ),
    Family(
        "contact",
        "platform_search",
        rf"(?:{PLATFORMS})(?:上|里)?搜",
        confidence=REVIEW,
        guard_before=r"在$",
    ),
    Family(
        "contact",
        "platform_handle",
        rf"(?:{PLATFORMS}|赖)(?:号|\s*id|账号)?\s*[:：@]\s*@?{HANDLE}"
        rf"|(?:{PLATFORMS})(?:号|id|账号)?@?{HANDLE_WITH_DIGIT}",
        view="plain",
    ),
    Family(
        "contact",
        "platform_live",
        rf"(?:{PLATFORMS})直播.{{0,4}}(?:每天|每晚|晚上|点开|开播|见)",
    ),
    Family(
        "contact",
        "same_name",
        r"同名(?:哦|哈|呀|啊|,|，|$)|同名[^\u4e00-\u9fff的]|同名(?:来|去)?(?:找我|搜|关注|私|账号|号)",
        # a book sharing a drama's title (和电视剧同名) is no diversion; 跟我/和这边同名 is
        guard_before=r"(?:和|跟|与)[^我这,]{1,6}$",
    ),
    Family(
        "contact",
        "same_name",
        rf"(?:{PLATFORMS}).{{0,24}}(?:(?:id|名字|昵称|账号|号)(?:也|都)?(?:跟|和|与)?(?:我)?(?:这个|这边|这里|这儿)?"
        rf"(?:的)?(?:号|名字|id|账号)?(?:一样|相同)|也叫这个名字)"
        rf"|(?:{PLATFORMS})(?:上|里)?,?我(?:天天|每天|经常|都|也)?(?:发|更|写|直播|播)"
        rf"|(?:{PLATFORMS})(?:上|里)?见(?:$|,)"
        rf"|我在(?:{PLATFORMS})(?:上|里)?(?:有|开了?|做)(?:直播|店|小店|账号|号|频道|群)",
    ),
    # "my account on X" as a pointer (在我的小红薯笔记里, 去我抖音看); what X's feed showed
    # (在我的抖音上刷到) is a source, not a pointer
    Family(
        "contact",
        "platform_handle",
        rf"(?:在|去|看|来)我的?(?:{PLATFORMS})",
        guard_after=r"^(?:上|里)?(?:刷到|看到|首页|推荐|推送|买)",
    ),
    # ---------------------------------------------------------------- contact: phrasing
    Family(
        "contact",
        "diversion_phrase",
        r"私我|私信我|私聊我|私戳|(?<![a-z])dd我|(?<![a-z])d我|(?<!点)滴滴我|(?<![点滴])滴我|戳我头像|扫我头像|点我头像|看我头像"
        r"|头像上?的码|扫码(?:进|入|加)群?|扫码(?:添加|加我)|进群|入群|拉你进.{0,4}群|群号在"
        r"|(?<!店铺)(?<!店)(?<!官方)(?<!品牌)(?<!商品)主页有|主页见|看我主页|到我主页|去我主页|我主页|简介里?有(?:联系|v|微|号)"
        r"|(?:见|看|在|去)我的?个人(?:主)?页|看我的?(?:置顶|动态|相册)|留(?:个|下)(?:你的)?(?:电话|手机号?|号码)|群号(?:见|看|私)|戳我(?=$|,|私|一下|拉|发|拿|领|要)"
        r"|(?:号码?|联系方式|二维码|码|v|vx|微信|扣扣|qq)(?:就)?(?:在|见)(?:我的?)?(?:头像|昵称|签名|简介|个人页)"
        r"|别处找我|去我(?:那个|的|另一个)平台|站外联系|留(?:个|下)?邮箱|加个?好友"
        r"|联系方式在|号码?(?:同|就是)手机|私信你们|一个个私信",
        quotable=True,
    ),
    Family(
        "contact",
        "diversion_phrase",
        r"(?:需要|想要|有意|感兴趣|想了解|想进|想买|要的)[的者]?.{0,10}(?:私信|私聊|找我|联系我|扣我|滴我|戳我|敲我|(?<![a-z])dd(?![a-z]))"
        r"|(?:扣|打|回复)1.{0,6}拉你|(?:我|私)拉你(?=$|,)"
        r"|有意者?私$|有意者?私[^信聊\u4e00-\u9fff]",
        quotable=True,
    ),
    Family("contact", "diversion_phrase", r"踢我|(?<![a-z])v我\d*|可以来?找我", confidence=REVIEW),
    Family(
        "contact",
        "diversion_phrase",
        r"这里不让发|不方便在这(?:里|儿)?(?:说|发)",
        confidence=REVIEW,
    ),
    Family(
        "contact",
        "group_invite",
        r"(?:建|拉|开)了?个?.{0,6}群.{0,16}(?:扫码|扫|加|进|来)|(?:加|进)群(?:领|送|有|抢)"
        r"|扫码[↓⬇👇]",
        view="plain",
    ),
    # ---------------------------------------------------------------- contact: WeChat/QQ slang
    Family(
        "contact",
        "wechat_slang",
        rf"(?:加|➕|\+|搜)(?:{WECHAT_SLANG})|(?:绿泡泡|绿色泡泡|绿色软件|绿色app|小绿书)(?:搜|加|[:：]|找)",
        view="plain",
        guard_after=r"^(?:袖|裙|领|博|笑|软|风|米)",
        quotable=True,
    ),
    Family(
        "contact",
        "wechat_slang",
        rf"(?:^|[^a-z\u4e00-\u9fff])(?:信|薇|威|卫星|vx|wx)(?:[:：]|搜一?下?)?\s*{HANDLE_WITH_DIGIT}"
        rf"|(?:^|[^a-z\u4e00-\u9fff])v(?:[:：]\s*|\s+){HANDLE_WITH_DIGIT}",
        view="plain",
    ),
    Family(
        "contact",
        "wechat_slang",
        rf"(?:^|[^a-z\u4e00-\u9fff])(?:信|薇|威|卫星)(?:搜一?下?)?{HANDLE_WITH_DIGIT}"
        rf"|(?:^|[^a-z])(?:vx|wx|v信|微信|薇信)(?:搜一?下?)?{HANDLE_WITH_DIGIT}",
    ),
    Family(
        "contact",
        "wechat_slang",
        r"(?<![a-z])v[^a-z0-9\u4e00-\u9fff]+(?=[a-z\s\-·._]*\d)[a-z](?:[\s\-·._]?[a-z0-9]){3,19}",
        view="plain",
    ),
    Family(
        "contact",
        "wechat_slang",
        r"(?:微信|vx|v信|企鹅|扣扣|qq)(?:结算|交易|私聊|联系|详聊)|点击链接|点我链接",
    ),
    Family("contact", "qq_slang", r"(?<![a-z])(?:q|扣)号?(?:是|为|[:：])\d{6,11}(?!\d)"),
    Family(
        "contact",
        "wechat_name",
        r"(?:v|vx|微信|扣扣|qq|企鹅)号?(?:就?是|即)(?:我的?)?(?:名字|昵称|手机号|全拼|拼音)"
        r"|(?:昵称|名字|id).{0,8}(?:就是|即).{0,3}(?:扣扣|qq|微信|vx|v)号?",
    ),
    Family(
        "contact",
        "qq_slang",
        r"(?:加|➕|\+)(?:扣|企鹅|抠)|企鹅(?:群|号|联系|私|加|[:：])|扣扣(?:群|联系)",
        view="plain",
        quotable=True,
    ),
    # ---------------------------------------------------------------- contact: links
    Family(
        "contact",
        "url_spelled",
        r"(?:www|[a-z0-9-]{2,})(?:(?:点|dot|\(\.\))[a-z0-9-]{2,})*(?:点|dot|\(\.\))"
        r"(?:com|cn|net|org|cc|top|xyz|vip)",
        view="plain",
    ),
    Family(
        "contact",
        "url_short",
        r"(?<![a-z0-9])(?:t\.cn|dwz\.cn|url\.cn|suo\.im|tinyurl\.com)/[a-z0-9]+"
        r"|网盘链接|提取码",
        view="plain",
    ),
    # ---------------------------------------------------------------- ads
    Family("ad", "livestream", rf"(?:{PLATFORMS})直播.{{0,4}}(?:每天|每晚|晚上|点开|开播|见)"),
    Family(
        "ad",
        "contact_promo",
        r"(?:加|➕|\+|搜).{0,16}(?:领券|送试用|送小样|有现货|领优惠|更便宜)|(?:加|进)群(?:领|送|抢)"
        r"|团购群|开团|拼团群",
        view="plain",
    ),
    Family(
        "ad",
        "fake_order",
        r"刷单.{0,6}(?:日结|佣金|返|兼职|赚)|(?:招|找).{0,4}刷单|补单的?(?:姐妹|看这里|佣金|返|任务)"
        r"|好评返现\d|返现\d+元?.{0,4}(?:联系|加|私)|原单尾货|(?<![a-z])a货(?:包|鞋|表)|高仿包"
        r"|和正品一模一样",
        quotable=True,
    ),
    Family(
        "ad",
        "livestream",
        r"直播间(?:下单|专属|福利|抽|见|等你|秒杀|再送|价)|(?:每晚|每天|今晚|\d点|准时)开播|宠粉|福袋抽"
        r"|福袋不停|抽福袋|直播间秒杀|秒杀(?:开始|进行|专场|链接|来袭)|点赞收藏.{0,3}抽"
        r"|关注不迷路|评论(?:区)?(?:抽|留言抽)|抽(?:三|两|一|\d+)(?:位|个)(?:宝|姐|送)",
    ),
    Family("ad", "livestream", r"直播间", confidence=REVIEW, guard_before=r"(?:在|从|看)$"),
    Family(
        "ad",
        "coupon",
        r"(?:店铺|首页|进店)(?:首页)?领券|满\d+减\d+.{0,3}(?:叠加|全场)|进店有礼|收藏加购"
        r"|关注店铺(?:送|领|有(?:礼|券|优惠|红包|福利|惊喜))|首单(?:立减|半价)|新人(?:专享|立减)|全场.{0,3}(?:折起|包邮|五折|特价)"
        r"|无门槛.{0,2}券|领券(?:下单|再减|更划算)",
    ),
    Family(
        "ad",
        "taokouling",
        r"[￥$€¥][a-z0-9]{8,14}[￥$€¥]|复制(?:整段|这条|口令)|宝贝更低价|去tao宝|tb口令|淘口令[:：]",
        view="plain",
    ),
    Family(
        "ad",
        "agent",
        r"工厂直销|没有中间商|批发价拿|厂家(?:直销|清仓|直供)|亏本甩卖|清仓甩卖|源头(?:工厂|厂家|好货)"
        r"|我(?:的)?橱窗|招代理|代理加盟|一件代发|我这有渠道|本人代购|需要代购的?(?:姐妹|宝|亲|私|找|加)",
    ),
    Family(
        "ad",
        "recruit_tester",
        r"体验官|试用官|招募(?:中|啦|体验|试用|代理|宝妈|团长)|(?<!\d)0元领|零元领|免费领.{0,4}(?:正装|试用)"
        r"|晒单(?:返|送)",
    ),
    Family("ad", "cashback", r"好评返|晒图返|五星返", confidence=REVIEW),
    Family(
        "ad",
        "shop_voice",
        r"本店(?:新开|上新|全场|特价|优惠|活动|推出|开业)|我们家(?:新品|店|的店)|我家店|我们店"
        r"|欢迎.{0,4}(?:来店|进店|选购|来逛)|店里选购"
        r"|新品上市|首发特价|回购再送|老客户.{0,4}送"
        r"|今天不买.{0,6}(?:恢复|涨价)|明天就?恢复原价|选择品质生活",
    ),
    Family(
        "ad",
        "buyer_hype",
        r"闭眼入.{0,8}链接|好物推荐[|｜]|链接(?:放|在)评论区|评论区.{0,2}链接",
        confidence=REVIEW,
    ),
    # ---------------------------------------------------------------- offensive
    Family(
        "offensive",
        "insult",
        r"傻[x×叉逼b比币bx]|煞[笔逼b比]|沙[比逼b]|憨批|狗东西|舔狗|婊子?|贱人|贱货"
        r"|草泥马|操你|艹你|日你|(?:我|wo)?[r日草操艹]你(?:妈|马|先人|祖宗|大爷)|你妈(?:的|死|逼)"
        r"|滚出(?:这个)?圈|滚出去|滚蛋|去死吧|跟猪一样|像猪一样|一群(?:猴子|猪|狗|傻|舔狗|废物)"
        r"|乡巴佬|杂种",
        guard_before=r"(?:恶搞|电影|小说|书名|角色|剧中)$",
        view="plain",
        guard_after=r"^(?:式|瓜)",
    ),
    # 狗叫 is an insult when aimed (你狗叫什么, 别狗叫); a dog barking outside a hotel
    # window (人喊，狗叫) or a pet called 扣扣 (狗叫扣扣) is not.
    Family(
        "offensive",
        "insult",
        rf"(?:{SECOND_PERSON}|别|少|在这儿?|瞎)(?:这个|这只|个)?(?:🐶|狗)叫(?!声|了|的|得|个不停)"
        r"|(?:🐶|狗)叫(?:什么|啥|个屁|你妈)",
    ),
    Family(
        "offensive",
        "insult_word",
        r"脑残|人渣|垃圾人|智障|弱智|白痴|废物|畜生|走狗|尼玛|滚吧|屌(?!丝|大)|土鳖|猪脑子",
        confidence=REVIEW,
    ),
    Family(
        "offensive",
        "insult",
        rf"{SECOND_PERSON}.{{0,8}}(?:脑子(?:有问题|进水|有病|坏了)|有病吧|长得跟|丑八怪)",
    ),
    Family(
        "offensive",
        "mild",
        rf"沙雕|瓜娃子|{SECOND_PERSON}.{{0,10}}(?:瞎吗|瞎了吗|眼瞎)|这种人也(?:能|配)",
        confidence=REVIEW,
    ),
    Family(
        "offensive",
        "discrimination",
        rf"{GROUPS}.{{0,6}}(?:(?:就是|都是|全是|天生|果然)(?:一群|一帮)?(?:骗子|小偷|坑|垃圾|粗鲁|懒|蠢|傻"
        rf"|没素质|野蛮|low|土|穷鬼|贱)|懂什么|也配|不配|滚|没素质|素质(?:太|真|极)?(?:低|差)|粗鲁|野蛮"
        rf"|不讲理|都是坑|跟.{{0,3}}(?:猪|狗|猴子)一样)",
    ),
    Family(
        "offensive",
        "discrimination",
        rf"{GROUPS}.{{0,14}}(?:不讲理|没素质|素质(?:太|真)?(?:低|差)|野蛮|粗鲁|都是骗子|都是坑)",
    ),
    Family(
        "offensive",
        "discrimination",
        rf"{GROUPS}.{{0,4}}(?:就别|别来|别买|不要来|别抢)",
        confidence=REVIEW,
    ),
    # ---------------------------------------------------------------- spam: filler phrasing
    Family(
        "spam",
        "filler",
        r"凑字数|凑个字数|字数够了|还差.{0,2}个?字|随便写几句|随便写写|系统默认好评|此用户没有填写评价"
        r"|为了(?:拿|赚)?积分|评价方未及时做出评价",
        max_len=60,
    ),
    Family(
        "spam",
        "filler",
        r"默认五星|默认好评|懒得写|路过|随便看看|打卡|沙发|前排",
        confidence=REVIEW,
        max_len=12,
    ),
    # ---------------------------------------------------------------- privacy
    Family(
        "privacy",
        "bank_card",
        r"(?:银行卡|卡号|储蓄卡|收款账号).{0,4}\d{16,19}",
    ),
    Family(
        "privacy",
        "id_card",
        r"身份证.{0,14}\d{17}[\dx]",
    ),
    Family(
        "privacy",
        "plate",
        r"车牌.{0,4}[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][a-z][a-z0-9]{5,6}",
    ),
    Family(
        "privacy",
        "doxx",
        r"大家去.{0,8}找(?:他|她)|人肉(?:他|她|搜索|出来)|(?:他|她)的?(?:老婆|老公|女儿|儿子)叫[\u4e00-\u9fff]{2,3}"
        r"|老板的?(?:老婆|老公)叫|(?:他|她)的?工作单位是|工作单位是.{0,20}(?:大家|认识)",
    ),
    Family(
        "privacy",
        "address",
        r"(?:路|街|巷|道)\d{1,5}(?:弄|号)(?:\d{1,4}(?:号|弄))?[^,，。!！?？]{0,10}?"
        r"(?:\d{1,4}(?:栋|幢|单元|室|号楼)|\d{1,3}层\d{3,4}|\d{1,4}号\d{3,4}室?)",
    ),
    Family(
        "privacy",
        "third_party_phone",
        r"(?:派件员|快递员|快递小哥|师傅|骑手|外卖员|配送员|送货员|司机|老板|店主|这人|此人|他|她)的?"
        r"[^,，。!！?？]{0,10}(?:电话|手机号?|号码|私人号|账号)[^,，。!！?？]{0,6}?"
        r"(?:1[3-9]\d{9}|[一幺二三四五六七八九零〇两]{11})",
    ),
    Family(
        "privacy",
        "partial_location",
        r"\d{1,3}(?:栋|幢|号楼)\d{1,2}单元|小区\d{1,3}(?:栋|幢|号楼)的[\u4e00-\u9fff]某",
        confidence=REVIEW,
    ),
    # ---------------------------------------------------------------- fraud
    Family(
        "fraud",
        "job",
        r"刷单.{0,6}(?:日结|佣金|返|兼职|赚|招)|(?:招|找|兼职).{0,4}刷单|补单的?(?:姐妹|看这里|佣金|返|任务)"
        r"|垫付(?:任务|单)|垫付.{0,6}(?:返|佣金)|(?:返|还)本金|本金[加+]佣金|日赚|动动手指.{0,3}(?:就有|赚)钱|打字员"
        r"|兼职.{0,8}(?:日结|赚|刷|手机|招)|(?:招聘|诚招).{0,12}(?:兼职|在家|学生)|在家兼职"
        r"|手机操作.{0,6}(?:赚|元|日)|时间自由.{0,6}(?:日结|赚)|点赞(?:返|赚)佣",
    ),
    Family(
        "fraud",
        "fake_service",
        r"(?:双倍|三倍|\d倍)(?:赔偿|货款|理赔)|理赔专员|赔偿您|官方客服】|【官方客服|退款专员"
        r"|白条.{0,8}(?:注销|征信|利率)|注销.{0,6}(?:白条|校园贷)|利率过高.{0,6}征信",
    ),
    Family(
        "fraud",
        "phishing",
        r"验证码(?:发我|发给我|告诉我|给我)|把.{0,6}验证码.{0,4}发|助力链接|备用金|支付密码激活"
        r"|输入(?:银行卡|支付密码|卡号)|填写银行卡|银行卡(?:信息|号)领取|运费险待领取|领取.{0,4}理赔",
    ),
    Family(
        "fraud",
        "investment",
        r"内部消息|必涨|听老师讲|老师(?:讲课|带单|带你|发信号|每天发)|(?<!床)带单(?!床|人)|喊单|一个月翻倍"
        r"|亏损包赔|稳赚|稳定盈利"
        r"|胜率\d+|合约跟单|虚拟币|(?:股票|外汇|黄金).{0,4}(?:群|带|翻倍)",
    ),
    Family(
        "fraud",
        "loan",
        r"贷款秒批|秒批|黑户也能|下款|征信花了|提额代办|(?:办|贷|卡|证).{0,4}(?<!调)包过|包过(?:件|审)|无需面签|芝麻分.{0,4}借|网贷"
        r"|(?:信用卡|花呗|白条)套现",
    ),
    Family(
        "fraud",
        "counterfeit",
        r"原单尾货|(?:(?<![a-z])a货|高仿)(?:包|鞋|表|手表|包包)|(?:(?<![a-z])a货|高仿).{0,10}(?:闭眼入|懂的来|私|批发|有货|价格)"
        r"|1[:：]1复刻|一比一复刻|和正品一模一样|办证|毕业证.{0,6}(?:可查|办)"
        r"|学位证.{0,6}(?:可查|办)|仅退款教程|不用退货也能",
    ),
    Family("fraud", "counterfeit", r"包找回|低价出.{0,4}账号|账号低价出", confidence=REVIEW),
    Family(
        "fraud",
        "fake_service",
        r"理赔.{0,4}联系.{0,2}专员|(?:添加|扫码|联系).{0,4}理赔专员|理赔专员.{0,6}(?:电话|添加|微信)",
    ),
    # ---------------------------------------------------------------- gambling
    Family(
        "gambling",
        "casino",
        r"百家乐|投注|押注|首充送|老虎机|赌场(?:开户|上分|充值|网址|app)|(?:线上|在线|网上)赌场|网赌"
        r"|博彩|棋牌.{0,4}(?:上分|现金)|开户.{0,6}返水"
        r"|返水\d|炸金花|龙虎斗|捕鱼.{0,4}上分|上分下分|上下分",
    ),
    Family(
        "gambling",
        "betting",
        r"买球(?:就上|网址|平台|app|下注)|线上买球|赌球|外围(?:开盘|赌|盘)|让球|大小球|盘口|赔率最高"
        r"|足彩.{0,6}(?:内部|资料|准确率)|竞猜.{0,6}(?:买|就上|体育)"
        r"|\d元起投",
    ),
    Family(
        "gambling",
        "lottery",
        r"北京赛车|pk10|[六6⑥]合彩|幸运飞艇|时时彩|快三(?:计划|开奖|走势)|倍投|必中|追号.{0,30}跟我买|彩票.{0,6}(?:计划|带|跟我买)"
        r"|(?:计划|算法).{0,6}(?:稳定盈利|必中|稳赢)|稳赢",
        view="plain",
    ),
    Family(
        "gambling",
        "slang",
        r"(?<![a-z])d博|菠菜(?:网|平台|娱乐|上岸|带|app)|(?:赌|博).{0,3}上岸",
        confidence=REVIEW,
    ),
    # ---------------------------------------------------------------- sexual
    Family(
        "sexual",
        "solicitation",
        r"约吗|约炮|同城约|同城交友|楼凤|(?:会所|上门|男士|懂的).{0,6}特殊服务|特殊服务.{0,4}(?:懂|上门|妹)"
        r"|男士专属|包养|成人(?:电影|视频)资源|资源.{0,4}成人|老司机开车|福利图"
        r"|看了会?脸红|脸红的资源|资源.{0,6}(?:懂的|打包)|丝袜美腿|裸聊|上门服务.{0,4}(?:妹|美女)"
        r"|今晚一起|完整版.{0,8}主页|会所.{0,8}(?:妹子|小妹|技师|美女)|新来了?.{0,4}(?:妹子|小妹)",
    ),
    Family("sexual", "solicitation", r"🍑🍆|🍆🍑|🍆", view="plain"),
    Family(
        "sexual",
        "vulgar",
        r"屌大|比比谁长|是个男人都想|都想上|想上(?:她|你)|身材.{0,6}流鼻血|让人摸|欠摸|欠干|欠操"
        r"|胸(?:好|真|太)大.{0,4}多发",
    ),
    Family(  # 骚 of a person (店主太骚了); 这波操作太骚 is slang for flashy, not this
        "sexual",
        "vulgar",
        r"(?:你|楼主|店主|主播|博主|模特|老板娘|客服|她|他)(?:本人)?(?:也|真|可)?(?:太|好|真|这么|那么)骚",
        confidence=REVIEW,
    ),
    Family(
        "sexual",
        "vulgar",
        r"打飞机|老色批|色批|胸(?:好|真|太)大|特殊服务|成人(?:电影|视频)|一夜情",
        confidence=REVIEW,
        quotable=True,
    ),
    # ================================================================ wider vocabulary
    # The phrasing the policy and the field's moderation guides name beyond the cases
    # above, written from them (never from the held-out test split).
    Family(
        "contact",
        "diversion_phrase",
        r"看我(?:昵称|签名|简介|个签)|(?:签名|简介|个签|置顶)(?:里|上)?有(?:联系|v|微|号|方式)|见签名|看简介"
        r"|(?:私发|私聊|私信)(?:获取|领取|发你|给你)|(?<![a-z])(?:dm|pm)我|留下?(?:你的)?(?:v|vx|微信|联系方式)"
        r"|加我好友|好友验证|(?:威信|薇信|卫星|绿泡泡)号?(?:同|就是|即)(?:手机|电话)号?|(?:进|加|入)裙|[扣qQ]群|群聊.{0,4}(?:扫|加|进)|(?:wx|vx|v|微信|电话)同号|手机同号"
        r"|微信同号|电话同微|评论区置顶|置顶.{0,4}(?:联系|加|扫)",
        quotable=True,
    ),
    Family(
        "ad",
        "promotion",
        r"(?:下单|拍下)立减|拍一发二|优惠码|邀请码|推广码|口令红包|扫码领|(?:招|诚招)团长|分销|宝妈副业"
        # 返佣 and 加盟 only as a push: a guest complaining about a booking site's 返佣费
        # or its 加盟酒店 is not advertising either.
        r"|(?:高|超高|高额|推广|分享|分销|邀请|自购)返佣|返佣(?:\d|百分之|比例高|高达|最高|秒到|日结)"
        r"|(?:欢迎|诚邀|招商|火热|寻求|全国|城市)加盟|招.{0,4}加盟|加盟(?:热线|电话|咨询|条件|政策|商|代理"
        r"|请|详情|扶持|只要|只需|仅需|我们)|(?:不收|免|零|低)加盟费|加盟费(?:全免|低至|只要|仅需|减免)"
        r"|招募宝妈|欢迎(?:咨询|订购|选购|下单)|品牌方直供|蹲直播|(?:帮我)?砍一刀|点击领取|戳链接"
        r"|评论区领|私信领取|限量抢购|抢购链接|上车链接|拼团链接",
        # a buyer quoting the page's promise in a complaint (界面显示“下单立减200”…没减)
        guard_before=r"(?:显示|写着|写的|标着|标的|宣传的?|页面上?|界面上?|号称|说好的?|没有|没了)[“「\"]?$",
    ),
    Family(
        "offensive",
        "insult",
        r"狗日的|(?<![a-z])(?:mmp|nmd|rnmd|nmb|cnmd)(?![a-z])|你麻痹|脑瘫|死全家|全家死|断子绝孙|不得好死|杂碎"
        r"|丑逼|傻缺|二逼|(?<![a-z0-9])2b(?![a-z0-9])|蠢猪|臭婊|绿茶婊|黑鬼|死基佬|偷井盖",
        view="plain",
    ),
    Family(
        "offensive",
        "insult_word",
        r"他妈的|特么|瓜皮|二货|猪头|狗屎|白莲花|娘娘腔|穷鬼|残废|小日本|阿三|娘炮|普信男|女拳|直男癌"
        r"|田园女权|死胖子|肥猪(?!肉)|龟儿子|傻帽|蠢货",
        confidence=REVIEW,
    ),
    Family(
        "offensive",
        "discrimination",
        rf"{GROUPS}(?:都|全|就|天生)(?:是|会|爱|喜欢)(?:偷|骗|抢|懒|脏|臭|蠢|笨|穷|乡巴佬|垃圾|没文化)",
    ),
    Family(
        "spam",
        "filler",
        r"为了京豆|赚京豆|此用户未填写|用户未及时评价|系统默认|凑个数",
        max_len=20,
    ),
    Family(
        "spam",
        "filler",
        r"(?<![a-z])mark(?![a-z])|顶一下|踩踩|还行吧|就这样吧|不知道说什么|没什么好说的",
        confidence=REVIEW,
        max_len=8,
    ),
    Family(
        "privacy",
        "address",
        r"(?:家住|住在|家庭住址|门牌号|他家|她家)[^,，。!！?？]{0,16}(?:小区|花园|公寓|新村|大厦|苑)"
        r"[^,，。!！?？]{0,6}\d{1,4}(?:栋|幢|号楼|单元|室)",
    ),
    Family(
        "privacy",
        "address",
        r"\d{1,3}(?:栋|幢|号楼)\d{1,2}单元\d{3,4}|单元\d{3,4}(?:室|房|号)?(?!\d)",
    ),
    Family(  # a street and number without the building or unit: review, not reject (policy)
        "privacy",
        "partial_location",
        r"\d{1,3}(?:栋|幢)\d{3,4}(?:室|房|号)?(?!\d)"
        r"|(?:家住|住在|住址)[^,，。!！?？]{0,12}(?:路|街|小区|花园)\d{1,4}",
        confidence=REVIEW,
    ),
    Family(
        "privacy",
        "named_person",
        r"(?:姓名|名字|真名)[:：]\s?[\u4e00-\u9fff]{2,3}.{0,12}(?:电话|手机|身份证)[:：]?\s?\d{7,}"
        r"|[\u4e00-\u9fff]{1,2}(?:师傅|小姐|先生|女士|老板)的?(?:电话|手机号?|号码|私人号)(?:是|:|：)?\s?"
        r"(?:1[3-9]\d{9}|[一幺二三四五六七八九零〇两]{11})",
        view="plain",
    ),
    Family(
        "privacy",
        "shipping_label",
        r"(?:收件人|收货人)[:：]?[\u4e00-\u9fff]{2,4}.{0,8}(?:电话|手机)[:：]?\d{7,}",
    ),
    Family(
        "fraud",
        "job",
        r"刷信誉|刷钻|兼职打字|淘宝兼职|点赞员|(?:关注|点赞).{0,4}赚钱|一单一结|日入\d{3,}|月入过?万|躺赚"
        r"|带你赚钱|稳赚不赔|高回报|保本(?:保息|高收益)|宝妈副业.{0,6}(?:日结|赚)",
    ),
    Family(
        "fraud",
        "investment",
        r"数字货币|usdt|泰达币|挖矿(?:项目|收益)|区块链项目|(?:投资|理财).{0,6}(?:高回报|翻倍|稳赚|保本)"
        r"|跟着老师.{0,4}(?:买|炒)|荐股|牛股",
    ),
    Family(
        "fraud",
        "loan",
        r"信用卡代还|征信修复|逾期.{0,4}(?:修复|消除)|白户|低息.{0,4}(?:贷|借)|无抵押.{0,4}(?:贷|借)|秒下款"
        r"|额度.{0,4}秒",
    ),
    Family(
        "fraud",
        "fake_service",
        r"质量问题.{0,12}(?:退款|赔付).{0,10}(?:链接|添加|扫码|专员)|快递(?:丢失|丢件).{0,8}赔偿"
        r"|恭喜您?(?:获得|中奖|抽中)|领取奖品|幸运用户|奖品.{0,8}(?:运费|手续费|邮费)|(?:缴纳|交).{0,4}保证金"
        r"|账户.{0,4}(?:解冻|冻结).{0,8}(?:缴|交|转)|屏幕共享|共享屏幕|短信验证码",
    ),
    Family(
        "fraud",
        "counterfeit",
        r"精仿|莆田(?:鞋|货|纯原)|纯原|原厂(?:尾单|货源)|专柜品质.{0,4}(?:价格|低价)",
    ),
    Family(
        "gambling",
        "casino",
        r"网投|打码量|注册送|充值送|首存|提款秒到|出款|真人(?:荷官|视讯)|电子游艺|斗牛|牌九|骰宝|二八杠"
        r"|麻将.{0,4}(?:上分|代理|现金)|棋牌(?:代理|推广)|(?:澳门|线上|在线)(?:赌场|娱乐场)|威尼斯人.{0,4}(?:注册|开户)",
    ),
    Family(
        "gambling",
        "betting",
        r"体育(?:平台|app).{0,6}(?:注册|下载|投)|红单|竞彩.{0,4}(?:推荐|带|计划)|稳胆|串关|亚盘|欧赔|滚球"
        r"|精准计划|回血|翻本",
    ),
    Family(
        "sexual",
        "solicitation",
        r"上门.{0,4}(?:全套|半套|服务妹)|全套服务|大保健|按摩.{0,4}(?:加钟|特殊)|莞式|兼职妹|学生妹|外围女|援交"
        r"|陪聊.{0,4}(?:小姐姐|妹)|黄色网站|(?<![a-z])av(?:资源|网站|番号)|番号|磁力链|福利姬|深夜福利|私房照"
        r"|裸聊|裸照|色情(?:网站|视频|资源)|看片(?:网站|资源|app)|寂寞.{0,6}(?:约|聊|陪)",
    ),
)

# Latin initials that are insults when they stand alone as a token.
INSULT_INITIALS = {
    "nmsl": REJECT,
    "wcnm": REJECT,
    "cnm": REJECT,
    "cnmb": REJECT,
    "nmb": REJECT,
    "rnm": REJECT,
    "wqnmlgb": REJECT,
    "sb": REJECT,
    "nt": REJECT,
    "mdzz": REJECT,
    "tmd": REVIEW,
    "bdjw": REVIEW,
    "nc": REVIEW,
}
# Insults by sound: each is a syllable sequence; a lone latin letter stands for a
# syllable with that initial (傻b, sha逼). The first character must not be a question word.
INSULT_SYLLABLES: tuple[tuple[str, ...], ...] = (
    ("cao", "ni", "ma"),
    ("ni", "ma", "si", "le"),
    ("sha", "bi"),
    ("han", "pi"),
    ("lv", "cha", "biao"),
    ("ri", "ni", "ma"),
)
_NOT_INSULT_START = set("啥杀纱鲨")


# --------------------------------------------------------------------------- views
_SQUEEZE = set(" \t\n\r·•*.、|/\\~^=:：'\"`()（）[]【】<>《》…-_")
# Clause punctuation stays (as one ","): a phrase never spans two clauses ("一套，现在").
_CLAUSE = set(",，。!！?？;；")


def _squeezable(ch: str) -> bool:
    if ch in _SQUEEZE or "\ufe00" <= ch <= "\ufe0f":
        return True
    return unicodedata.category(ch) in ("So", "Sk", "Zs", "Me") and ch not in "➕🍑🍆🐶"


@lru_cache(maxsize=512)
def views(text: str) -> tuple[View, View]:
    """The plain (normalised, lower-case) and squeezed views of ``text``."""
    plain = plain_view(text)
    chars: list[str] = []
    src: list[int] = []
    for ch, off in zip(plain.text, plain.src, strict=True):
        if ch in _CLAUSE:
            if chars and chars[-1] != ",":
                chars.append(",")
                src.append(off)
        elif not _squeezable(ch):
            chars.append(ch)
            src.append(off)
    return plain, View("".join(chars), src)


# --------------------------------------------------------------------------- matching
@lru_cache(maxsize=2)
def _any_family(view: str) -> re.Pattern[str]:
    """All of one view's families as one alternation: most texts match none, and one
    scan tells (the families are then run one by one only on a text that matched)."""
    return re.compile("|".join(f"(?:{f.pattern})" for f in FAMILIES if f.view == view))


def _families_hits(text: str, plain: View, squeezed: View) -> list[Hit]:
    hits = []
    live = {
        name: bool(_any_family(name).search(view.text))
        for name, view in (("plain", plain), ("squeezed", squeezed))
    }
    for family in FAMILIES:
        if not live[family.view]:
            continue
        view = plain if family.view == "plain" else squeezed
        if family.max_len is not None and len(squeezed.text) > family.max_len:
            continue
        for m in family.compiled().finditer(view.text):
            if m.end() == m.start():
                continue
            before = view.text[max(0, m.start() - 8) : m.start()]
            after = view.text[m.end() : m.end() + 8]
            if family.guard_before and re.search(family.guard_before, before):
                continue
            if family.guard_after and re.search(family.guard_after, after):
                continue
            a, b = view.span(text, m.start(), m.end())
            conf = family.confidence
            if family.quotable and (
                reported_before(text, a) or warned_after(text, b) or narrated_after(text, b)
            ):
                conf = QUOTED
            hits.append(
                Hit(family.label, f"lexicon:{family.subtype}", a, b, text[a:b], m.group(0), conf)
            )
    return hits


# A member warning the others about a diversion ("有人留微信号说有便宜货，大家别信") reports
# it: the words that say so, within the same or the next clause.
_WARNING = re.compile(r"别信|不要信|别相信|不要相信|是骗子|都是骗子|上过当|上当了|别上当")


def warned_after(text: str, end: int) -> bool:
    """Whether a warning against what ends at ``end`` follows it closely (24 chars)."""
    return bool(_WARNING.search(text[end : end + 24]))


_LATIN_TOKEN = re.compile(r"[a-z]+")


def _initials_hits(text: str, plain: View) -> list[Hit]:
    """Insults written as pinyin initials (``nmsl``), only as a whole latin token."""
    hits = []
    for m in _LATIN_TOKEN.finditer(plain.text):
        token = m.group(0)
        conf = INSULT_INITIALS.get(token)
        if conf is None:
            continue
        after = plain.text[m.end() : m.end() + 1]
        before = plain.text[max(0, m.start() - 1) : m.start()]
        if after in ("$", "-") or before.isdigit() or after.isdigit():
            continue  # NT$ prices, SB-200 models
        a, b = plain.span(text, m.start(), m.end())
        hits.append(Hit("offensive", "lexicon:pinyin_initials", a, b, text[a:b], token, conf))
    return hits


@lru_cache(maxsize=8192)
def _pinyin_of(ch: str) -> str:
    return lazy_pinyin(ch)[0].replace("ü", "v")


@lru_cache(maxsize=1)
def _insult_sound() -> re.Pattern[str]:
    """One pattern over the space-joined syllables: each target syllable, or a lone latin
    letter standing for its initial (傻b → ``sha b``)."""
    alts = [" ".join(f"(?:{syl}|{syl[0]})" for syl in target) for target in INSULT_SYLLABLES]
    return re.compile(r"(?<![a-z])(?:" + "|".join(alts) + r")(?![a-z])")


def _syllables(squeezed: View) -> list[tuple[str, int]]:
    """(syllable, index into the squeezed view) per CJK character or lone latin letter;
    anything else is ``_``."""
    out = []
    text = squeezed.text
    for i, ch in enumerate(text):
        if "\u4e00" <= ch <= "\u9fff":
            out.append((_pinyin_of(ch), i))
        elif ch.isascii() and ch.isalpha():
            lone = (i == 0 or not (text[i - 1].isascii() and text[i - 1].isalpha())) and (
                i + 1 == len(text) or not (text[i + 1].isascii() and text[i + 1].isalpha())
            )
            out.append((ch if lone else "_", i))
        else:
            out.append(("_", i))
    return out


def _pinyin_hits(text: str, squeezed: View) -> list[Hit]:
    """Insults by sound: homophones (煞笔, 沙比) and mixed forms (傻b), in CJK context."""
    sylls = _syllables(squeezed)
    joined_parts: list[str] = []
    starts: list[int] = []  # offset of each syllable in the joined string
    pos = 0
    for syl, _ in sylls:
        starts.append(pos)
        joined_parts.append(syl)
        pos += len(syl) + 1
    joined = " ".join(joined_parts)
    hits = []
    for m in _insult_sound().finditer(joined):
        k = bisect.bisect_left(starts, m.start())
        last = bisect.bisect_right(starts, m.end() - 1) - 1
        window = sylls[k : last + 1]
        if all(len(syl) == 1 for syl, _ in window):
            continue  # all latin letters: the initials table decides
        if squeezed.text[window[0][1]] in _NOT_INSULT_START:
            continue
        a, b = squeezed.span(text, window[0][1], window[-1][1] + 1)
        hits.append(Hit("offensive", "lexicon:homophone", a, b, text[a:b], m.group(0), REJECT))
    return hits


# Stock clauses of a default review; a post made only of them reads pasted.
TEMPLATE_CLAUSE = re.compile(
    r"(?:东西|宝贝|商品)?(?:收到了?|已收到)|(?:质量|做工|东西|宝贝)(?:很|非常|挺)?(?:好|不错)"
    r"|(?:物流|快递|发货)(?:很|非常|超)?(?:快|给力)|(?:客服|卖家|服务)(?:态度)?(?:很|非常)?(?:好|热情|耐心)"
    r"|五星好评|好评|下次(?:还来|再来|还会光顾)|性价比(?:很|超)?高|包装(?:很|非常)?(?:好|严实)"
    r"|(?:很|非常)?满意|值得购买|推荐购买|与描述一致"
)


_RUN = re.compile(r"(.{1,4}?)\1{2,}", re.DOTALL)


def repeated_units(text: str) -> int:
    """How many repeated units (1–4 characters, three or more in a row) the whitespace-free
    text holds: 掉色 掉色 掉色 has 3 (a short complaint said thrice), 好好好好好好 6."""
    compact = "".join(text.split())
    return sum(len(m.group(0)) // len(m.group(1)) for m in _RUN.finditer(compact))


def repetition_share(text: str) -> float:
    """Share of the (whitespace-free, NFKC) text made of a unit of 1–4 characters repeated
    three or more times: filler like 好好好好, 不错不错不错, 😊😊😊, ！！！！."""
    covered, total = _repetition_cover(text)
    return covered / total if total else 0.0


# A padded post that still says something of its own (差评 ×50, then 用过之后头皮痒得难受)
# is a complaint an editor should read: with this many characters outside the repeated
# runs, repetition alone sends it to review, not to reject.
PADDED_CONTENT_CHARS = 12


def _repetition_cover(text: str) -> tuple[int, int]:
    """(characters inside counted runs, characters scored) of ``text``."""
    compact = "".join(unicodedata.normalize("NFKC", text).split())
    compact = "".join(ch for ch in compact if not "\ufe00" <= ch <= "\ufe0f")
    content = "".join(
        ch
        for ch in compact
        if unicodedata.category(ch)[0] != "P" and unicodedata.category(ch) not in ("Sm", "Sk")
    )
    if len(content) >= 2:
        compact = (
            content  # a real sentence ending in ？？？？ or ~~~~ is not filler: score its words
        )
    if not compact:
        return 0, 0
    covered = 0
    for m in _RUN.finditer(compact):
        unit = m.group(1)
        if len(unit) == 1 and len(m.group(0)) < 4:
            continue  # 哈哈哈 is laughter, not filler
        if all(ch.isdigit() or ch in _CN_DIGITS for ch in unit):
            continue  # 8888 in a number is the number's business (contact, prices)
        covered += len(m.group(0))
    return covered, len(compact)


def _spam_hits(text: str, squeezed: View) -> list[Hit]:
    """Repetition filler and near-empty posts."""
    compact = "".join(text.split())
    if not compact:
        return []
    covered, scored = _repetition_cover(text)
    share = covered / scored if scored else 0.0
    n = len(compact)
    padded = scored - covered >= PADDED_CONTENT_CHARS
    if n >= 6 and share >= 0.8 and repeated_units(text) >= 4 and not padded:
        return [
            Hit("spam", "lexicon:repetition", 0, len(text), text, f"{share:.0%} repeated", REJECT)
        ]
    if n >= 6 and share >= 0.5:
        return [
            Hit("spam", "lexicon:repetition", 0, len(text), text, f"{share:.0%} repeated", REVIEW)
        ]
    clauses = [c for c in re.split(r"[,，。!！~～\s]+", unicodedata.normalize("NFKC", text)) if c]
    template = [c for c in clauses if TEMPLATE_CLAUSE.fullmatch(c)]
    if len(template) >= 4 and len(template) >= 0.8 * len(clauses):
        return [Hit("spam", "lexicon:template", 0, len(text), text, "template review", REVIEW)]
    meaningful = [ch for ch in squeezed.text if ch.isalnum()]
    if len(text.strip()) > 0 and len(meaningful) <= 1:
        return [Hit("spam", "lexicon:empty", 0, len(text), text, "no content", REJECT)]
    return []


_CN_DIGITS = "".join(k for k in DIGIT_LOOKALIKES if not k.isascii()) + "伞舞溜气巴久衣而司"
_HOMOPHONE_DIGITS = {
    "伞": "3",
    "舞": "5",
    "溜": "6",
    "气": "7",
    "巴": "8",
    "久": "9",
    "衣": "1",
    "而": "2",
    "司": "4",
}
_NUMERAL_RUN = re.compile(rf"[{_CN_DIGITS}](?:[\s,，、.\-]*[{_CN_DIGITS}]){{6,}}")


def _numeral_hits(text: str, plain: View) -> list[Hit]:
    """A phone or account number written in Chinese numerals (幺三五，八八八八…): writing
    seven or more digits as characters is itself the obfuscation."""
    hits = []
    for m in _NUMERAL_RUN.finditer(plain.text):
        digits = "".join(
            DIGIT_LOOKALIKES.get(ch) or _HOMOPHONE_DIGITS.get(ch, "")
            for ch in m.group(0)
            if not ch.isspace() and ch not in ",，、.-"
        )
        homophones = sum(ch in _HOMOPHONE_DIGITS for ch in m.group(0))
        if homophones and homophones < len(digits) // 2:
            continue  # a sentence that happens to hold 衣/而/巴: not a number
        if len(set(digits)) < 2 and len(digits) < 9:
            continue  # 一一一一一一一 is not a number
        if digits in "0123456789" or digits in "9876543210":
            continue  # 一二三四五六七: counting, not a number
        a, b = plain.span(text, m.start(), m.end())
        subtype = (
            "lexicon:numerals_phone"
            if re.fullmatch(r"1[3-9]\d{9}", digits)
            else ("lexicon:numerals")
        )
        hits.append(Hit("contact", subtype, a, b, text[a:b], digits, REJECT))
    return hits


_LETTER_PHONE = re.compile(
    r"(?:打我|电话|手机|tel|call|号码)[^\d]{0,3}([lio\d][\dlio]{10})(?![\d])"
)


def _letter_digit_hits(text: str, plain: View) -> list[Hit]:
    """Mobile numbers with letters for digits (l3800001111: l for 1, o for 0)."""
    hits = []
    for m in _LETTER_PHONE.finditer(plain.text):
        digits = m.group(1).translate(str.maketrans("lio", "110"))
        if re.fullmatch(r"1[3-9]\d{9}", digits) and not m.group(1).isdigit():
            a, b = plain.span(text, m.start(1), m.end(1))
            hits.append(Hit("contact", "lexicon:letter_digits", a, b, text[a:b], digits, REJECT))
    return hits


@lru_cache(maxsize=1)
def _platforms_by_first_syllable() -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """``PLATFORM_SOUNDS`` as (name, syllables), keyed by the first syllable."""
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for name in PLATFORM_SOUNDS:
        sylls = tuple(_pinyin_of(ch) for ch in name)
        out.setdefault(sylls[0], []).append((name, sylls))
    return {k: tuple(v) for k, v in out.items()}


def platform_sounds(view: View) -> View:
    """``view`` with every run of Chinese characters that sounds like a platform name
    (``PLATFORM_SOUNDS``, toneless pinyin) written as that name; same length and offsets,
    so a hit on it spans the original characters. Everyday words with a name's sound
    (``SOUND_ALIKE_WORDS``) stay."""
    text = view.text
    sylls = [_pinyin_of(ch) if "\u4e00" <= ch <= "\u9fff" else "" for ch in text]
    firsts = _platforms_by_first_syllable()
    chars = list(text)
    i = 0
    while i < len(chars):
        for name, target in firsts.get(sylls[i], ()) if sylls[i] else ():
            k = len(target)
            piece = text[i : i + k]
            if (
                piece != name
                and piece not in SOUND_ALIKE_WORDS
                and tuple(sylls[i : i + k]) == target
            ):
                chars[i : i + k] = name
                i += k - 1
                break
        i += 1
    out = "".join(chars)
    return view if out == text else View(out, view.src)


def _sounds_hits(text: str, plain: View, squeezed: View) -> list[Hit]:
    """Family hits that only the platform-name sound view finds (a hit must cover a
    character the view rewrote)."""
    plain_s, squeezed_s = platform_sounds(plain), platform_sounds(squeezed)
    if plain_s is plain and squeezed_s is squeezed:
        return []
    changed = {
        old.src[i]
        for old, new in ((plain, plain_s), (squeezed, squeezed_s))
        for i, (a, b) in enumerate(zip(old.text, new.text, strict=True))
        if a != b
    }
    return [
        h
        for h in _families_hits(text, plain_s, squeezed_s)
        if any(h.start <= off < h.end for off in changed)
    ]


def detect_lexicon(text: str) -> list[Hit]:
    """Every lexicon hit in ``text``: phrase families (also on platform names written by
    sound), insults by initials and sound, repetition spam and numbers written in
    characters. Spans index the original text."""
    if not text or not isinstance(text, str):
        return []
    plain, squeezed = views(text)
    hits = (
        _families_hits(text, plain, squeezed)
        + _sounds_hits(text, plain, squeezed)
        + _initials_hits(text, plain)
        + _pinyin_hits(text, squeezed)
        + _spam_hits(text, squeezed)
        + _numeral_hits(text, plain)
        + _letter_digit_hits(text, plain)
    )
    return sorted(_dedupe(hits), key=lambda h: (h.start, h.label))


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per (label, span): the most confident."""
    best: dict[tuple[str, int, int], Hit] = {}
    for h in hits:
        key = (h.label, h.start, h.end)
        if key not in best or h.confidence > best[key].confidence:
            best[key] = h
    return list(best.values())


def lexicon_confidence(hits: list[Hit], label: str) -> float:
    """The most confident lexicon hit of ``label`` (0 without one)."""
    return max((h.confidence for h in hits if h.label == label), default=0.0)
