"""Fixed reference data of the synthetic bank: cities, names, the product catalogue.

Kept apart from the simulation so the catalogue is easy to read and to change.
All strings are GBK-encodable (the generator can write GBK files).
"""

from __future__ import annotations

CITIES = (
    ("北京", "华北", "110101"),
    ("上海", "华东", "310101"),
    ("广州", "华南", "440103"),
    ("深圳", "华南", "440301"),
    ("杭州", "华东", "330102"),
    ("南京", "华东", "320102"),
    ("成都", "西南", "510104"),
    ("重庆", "西南", "500101"),
    ("武汉", "华中", "420102"),
    ("西安", "西北", "610102"),
    ("天津", "华北", "120101"),
    ("苏州", "华东", "320505"),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰文辉志强海燕晓东雪梅丹宇浩然欣怡子涵思远嘉豪雨萱"
)

BANKS = ("工商银行", "建设银行", "农业银行", "中国银行", "交通银行", "平安银行", "兴业银行", "浦发银行")
COMPLAINT_CHANNELS = ("phone", "branch", "online", "app")
COMPLAINT_CATEGORIES = ("服务态度", "收费争议", "理财产品", "系统故障", "排队等待")

# (code, name, category, risk, currency, min_purchase CNY/ccy, launched YYYY-MM-DD or
#  None = before any history, retired or None, launch offset in months from history start)
# A launch/retire offset (months after the first generated month) makes products appear
# and disappear inside the generated history, so "on sale" rules have something to test.
PRODUCTS = (
    ("DD01", "活期储蓄", "demand_deposit", "R1", "CNY", 0, None, None),
    ("DD02", "美元活期", "demand_deposit", "R1", "USD", 0, None, None),
    ("DD03", "港币活期", "demand_deposit", "R1", "HKD", 0, None, None),
    ("TD03", "三个月定期", "time_deposit", "R1", "CNY", 50, None, None),
    ("TD12", "一年定期", "time_deposit", "R1", "CNY", 50, None, None),
    ("TD36", "三年定期", "time_deposit", "R1", "CNY", 50, None, None),
    ("LCD1", "大额存单三年期", "large_cd", "R1", "CNY", 200000, None, None),
    ("LCD2", "大额存单一年期", "large_cd", "R1", "CNY", 200000, 3, None),
    ("WM01", "稳健理财一号", "wealth_management", "R2", "CNY", 10000, None, None),
    ("WM02", "增利理财", "wealth_management", "R3", "CNY", 50000, None, None),
    ("WM03", "私享权益理财", "wealth_management", "R4", "CNY", 1000000, None, None),
    ("WM04", "季季盈理财", "wealth_management", "R2", "CNY", 10000, 2, None),
    ("WM05", "老款固收理财", "wealth_management", "R2", "CNY", 10000, None, 4),
    ("MF01", "货币基金", "mutual_fund", "R1", "CNY", 1, None, None),
    ("MF02", "纯债基金", "mutual_fund", "R2", "CNY", 1000, None, None),
    ("MF03", "偏股混合基金", "mutual_fund", "R4", "CNY", 1000, None, None),
    ("MF04", "全球科技QDII", "mutual_fund", "R5", "USD", 1000, None, None),
    ("MF05", "沪深300指数定投", "mutual_fund", "R3", "CNY", 100, None, None),
    ("IN01", "年金保险", "insurance", "R1", "CNY", 10000, None, None),
    ("IN02", "分红保险", "insurance", "R2", "CNY", 20000, None, None),
    ("IN03", "投资连结保险", "insurance", "R4", "CNY", 50000, None, None),
    ("BD01", "储蓄国债", "bond", "R1", "CNY", 100, None, None),
    ("BD02", "企业债精选", "bond", "R3", "CNY", 10000, None, None),
    ("PM01", "积存金", "precious_metal", "R3", "CNY", 500, None, None),
    ("PM02", "实物金条", "precious_metal", "R2", "CNY", 5000, None, None),
    ("CC01", "标准信用卡", "credit_card", "R1", "CNY", 0, None, None),
    ("CC02", "白金信用卡", "credit_card", "R1", "CNY", 0, None, None),
    ("CL01", "消费贷款", "consumer_loan", "R2", "CNY", 0, None, None),
    ("MG01", "个人住房贷款", "mortgage", "R1", "CNY", 0, None, None),
)

INVESTMENT_CATEGORIES = ("wealth_management", "mutual_fund", "bond", "precious_metal", "insurance")
