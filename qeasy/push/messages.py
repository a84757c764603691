"""The daily push in the bots' real formats: a Feishu interactive card and a DingTalk markdown message,
both carrying the same lines (money as ¥1,234.56, rates as %), the dashboard link when configured and
the configured @-mentions (Feishu `<at id=...></at>` in the card, DingTalk `at` plus `@mobile` in
the text, which DingTalk needs to show the mention). Signing is `qeasy.alerts.channels.post`'s."""

from dataclasses import dataclass
from decimal import Decimal

from qeasy.alerts.channels import DINGTALK, FEISHU
from qeasy.push.summary import DailySummary

TITLE = "qeasy 日报 daily report"


@dataclass(frozen=True)
class PushOptions:
    dashboard_url: str = ""
    dingtalk_at_mobiles: tuple[str, ...] = ()
    dingtalk_at_all: bool = False
    feishu_at: tuple[str, ...] = ()  # open_ids, or "all"


PLAIN = PushOptions()  # no link, no mentions


def money(amount: Decimal) -> str:
    return f"¥{amount:,.2f}"


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def title(summary: DailySummary) -> str:
    return f"{TITLE} {summary.day.isoformat()}"


def sections(summary: DailySummary) -> list[list[str]]:
    """The message's sections, each a list of markdown lines (the same text on both bots)."""
    if not summary.has_data:
        return [[f"**{summary.day.isoformat()} 暂无数据 no data**: the warehouse has no metrics for this "
                 "day (not ingested yet, or nothing happened)."]]
    totals = [
        f"**出库 out**: {summary.out_orders:,} 单 orders, {money(summary.out_amount)}",
        f"**退款 refunds**: {summary.refund_orders:,} 单 orders, {money(summary.refund_amount)}",
        f"**售后率 after-sale rate**: {rate(summary.after_sale_rate)}",
    ]
    shops = ["**店铺出库金额 TOP 5 shops by out amount**"] + [
        f"{i}. {shop.shop_name or '—'} ({shop.shop_id}): {money(shop.out_amount)}, {shop.out_orders:,} 单"
        for i, shop in enumerate(summary.top_shops, 1)]
    if not summary.top_shops:
        shops.append("无出库 no out orders")
    stock = [
        f"**缺货 stock-outs**: {summary.stock_outs:,} SKU (期末库存 0 且近7天有出库 end_qty 0, shipped "
        "in 7 days)",
        f"**待补货 to reorder**: {summary.to_reorder:,} SKU (建议补货量 suggested_qty > 0)",
    ]
    header = f"**近7天售后率 TOP 3 SKUs by 7-day after-sale rate** (≥ {summary.min_orders:,} 出库单 orders)"
    skus = [header] + [
        f"{i}. {sku.sku_id} {sku.sku_name or ''}".rstrip()
        + f": {rate(sku.rate)} ({sku.refund_orders:,}/{sku.out_orders:,})"
        for i, sku in enumerate(summary.top_skus, 1)]
    if not summary.top_skus:
        skus.append("无 none")
    return [totals, shops, stock, skus]


def text(summary: DailySummary, options: PushOptions = PLAIN) -> str:
    """The message as plain markdown lines (what is logged and recorded in ops_pushes)."""
    lines = [title(summary), *(line for section in sections(summary) for line in section)]
    if options.dashboard_url:
        lines.append(_link(options.dashboard_url))
    return "\n".join(lines)


def _link(url: str) -> str:
    return f"[打开看板 Open the dashboard]({url})"


def feishu_push(summary: DailySummary, options: PushOptions) -> dict:
    """The Feishu interactive card (unsigned: `post` signs it)."""
    elements: list[dict] = []
    for i, section in enumerate(sections(summary)):
        if i:
            elements.append({"tag": "hr"})
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(section)}})
    tail = []
    if options.dashboard_url:
        tail.append(_link(options.dashboard_url))
    if options.feishu_at:
        tail.append(" ".join(f"<at id={open_id}></at>" for open_id in options.feishu_at))
    if tail:
        elements += [{"tag": "hr"}, {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(tail)}}]
    card = {"config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": title(summary)}, "template": "blue"},
            "elements": elements}
    return {"msg_type": "interactive", "card": card}


def dingtalk_push(summary: DailySummary, options: PushOptions) -> dict:
    """The DingTalk markdown message; its lines are separated by blank lines, as DingTalk's markdown
    joins single line breaks."""
    blocks = [f"### {title(summary)}", *("\n\n".join(section) for section in sections(summary))]
    if options.dashboard_url:
        blocks.append(_link(options.dashboard_url))
    if options.dingtalk_at_mobiles:
        blocks.append(" ".join(f"@{mobile}" for mobile in options.dingtalk_at_mobiles))
    body: dict = {"msgtype": "markdown", "markdown": {"title": title(summary), "text": "\n\n".join(blocks)}}
    if options.dingtalk_at_mobiles or options.dingtalk_at_all:
        body["at"] = {"atMobiles": list(options.dingtalk_at_mobiles), "isAtAll": options.dingtalk_at_all}
    return body


def push_message(channel: str, summary: DailySummary, options: PushOptions) -> dict:
    """The body for the bot `channel` (FEISHU or DINGTALK)."""
    if channel == FEISHU:
        return feishu_push(summary, options)
    if channel == DINGTALK:
        return dingtalk_push(summary, options)
    raise ValueError(f"unknown channel {channel!r}")
