"""The merchant's shops, SKUs and stock: small tables whose versions follow closed-form schedules."""

import numpy as np

from qeasy.erp.times import DAY_MS
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.randomness import generator, unit

HOUR_MS = 3_600_000
CATEGORIES = ["女装", "男装", "童装", "鞋靴", "箱包", "美妆", "家居", "食品", "数码配件", "运动户外",
              "母婴", "宠物"]
BRANDS = ["栖木", "山禾", "素野", "青柚", "北屿", "拾光"]
COLORS = ["黑色", "白色", "灰色", "红色", "蓝色", "卡其"]
SIZES = ["S", "M", "L", "XL"]
SHOPS = [("天猫旗舰店", "天猫"), ("京东自营店", "京东"), ("抖音小店", "抖音"), ("拼多多专营店", "拼多多"),
         ("快手小店", "快手"), ("小红书店", "小红书"), ("唯品会特卖", "唯品会"), ("淘宝C店", "淘宝"),
         ("得物专营", "得物"), ("微信小店", "微信")]
ALL = slice(None)
CO_ID = 10_174_711
SHOP_BASE = 16_800_001


class Catalog:
    """Shops, SKUs (attributes and edit schedule) and per-SKU stock ticks, all fixed by the seed."""

    def __init__(self, config: SandboxConfig, epoch_ms: int) -> None:
        self.config = config
        self.seed = config.seed
        n = config.skus
        rng = generator(config.seed, 1)
        self.size = n
        self.category = rng.integers(0, len(CATEGORIES), n)
        self.brand = rng.integers(0, len(BRANDS), n)
        self.base_price = np.round(np.exp(rng.normal(4.3, 0.8, n)).clip(9, 2999), 1)
        self.cost_price = np.round(self.base_price * rng.uniform(0.35, 0.65, n), 2)
        self.enabled = rng.choice([1, 0, -1], n, p=[0.92, 0.05, 0.03])
        self.created = epoch_ms - rng.integers(30 * DAY_MS, 365 * DAY_MS, n)
        self.edit_period = rng.integers(20 * DAY_MS, 90 * DAY_MS, n)
        # Zipf-like popularity: a few SKUs sell most.
        weights = 1.0 / np.arange(1, n + 1) ** 0.9
        self.popularity = rng.permutation(weights / weights.sum())
        self.hidden = rng.random(n) < config.dirty.hidden_sku
        self.serial = np.arange(n) % 10 == 3  # SKUs tracked by unique code
        # Stock: a saw-tooth per SKU, one tick every few hours, refilled every `cycle` ticks.
        rank = np.argsort(np.argsort(-self.popularity))
        # Best sellers move every 2 hours, the long tail only every few days (up to 10).
        self.tick_period = (2 * HOUR_MS * 120 ** (rank / max(n - 1, 1))).astype(np.int64)
        self.tick_phase = epoch_ms - 30 * DAY_MS + (rng.random(n) * self.tick_period).astype(np.int64)
        self.stock_level = rng.integers(30, 600, n)
        self.stock_cycle = rng.integers(15, 60, n)
        self.stock_offset = rng.integers(0, 60, n)
        self.shop_weights = np.array([0.22, 0.18, 0.16, 0.12, 0.08, 0.07, 0.06, 0.05, 0.04, 0.02])[
            : config.shops
        ]
        self.shop_weights = self.shop_weights / self.shop_weights.sum()

    # ---- SKU identity and attributes -------------------------------------------------------
    @staticmethod
    def sku_id(index: int) -> str:
        return f"SK{index:06d}" if index >= 0 else f"SKX{-index:06d}"

    @staticmethod
    def sku_index(sku_id: str) -> int | None:
        digits = sku_id[2:]
        # ASCII only: "²".isdigit() is true, yet int() refuses it.
        if sku_id.startswith("SK") and digits.isascii() and digits.isdigit():
            return int(digits)
        return None

    def i_id(self, index: int) -> str:
        return f"I{index // 4:05d}"

    def sku_name(self, index: int) -> str:
        return f"{BRANDS[self.brand[index]]}{CATEGORIES[self.category[index]]}{index // 4:05d}"

    def properties(self, index: int) -> str:
        return f"{COLORS[(index // 4) % len(COLORS)]};{SIZES[index % 4]}"

    # ---- SKU versions ----------------------------------------------------------------------
    def sku_modified(self, now: int, index: int | slice = ALL) -> np.ndarray:
        """Latest edit time of every SKU (or one) at `now` (-1 where it does not exist yet)."""
        created, period = self.created[index], self.edit_period[index]
        return np.where(now >= created, created + (now - created) // period * period, -1)

    def sku_next_change(self, now: int) -> int:
        mod = self.sku_modified(now)
        upcoming = np.where(mod < 0, self.created, mod + self.edit_period)
        return int(upcoming.min())

    def sku_price(self, index: int, modified: int) -> float:
        version = (modified - int(self.created[index])) // int(self.edit_period[index])
        return round(float(self.base_price[index]) * (1 + 0.05 * (version % 3)), 2)

    # ---- stock -----------------------------------------------------------------------------
    def stock_tick(self, now: int, index: int | slice = ALL) -> np.ndarray:
        """Index of every SKU's (or one's) latest stock tick at `now` (-1 before the first)."""
        phase = self.tick_phase[index]
        return np.where(now >= phase, (now - phase) // self.tick_period[index], -1)

    def stock_modified(self, now: int, index: int | slice = ALL) -> np.ndarray:
        tick = self.stock_tick(now, index)
        return np.where(tick >= 0, self.tick_phase[index] + tick * self.tick_period[index], -1)

    def stock_next_change(self, now: int) -> int:
        return int((self.tick_phase + (self.stock_tick(now) + 1) * self.tick_period).min())

    def stock(self, index: int, tick: int) -> dict[str, int]:
        """Quantities of one SKU at one tick: drawn down by sales, refilled by purchases."""
        level = int(self.stock_level[index])
        cycle = int(self.stock_cycle[index])
        step = (tick + int(self.stock_offset[index])) % cycle
        qty = max(0, round(level * (1 - step / (0.85 * cycle))))
        if unit(self.seed, "neg-stock", index, tick) < self.config.dirty.negative_qty:
            qty = -1 - int(unit(self.seed, "neg-size", index, tick) * 5)  # oversold
        lock = int(unit(self.seed, "lock", index, tick) * min(5, max(qty, 0) + 1))
        return {
            "qty": qty,
            "order_lock": lock,
            "pick_lock": lock // 2,
            "virtual_qty": 0,
            "purchase_qty": level if step > 0.7 * cycle else 0,
            "return_qty": int(unit(self.seed, "ret", index, tick) < 0.1),
            "in_qty": level if step == 0 else 0,
            "defective_qty": int(unit(self.seed, "def", index, tick) < 0.05),
            "allocate_qty": 0,
            "min_qty": round(level * 0.25),
            "max_qty": round(level * 1.2),
        }
