"""The demo shop's catalog: the generator's 2000 items (`sku_00000`…`sku_01999`, their prices) with Chinese
titles by category, placeholder image URLs, stock and a few SKUs, synced through `catalog.service.sync_items` —
the function the signed call runs. Deterministic: the same seed gives the same catalog.

The items the demo's campaigns name (state._live: the flash sales, the group buy, the bargain) get the titles
and list prices those campaigns were written for. None of them is out of stock: the catalog is synced before
the campaigns exist, and the live flash sale must keep selling; other items sell out (about 2 in 100).
"""

from __future__ import annotations

import numpy as np

from huoli.catalog import service as catalog
from huoli.work import Work

N_ITEMS = 2000  # generator._N_ITEMS
IMAGE_HOST = "https://img.example.com/demo"

CATEGORIES: list[tuple[str, str]] = [
    ("digital", "数码"),
    ("beauty", "美妆"),
    ("food", "食品"),
    ("home", "家居"),
    ("apparel", "服饰"),
    ("baby", "母婴"),
]

# title stems per category, then a variant: a few dozen stems × variants read like a real shop's list
_STEMS: dict[str, list[str]] = {
    "digital": ["无线蓝牙耳机", "快充充电宝 20000mAh", "磁吸手机壳", "机械键盘", "智能手表", "编织数据线 1.5m",
                "便携蓝牙音箱", "降噪头戴耳机", "平板支架", "移动固态硬盘 1TB", "无线鼠标", "氮化镓充电器 65W"],
    "beauty": ["丝绒雾面口红", "补水面膜 10片", "氨基酸洗面奶", "清透防晒霜 SPF50+", "玻尿酸精华液", "持妆粉底液",
               "卸妆水 500ml", "修护眼霜", "淡香水 50ml", "保湿爽肤水"],
    "food": ["每日坚果 30袋", "挂耳咖啡 10包", "明前龙井 250g", "五常大米 5kg", "手撕牛肉干", "低脂纯牛奶 24盒",
             "广式月饼礼盒", "冻干草莓脆", "黑芝麻丸", "原味苏打饼干", "云南普洱茶饼", "东北黑木耳"],
    "home": ["不锈钢保温杯 500ml", "抽纸 24包", "记忆棉枕头", "四件套 纯棉", "懒人沙发", "香薰蜡烛",
             "收纳箱 3只装", "不粘炒锅 30cm", "电动牙刷", "加湿器"],
    "apparel": ["纯棉短袖T恤", "连帽卫衣", "轻薄羽绒服", "高腰牛仔裤", "针织连衣裙", "羊毛围巾", "运动鞋",
                "防风冲锋衣", "真丝睡衣套装", "帆布双肩包"],
    "baby": ["婴儿纸尿裤 L码", "有机米粉", "婴儿湿巾 80抽", "宝宝洗护套装", "儿童积木", "学饮杯", "婴儿推车",
             "儿童保温水壶", "一段奶粉 800g", "早教绘本 10册"],
}  # fmt: skip
_VARIANTS = ["", " 升级款", " 礼盒装", " 2026新款", " 家庭装", " 旗舰款", " 经典款", " 轻享版"]
_SIZES = ["S", "M", "L", "XL"]
_COLOURS = ["曜石黑", "云雾白", "雾霾蓝"]

# The items state._live's campaigns sell, as the campaigns describe them: (category, title, list price in fen).
NAMED: dict[str, tuple[str, str, int]] = {
    "sku_00007": ("food", "挂耳咖啡 10包 · 精品拼配", 4_990),
    "sku_00011": ("food", "明前龙井 特级 250g", 12_800),
    "sku_00023": ("home", "不锈钢保温杯 500ml · 砍价款", 9_900),
    "sku_00042": ("digital", "无线降噪蓝牙耳机 Pro", 99_900),
    "sku_00063": ("apparel", "品牌帆布袋 · 积分兑换款", 3_900),  # the points mall's goods
}


def item_prices(seed: int = 42) -> np.ndarray:
    """The generator's item prices (fen), drawn as generator._world draws them: the catalog stream's first
    draw (tests/demo compare the two so they cannot drift apart)."""
    cat_rng = np.random.default_rng([seed, 0x7FFF_FFFF])
    price_yuan = np.clip(np.round(cat_rng.lognormal(np.log(69.0), 0.8, N_ITEMS)), 9, 599)
    return (price_yuan * 100 - 10).astype(np.int64)


def _category(rng: np.random.Generator, price_fen: int) -> str:
    # dear items are mostly electronics, clothes and home goods; cheap ones food, beauty and baby care
    if price_fen >= 30_000:
        weights = [0.4, 0.1, 0.02, 0.25, 0.18, 0.05]
    elif price_fen >= 10_000:
        weights = [0.2, 0.2, 0.1, 0.2, 0.2, 0.1]
    else:
        weights = [0.1, 0.2, 0.3, 0.15, 0.1, 0.15]
    return CATEGORIES[int(rng.choice(len(CATEGORIES), p=weights))][0]


def demo_items(seed: int = 42) -> list[dict[str, object]]:
    """The demo catalog as the signed call's `items`."""
    prices = item_prices(seed)
    rng = np.random.default_rng([seed, 0xCA7A_106])
    items: list[dict[str, object]] = []
    for i in range(N_ITEMS):
        item_id = f"sku_{i:05d}"
        price = int(prices[i])
        category = _category(rng, price)
        stem = _STEMS[category][int(rng.integers(len(_STEMS[category])))]
        title = stem + _VARIANTS[int(rng.integers(len(_VARIANTS)))]
        if item_id in NAMED:
            category, title, price = NAMED[item_id]
        original = int(round(price * float(rng.choice([1.0, 1.2, 1.5])) / 100) * 100 - 10)
        sold_out = rng.random() < 0.02 and item_id not in NAMED
        stock = 0 if sold_out else int(rng.integers(8, 800))
        item: dict[str, object] = {
            "id": item_id,
            "title": title,
            "category_id": category,
            "price_fen": price,
            "original_price_fen": original if original > price else None,
            "image_url": f"{IMAGE_HOST}/{category}/{item_id}.jpg",
            # a few long-tail items were taken off the shelf
            "status": "off_shelf" if rng.random() < 0.01 and item_id not in NAMED else "on_sale",
        }
        names = (
            _SIZES if category == "apparel" else _COLOURS if category == "digital" and i % 3 == 0 else None
        )
        if names and item_id not in NAMED:
            parts = rng.multinomial(stock, [1 / len(names)] * len(names))
            item["skus"] = [
                {"id": f"{item_id}-{n + 1}", "title": name, "price_fen": price, "stock": int(parts[n])}
                for n, name in enumerate(names)
            ]
        else:
            item["stock"] = stock
        items.append(item)
    return items


def sync(work: Work, *, seed: int = 42) -> catalog.SyncOut:
    """Sync the demo shop's categories and items in the caller's unit of work, as the backend's calls would."""
    categories = [{"id": cid, "name": name, "sort": n} for n, (cid, name) in enumerate(CATEGORIES)]
    catalog.sync_categories(work, catalog.CategoriesBatchIn.model_validate({"categories": categories}))
    out = catalog.SyncOut(created=0, updated=0, unchanged=0, unavailable=[], available=[])
    items = demo_items(seed)
    for start in range(0, len(items), 1000):  # the signed call's batch size
        part = catalog.sync_items(
            work, catalog.ItemsBatchIn.model_validate({"items": items[start : start + 1000]})
        )
        out = catalog.SyncOut(
            created=out.created + part.created,
            updated=out.updated + part.updated,
            unchanged=out.unchanged + part.unchanged,
            unavailable=out.unavailable + part.unavailable,
            available=out.available + part.available,
        )
    return out
