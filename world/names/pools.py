"""The word pools that names are made of, most common first, and the weights they are drawn with.

Two sources: faker's ``zh_CN`` tables (surnames with their real shares of the population, given
names, common words), and the pools written here that extend them (the characters and classic
names of given names) or build organisation names (trade names 字号, industries 行业, company
forms 组织形式, kinds of shop, co-op products, associations, public institutions …). The pools
are ranked: most are drawn with the i-th value's probability proportional to i^-a
(:func:`zipf`), so the head of a list sets the head of its distribution (the company forms have
their own shares, :data:`COMPANY_FORM_P`). Nothing here draws: :mod:`.persons`,
:mod:`.organisations` and :mod:`.org_variants` do, and :mod:`.typos` takes its common characters
from these pools.

Example:
    >>> FAKER_SURNAMES["王"], COMPOUND_SURNAMES["上官"]
    (7.17, 0.004)
    >>> zipf(3, 1.0).round(3).tolist()
    [0.545, 0.273, 0.182]
    >>> distinct("建华建国")
    ['建', '华', '国']
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from faker.providers.lorem.zh_CN import Provider as _Lorem
from faker.providers.person.zh_CN import Provider as _Person

from credlink.world.places import _words

__all__ = [
    "ASSOCIATIONS",
    "COMPANY_FORMS",
    "COMPANY_FORM_P",
    "COMPOUND_SURNAMES",
    "COOP_PRODUCTS",
    "FAKER_FEMALE_NAMES",
    "FAKER_MALE_NAMES",
    "FAKER_SURNAMES",
    "FAKER_WORDS",
    "FEMALE_CLASSIC",
    "FEMALE_FIRST",
    "FEMALE_SECOND",
    "FOUNDATION_CAUSES",
    "INDUSTRIES",
    "MALE_CLASSIC",
    "MALE_FIRST",
    "MALE_SECOND",
    "NONENT_TRADES",
    "NONENT_TYPES",
    "PUBLIC_INSTITUTIONS",
    "SHOP_TRADES",
    "SHOP_TYPES",
    "TOWN_INSTITUTIONS",
    "TRADE_CHARS",
    "TRADE_HEAD",
    "distinct",
    "zipf",
]

# --- faker's tables ----------------------------------------------------------------------------

#: Surnames with their share of the population in percent (faker's ``zh_CN`` table: 399
#: surnames, real frequencies), most common first.
FAKER_SURNAMES: dict[str, float] = {k: float(v) for k, v in _Person.last_names.items()}
#: Given names, one or two characters, most common first (faker's ``first_names_male``).
FAKER_MALE_NAMES: tuple[str, ...] = tuple(_Person.first_names_male)
#: Given names, one or two characters, most common first (faker's ``first_names_female``).
FAKER_FEMALE_NAMES: tuple[str, ...] = tuple(_Person.first_names_female)
#: Common words (faker's ``zh_CN`` lorem): their characters count as common characters.
FAKER_WORDS: tuple[str, ...] = tuple(_Lorem.word_list)

# --- person names ------------------------------------------------------------------------------

#: Compound surnames with their share of the population in percent (faker's table has 欧阳
#: only; the rest are *unconfirmed* magnitudes, tens of thousands of bearers each).
COMPOUND_SURNAMES: dict[str, float] = {
    "欧阳": FAKER_SURNAMES.get("欧阳", 0.068),
    "上官": 0.004,
    "司马": 0.003,
    "诸葛": 0.003,
    "司徒": 0.003,
    "东方": 0.002,
    "皇甫": 0.002,
    "尉迟": 0.001,
    "公孙": 0.001,
    "慕容": 0.001,
    "令狐": 0.001,
    "夏侯": 0.001,
    "长孙": 0.001,
    "宇文": 0.001,
    "端木": 0.001,
    "南宫": 0.001,
    "万俟": 0.0005,
}

#: First characters of free two-character male given names (建, 志, 国 …).
MALE_FIRST = (
    "建志国永海晓俊子文明宏德家春金立振云长学小天浩宇思一梓博嘉君正伟光庆军新世红玉兆鸿泽"
    "鹏睿锦凯洪少卫东中承成瑞宗荣恩万华英兴福传保宝守善胜彦耀景昊铭佳广耀"
)
#: Second characters of male given names, also one-character names (伟, 强, 磊 …); faker's
#: one-character names come before them.
MALE_SECOND = (
    "伟强磊洋勇军杰涛超明刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢佳阳亮成建峰晨瑞兵雷东博"
    "彬坤岩文利毅鸣翔航宏轩然睿泽霖豪晖辰铭远昊楠元奇山川海江生荣新武民国忠良义清松柏涵诚栋"
    "梁标虎彪发福贵祥林雄兴光明德安春胜"
)
#: Classic two-character male names, after faker's two-character names.
MALE_CLASSIC = _words(
    "建华 建国 建军 志强 国强 海涛 建平 俊杰 子轩 浩然 宇航 志刚 永强 立新 红军 卫东 国庆 "
    "建伟 晓东 文博 浩宇 子豪 宇轩 博文 志明 海波 建新 春生 德明 振华 小龙 军伟 明辉 永刚"
)
#: First characters of free two-character female given names (秀, 桂, 玉 …).
FEMALE_FIRST = (
    "秀桂玉丽春海晓雪美静雅欣佳思梦雨婉诗紫嘉梓可子若晶红小慧艳淑翠金凤彩冬月舒心语一怡芷"
    "璐佩爱文媛素建亚琳晓英兰"
)
#: Second characters of female given names, also one-character names (芳, 娜, 敏 …); faker's
#: one-character names come before them.
FEMALE_SECOND = (
    "芳娜敏静英丽艳娟霞燕玲丹萍红梅莉婷晶颖雪慧倩琴云洁莹琳欣怡涵萱悦妍彤蕾薇菲娇瑶琪璐月"
    "华兰珍荣凤凡宁琼秀岚蓉茜蓓玉瑜畅柳洁桃香芝花娥凤珊"
)
#: Classic two-character female names, after faker's two-character names.
FEMALE_CLASSIC = _words(
    "子涵 欣怡 梓涵 诗涵 雨涵 一诺 紫涵 思涵 雨欣 佳怡 欣妍 晓燕 丽娜 娜娜 静静 晶晶 莹莹 "
    "婷婷 丹丹 丽丽 欢欢 琳琳 萍萍 小燕 海霞 春燕 晓红 丽萍 艳红 美玲"
)

# --- organisation names ------------------------------------------------------------------------

#: Frequent trade names (字号), most common first: they recur in many regions.
TRADE_HEAD = _words(
    "恒信 华泰 鑫源 宏达 永盛 金鑫 天成 顺达 汇丰 中泰 远大 兴隆 瑞丰 金诚 盛世 华美 新华 东方 "
    "富源 诚信 恒通 华兴 鑫达 宏远 金源 天宇 宏图 博远 佳和 华宇 恒达 振兴 兴达 昌盛 联创"
)
#: Auspicious characters that make up the other trade names, two or three at a time.
TRADE_CHARS = (
    "恒信达华鑫盛源兴隆泰福瑞金宏昌天安佳德利通海新永中联创博嘉润祥和美丰富辉远东明诚优卓腾"
    "凯晟星宇科汇聚合众益万广正启顺亿晨航峰锦雅豪迪康宁泽弘"
)
#: Industries (行业) of enterprise names.
INDUSTRIES = _words(
    "商贸 科技 贸易 建筑工程 机械制造 电子科技 信息技术 网络科技 建材 物流 餐饮管理 房地产开发 "
    "农业发展 食品 服装 文化传媒 广告 装饰工程 汽车销售 医药 环保科技 新能源科技 投资管理 "
    "物业管理 劳务 化工 纺织 印刷 家具 电器 实业 工贸 生物科技 教育咨询 旅游开发 酒店管理 "
    "机电设备 五金 钢结构 水泥制品 包装 塑业 木业 矿业 能源 运输 园林绿化 市政工程 电力工程 "
    "安装工程"
)
#: Company forms (组织形式) of enterprise names.
COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司", "集团有限公司")
#: The shares of :data:`COMPANY_FORMS`.
COMPANY_FORM_P = (0.76, 0.15, 0.07, 0.02)
#: Trade names of individual businesses (个体工商户).
SHOP_TRADES = _words(
    "好又多 家家乐 万家福 兴旺 顺发 利民 便民 惠民 阳光 红星 金源 百姓 开心 美味 香满园 "
    "福满多 佳佳 友谊 时代 华联 春风 永辉 大众 新世纪 快乐 温馨 老字号 一品 鸿运 和顺"
)
#: Kinds of shop that end an individual business's name.
SHOP_TYPES = _words(
    "便利店 面馆 小吃店 饭店 理发店 五金店 超市 水果店 烟酒店 服装店 汽车修理部 日用品店 "
    "手机店 早餐店 烧烤店 粮油店 建材店 农资店 副食店 美容美发店 家电维修部 百货店 茶叶店 "
    "干洗店 图文店 快餐店 麻辣烫店 包子铺 熟食店 蔬菜店 鲜肉店 电动车行 文具店 母婴店 眼镜店 "
    "花店 棋牌室 酒楼 农家乐 养殖场"
)
#: What a farmers' co-op (专业合作社) grows, raises or serves.
COOP_PRODUCTS = _words(
    "蔬菜种植 粮食种植 水果种植 中药材种植 食用菌种植 苗木种植 茶叶种植 葡萄种植 花卉种植 "
    "农作物种植 生猪养殖 肉牛养殖 肉羊养殖 家禽养殖 水产养殖 蛋鸡养殖 养蜂 农机服务 植保服务 "
    "土地托管服务 果蔬 稻米 林业"
)
#: Social groups (社会团体): associations, societies and federations.
ASSOCIATIONS = _words(
    "个体劳动者协会 餐饮行业协会 建筑业协会 物流协会 摄影家协会 书法家协会 作家协会 "
    "美术家协会 音乐家协会 老年体育协会 钓鱼协会 篮球协会 足球协会 乒乓球协会 羽毛球协会 "
    "象棋协会 围棋协会 太极拳协会 登山协会 自行车运动协会 企业家协会 青年企业家协会 "
    "女企业家协会 个体私营企业协会 律师协会 医师协会 护理学会 医学会 教育学会 会计学会 法学会 "
    "农学会 科普协会 养殖业协会 蔬菜协会 茶叶协会 旅游协会 房地产业协会 汽车行业协会 "
    "电子商务协会 家政服务协会 美容美发协会 收藏家协会 诗词学会 慈善总会 志愿者协会 "
    "工商业联合会 文学艺术界联合会 残疾人联合会"
)
#: Trade names of private non-enterprise units (民办非企业单位).
NONENT_TRADES = _words(
    "阳光 小太阳 启明星 蓝天 金太阳 博雅 育才 贝贝 童心 彩虹 小天使 新星 爱心 快乐 春芽 苗苗 "
    "七彩 智慧树 金色摇篮 明德 博文 新世纪 英才 育英 启航 卓越 晨曦 夕阳红 康乐 福寿"
)
#: Kinds of private non-enterprise unit: kindergartens, schools, care homes ….
NONENT_TYPES = _words(
    "幼儿园 民办幼儿园 培训学校 职业技能培训学校 艺术培训学校 文化艺术培训学校 外语培训学校 "
    "养老院 养老服务中心 社会工作服务中心 康复中心 托育中心 体育俱乐部 民办学校"
)
#: Causes that foundations (基金会) are named after.
FOUNDATION_CAUSES = _words(
    "慈善 青少年发展 教育 见义勇为 扶贫 红十字 残疾人福利 老年 文化发展 体育 科技 环境保护 "
    "医疗救助 妇女儿童发展 乡村振兴 光彩事业 助学"
)
#: Public institutions (事业单位) of a county: hospitals, schools, service centres ….
PUBLIC_INSTITUTIONS = _words(
    "人民医院 中医医院 妇幼保健院 疾病预防控制中心 实验小学 实验中学 职业教育中心 图书馆 "
    "文化馆 博物馆 融媒体中心 农业技术推广中心 人才交流服务中心 不动产登记中心 "
    "公共资源交易中心 政务服务中心 社会保险服务中心 第一人民医院 第二人民医院 第三人民医院 "
    "第一中学 第二中学 第三中学 第四中学 第五中学 第六中学 第七中学 第八中学 "
    "第一小学 第二小学 第三小学 第四小学 第五小学 第六小学 第七小学 第八小学 第九小学 "
    "第十小学 第十一小学 第十二小学 广播电视台 档案馆 水利工程管理站 林业工作站 "
    "动物疫病预防控制中心 精神卫生中心 特殊教育学校 青少年活动中心 住房公积金管理中心"
)
#: Public institutions of a town (镇/乡).
TOWN_INSTITUTIONS = _words(
    "卫生院 中心小学 中心学校 初级中学 农业综合服务站 中心幼儿园 文化站 财政所 畜牧兽医站"
)


# --- drawing weights ---------------------------------------------------------------------------


def distinct(chars: str | list[str] | tuple[str, ...]) -> list[str]:
    """The values of a pool once each, in their order (a character pool may repeat some)."""
    return list(dict.fromkeys(chars))


def zipf(k: int, a: float) -> npt.NDArray[np.float64]:
    """Probabilities of the ranks 1..k proportional to rank^-a (a = 0: uniform)."""
    w = np.arange(1, k + 1, dtype=np.float64) ** -a
    return w / w.sum()
