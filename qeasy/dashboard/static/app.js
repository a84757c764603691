// The eight screens of screens.md, drawn with ECharts (served locally with the China map's geo data).
// Every number comes from /api/screens/N; text from the ERP is set as text, never as HTML.
"use strict";

const LIVE_SECONDS = 5;    // screen 7 (大促实时战报): screens.md asks for 30 s or faster
const OTHER_SECONDS = 30;  // the other screens, so that today's numbers keep up too
const money = new Intl.NumberFormat("zh-CN", { style: "currency", currency: "CNY" });
const count = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 1 });
const fmt = {
  money: (v) => (v === null || v === undefined ? "—" : money.format(v)),
  count: (v) => (v === null || v === undefined ? "—" : count.format(v)),
  decimal: (v) => (v === null || v === undefined ? "—" : decimal.format(v)),
  pct: (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(2) + "%"),
  text: (v) => (v === null || v === undefined || v === "" ? "—" : String(v)),
};
const TEXT = { color: "#e8eef6" };
const AXIS = { axisLabel: { color: "#b8c7db" }, axisLine: { lineStyle: { color: "#34507a" } },
               splitLine: { lineStyle: { color: "#26405f" } } };
const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0") + ":00");

let me = null;
let charts = [];
let timer = null;
let chosenDay = "";  // empty: the screen's default day

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

function panel(title, ...children) {
  return el("div", { class: "panel" }, [el("h3", { text: title }), ...children]);
}

function kpis(items) {
  return el("div", { class: "kpis" }, items.map(([key, label, value]) =>
    el("div", { class: "kpi", "data-kpi": key }, [
      el("div", { class: "label", text: label }), el("div", { class: "value", text: value })])));
}

// columns: [key, label, format, numeric?]; alarm(row) marks a row red.
function table(name, columns, rows, alarm = () => false) {
  const head = el("tr", {}, columns.map(([, label, , numeric]) =>
    el("th", { class: numeric ? "num" : "", text: label })));
  const body = rows.map((row) => el("tr", { class: alarm(row) ? "alarm" : "" }, columns.map(
    ([key, , format, numeric]) => el("td", { class: numeric ? "num" : "", "data-col": key,
                                             text: format(row[key]) }))));
  if (!rows.length) {
    body.push(el("tr", {}, [el("td", { colspan: columns.length, text: "无数据 no data" })]));
  }
  return el("table", { "data-table": name }, [el("thead", {}, [head]), el("tbody", {}, body)]);
}

function chart(option, cls = "chart") {
  const node = el("div", { class: cls });
  requestAnimationFrame(() => {
    const instance = echarts.init(node, null, { renderer: "canvas" });
    // No animation: the screens redraw every few seconds, and a chart should show its numbers at once.
    instance.setOption(Object.assign({ animation: false, textStyle: TEXT, backgroundColor: "transparent",
                                       tooltip: { trigger: "axis" }, legend: { textStyle: TEXT } }, option));
    charts.push(instance);
  });
  return node;
}

function hidden(data, section) {
  return data.hidden.includes(section)
    ? el("p", { class: "hidden-note", text: "库存为全商户数据，您的账号无权查看 stock is merchant-wide: not shown to this user" })
    : null;
}

function byHour(rows, key) {
  const values = Array(24).fill(null);
  for (const row of rows) values[row.hour] = row[key];
  return values;
}

function sum(rows, key) {
  return rows.reduce((total, row) => total + (row[key] || 0), 0);
}

const SHOP_COLUMNS = [
  ["shop_name", "店铺 shop", fmt.text], ["out_orders", "出库单 orders", fmt.count, true],
  ["out_qty", "件数 items", fmt.count, true], ["out_amount", "出库金额 out amount", fmt.money, true],
  ["refund_orders", "退款单 refunds", fmt.count, true], ["refund_amount", "退款金额 refund amount", fmt.money, true],
  ["after_sale_rate", "售后率 after-sale rate", fmt.pct, true]];

const RENDER = {
  1(data) {
    const s = data.sections;
    const provinces = s.provinces.filter((row) => row.province !== "未知");
    const mapped = new Set(Object.values(me.map_names));
    const other = provinces.filter((row) => !mapped.has(row.province));
    const parts = [kpis([
      ["provinces", "有出库省份 provinces with orders", fmt.count(provinces.length)],
      ["province_orders", "出库单 out orders", fmt.count(sum(s.provinces, "out_orders"))],
      ...(s.categories ? [
        ["skus", "SKU数 SKUs", fmt.count(sum(s.categories, "skus"))],
        ["below_min_skus", "低于安全库存 below minimum", fmt.count(sum(s.categories, "below_min_skus"))],
        ["stockout_skus", "缺货 stock-outs", fmt.count(sum(s.categories, "stockout_skus"))]] : [])])];
    const grid = el("div", { class: "grid" });
    grid.appendChild(panel("今日出库订单分布 out orders by province", chart({
      tooltip: { trigger: "item", formatter: (p) => `${p.name}: ${fmt.count(p.value || 0)}` },
      visualMap: { min: 0, max: Math.max(1, ...provinces.map((r) => r.out_orders)), left: "left",
                   text: ["多 more", "少 fewer"], textStyle: TEXT, calculable: true,
                   inRange: { color: ["#1e3a5f", "#3b82f6", "#fbbf24"] } },
      series: [{ type: "map", map: "china", nameMap: me.map_names, roam: false,
                 label: { show: false }, itemStyle: { areaColor: "#14263f", borderColor: "#34507a" },
                 data: provinces.map((r) => ({ name: r.province, value: r.out_orders })) }],
    }, "chart map"), other.length
      ? el("p", { class: "hidden-note", text: "其他 other: " + other.map((r) => `${r.province} ${r.out_orders}`).join("，") })
      : el("span")));
    if (s.categories) {
      grid.appendChild(panel("分类库存 stock by category", chart({
        grid: { left: 100, right: 20 }, xAxis: { type: "value", ...AXIS },
        yAxis: { type: "category", data: s.categories.map((r) => r.category), ...AXIS },
        series: [{ name: "日末库存 end qty", type: "bar", data: s.categories.map((r) => r.end_qty) },
                 { name: "低于安全库存 below min", type: "bar", data: s.categories.map((r) => r.below_min_skus),
                   itemStyle: { color: "#f87171" } }],
      }), table("categories", [["category", "类目 category", fmt.text], ["skus", "SKU数", fmt.count, true],
                               ["end_qty", "日末库存 end qty", fmt.count, true],
                               ["below_min_skus", "低于安全库存 below min", fmt.count, true],
                               ["stockout_skus", "缺货 stock-outs", fmt.count, true]], s.categories)));
      grid.appendChild(panel("低于安全库存的SKU SKUs below safety stock", table("below_min", [
        ["sku_id", "SKU", fmt.text], ["sku_name", "商品 name", fmt.text], ["end_qty", "库存 stock", fmt.count, true],
        ["min_qty", "安全库存 min", fmt.count, true], ["out_qty_7d", "7日出库 7-day out", fmt.count, true],
        ["turnover_days", "周转天数 days", fmt.decimal, true]], s.below_min, () => true)));
    } else {
      grid.appendChild(panel("库存 stock", hidden(data, "categories")));
    }
    parts.push(grid);
    return parts;
  },
  2(data) {
    const s = data.sections;
    const last = s.forecast.length ? s.forecast[s.forecast.length - 1] : null;
    const open = s.forecast.map((r) => r.actual_amount === null);
    return [kpis([
      ["today_amount", "当日出库金额 out amount so far", fmt.money(sum(s.today, "out_amount"))],
      ["forecast_total", "预测全天 forecast to midnight", fmt.money(last ? last.cumulative_forecast : null)],
      ["yesterday_amount", "前一日 the day before", fmt.money(sum(s.yesterday, "out_amount"))]]),
      el("div", { class: "grid" }, [panel("按小时出库金额 out amount by hour", chart({
        xAxis: { type: "category", data: HOURS, ...AXIS }, yAxis: { type: "value", ...AXIS },
        series: [
          { name: "前一日 day before", type: "line", data: byHour(s.yesterday, "out_amount"),
            lineStyle: { color: "#94a3b8" }, itemStyle: { color: "#94a3b8" } },
          { name: "当日 day", type: "bar", data: byHour(s.today, "out_amount"), itemStyle: { color: "#3b82f6" } },
          { name: "预测 forecast", type: "line", lineStyle: { type: "dashed", color: "#fbbf24" },
            itemStyle: { color: "#fbbf24" },
            data: s.forecast.map((r, i) => (open[i] ? r.forecast_amount : null)) }],
      })), panel("逐小时 by hour", table("hourly", [
        ["hour", "小时 hour", (v) => HOURS[v]], ["out_orders", "出库单 orders", fmt.count, true],
        ["out_amount", "出库金额 amount", fmt.money, true]], s.today))])];
  },
  3(data) {
    const top = data.sections.top;
    const red = (row) => row.after_sale_rate_7d > data.after_sale_rate;
    return [el("p", { class: "hidden-note", text:
      `近7天售后率 TOP-10（出库单 ≥ ${data.min_orders}），高于 ${fmt.pct(data.after_sale_rate)} 标红 red above the threshold` }),
      el("div", { class: "grid" }, [panel("TOP-10 SKU", table("top", [
        ["sku_id", "SKU", fmt.text], ["sku_name", "商品 name", fmt.text],
        ["out_orders_7d", "7日出库单 out orders", fmt.count, true],
        ["refund_orders_7d", "7日退款单 refunds", fmt.count, true],
        ["after_sale_rate_7d", "售后率 rate", fmt.pct, true]], top, red)),
      panel("售后率 after-sale rate", chart({
        grid: { left: 140, right: 20 }, xAxis: { type: "value", ...AXIS, axisLabel: { color: "#b8c7db",
          formatter: (v) => (v * 100).toFixed(0) + "%" } },
        yAxis: { type: "category", inverse: true, data: top.map((r) => r.sku_id), ...AXIS },
        series: [{ type: "bar", name: "售后率 rate", data: top.map((r) => ({ value: r.after_sale_rate_7d,
          itemStyle: { color: red(r) ? "#f87171" : "#3b82f6" } })) }],
      }))])];
  },
  4(data) {
    const { shops, totals } = data.sections;
    const t = totals[0] || {};
    return [kpis([["out_amount", "出库金额 out amount", fmt.money(t.out_amount)],
                  ["refund_amount", "退款金额 refund amount", fmt.money(t.refund_amount)],
                  ["after_sale_rate", "售后率 after-sale rate", fmt.pct(t.after_sale_rate)]]),
      el("div", { class: "grid" }, [panel("店铺出库与退款 out and refund amount per shop", chart({
        grid: { left: 140, right: 20 }, xAxis: { type: "value", ...AXIS },
        yAxis: { type: "category", inverse: true, data: shops.map((r) => r.shop_name || String(r.shop_id)), ...AXIS },
        series: [{ name: "出库金额 out amount", type: "bar", data: shops.map((r) => r.out_amount) },
                 { name: "退款金额 refund amount", type: "bar", data: shops.map((r) => r.refund_amount),
                   itemStyle: { color: "#f87171" } }],
      })), panel("排行 ranking", table("shops", SHOP_COLUMNS, shops))])];
  },
  5(data) {
    const { shops, days } = data.sections;
    const unknown = shops.filter((r) => !r.fee_rate_known).map((r) => r.shop_name || r.shop_id);
    return [kpis([["gmv", "GMV 应付", fmt.money(sum(shops, "gmv"))],
                  ["discount", "优惠 discounts", fmt.money(sum(shops, "discount"))],
                  ["platform_fee", "平台佣金 platform fees", fmt.money(sum(shops, "platform_fee"))],
                  ["net_received", "净收入 net received", fmt.money(sum(shops, "net_received"))]]),
      unknown.length ? el("p", { class: "notice", text:
        "未配置佣金率，佣金按 0 计 no commission rate configured, fee counted as 0: " + unknown.join("，") }) : el("span"),
      el("div", { class: "grid" }, [panel("按店铺 per shop", table("finance", [
        ["shop_name", "店铺 shop", fmt.text], ["gmv", "GMV", fmt.money, true],
        ["discount", "优惠 discount", fmt.money, true], ["paid", "实付 paid", fmt.money, true],
        ["freight", "运费 freight", fmt.money, true], ["platform_fee", "佣金 fee", fmt.money, true],
        ["refund_amount", "退款 refunds", fmt.money, true], ["net_received", "净收入 net", fmt.money, true]], shops)),
      panel("近7天 last 7 days", chart({
        xAxis: { type: "category", data: days.map((r) => r.stat_date), ...AXIS }, yAxis: { type: "value", ...AXIS },
        series: [["gmv", "GMV"], ["discount", "优惠 discounts"], ["platform_fee", "佣金 fees"],
                 ["net_received", "净收入 net"]].map(([key, name]) => ({ name, type: "line", data: days.map((r) => r[key]) })),
      }))])];
  },
  6(data) {
    const reorder = data.sections.reorder;
    if (!reorder) return [panel("建议补货 reorder", hidden(data, "reorder"))];
    const query = `date=${encodeURIComponent(data.day)}`;
    return [kpis([["reorder_skus", "需补货SKU SKUs to reorder", fmt.count(reorder.filter((r) => r.suggested_qty > 0).length)],
                  ["suggested_total", "建议补货总量 suggested in all", fmt.count(sum(reorder, "suggested_qty"))]]),
      el("p", { class: "actions" }, [
        el("a", { href: `/api/screens/6/export?${query}&format=csv`, "data-export": "csv", text: "导出 CSV" }),
        el("a", { href: `/api/screens/6/export?${query}&format=xlsx`, "data-export": "xlsx", text: "导出 Excel" })]),
      panel("建议补货 reorder list", table("reorder", [
        ["sku_id", "SKU", fmt.text], ["sku_name", "商品 name", fmt.text], ["end_qty", "库存 stock", fmt.count, true],
        ["min_qty", "安全库存 min", fmt.count, true], ["purchase_qty", "在途 in transit", fmt.count, true],
        ["daily_out", "日均出库 daily out", fmt.decimal, true], ["cover_days", "可售天数 cover days", fmt.decimal, true],
        ["suggested_qty", "建议补货 suggested", fmt.count, true]], reorder, (r) => r.below_min))];
  },
  7(data) {
    const s = data.sections;
    const t = s.totals[0] || {};
    return [kpis([["out_orders", "出库单 out orders", fmt.count(t.out_orders)],
                  ["out_amount", "出库金额 out amount", fmt.money(t.out_amount)],
                  ["refund_orders", "退款单 refunds", fmt.count(t.refund_orders)],
                  ["after_sale_rate", "售后率 after-sale rate", fmt.pct(t.after_sale_rate)]]),
      el("div", { class: "grid" }, [
        panel("店铺排行 shops", table("shops", SHOP_COLUMNS.slice(0, 4), s.shops)),
        panel("商品排行 SKUs", table("skus", [["sku_id", "SKU", fmt.text], ["sku_name", "商品 name", fmt.text],
          ["out_orders", "出库单 orders", fmt.count, true], ["out_qty", "件数 items", fmt.count, true],
          ["out_amount", "金额 amount", fmt.money, true]], s.skus)),
        panel("按小时 by hour", chart({ xAxis: { type: "category", data: HOURS, ...AXIS },
          yAxis: { type: "value", ...AXIS },
          series: [{ name: "出库金额 out amount", type: "bar", data: byHour(s.hourly, "out_amount") }] }))])];
  },
  8(data) {
    const s = data.sections;
    const slow = (row) => row.lag_seconds > 3600;
    return [kpis([["calls", "API调用 calls", fmt.count(sum(s.datasets, "calls"))],
                  ["errors", "错误 errors", fmt.count(sum(s.datasets, "errors"))],
                  ["throttled", "限流 throttled", fmt.count(sum(s.datasets, "throttled"))],
                  ["query_ms", "看板查询耗时 warehouse query time", `${fmt.decimal(data.query_ms)} ms`]]),
      el("div", { class: "grid" }, [
        panel("按小时 API calls by hour", chart({ xAxis: { type: "category", data: HOURS, ...AXIS },
          yAxis: [{ type: "value", ...AXIS }, { type: "value", name: "p95 ms", ...AXIS }],
          series: [["calls", "调用 calls"], ["errors", "错误 errors"], ["throttled", "限流 throttled"],
                   ["retries", "重试 retries"]].map(([key, name]) => ({ name, type: "bar", data: byHour(s.hours, key) }))
            .concat([{ name: "P95延迟 latency", type: "line", yAxisIndex: 1, data: byHour(s.hours, "latency_p95_ms") }]) })),
        panel("数据集 datasets", table("datasets", [["dataset", "数据集 dataset", fmt.text],
          ["calls", "调用", fmt.count, true], ["errors", "错误", fmt.count, true], ["throttled", "限流", fmt.count, true],
          ["retries", "重试", fmt.count, true], ["rows", "行数 rows", fmt.count, true],
          ["latency_p95_ms", "P95 ms", fmt.decimal, true], ["error_rate", "错误率", fmt.pct, true]], s.datasets)),
        panel("数据新鲜度 freshness", table("freshness", [["dataset", "数据集 dataset", fmt.text],
          ["last_pull", "最近拉取 last pull", fmt.text], ["lag_seconds", "延迟秒 lag s", fmt.count, true]],
          s.freshness, slow)),
        panel("最近运行 latest Dagster runs", table("runs", [["run_id", "运行 run", fmt.text], ["job", "作业 job", fmt.text],
          ["status", "状态 status", fmt.text], ["partition", "分区 partition", fmt.text],
          ["started", "开始 started", fmt.text], ["seconds", "耗时 s", fmt.decimal, true]], data.runs,
          (r) => r.status === "FAILURE")),
        panel("各屏查询耗时 query time per screen", table("query_ms", [["screen", "屏 screen", fmt.text],
          ["ms", "毫秒 ms", fmt.decimal, true]], Object.entries(data.query_ms_by_screen)
          .map(([screen, ms]) => ({ screen, ms }))))])];
  },
};

function current() {
  const number = parseInt(location.hash.replace("#", ""), 10);
  return number >= 1 && number <= 8 ? number : 1;
}

async function load() {
  const number = current();
  const params = new URLSearchParams();
  if (chosenDay) params.set("date", chosenDay);
  let response;
  try {
    response = await fetch(`/api/screens/${number}?${params}`, { credentials: "same-origin" });
  } catch (error) {
    document.getElementById("notice").textContent = `无法连接 cannot reach the dashboard: ${error}`;
    return schedule(5);
  }
  if (response.redirected && new URL(response.url).pathname === "/login") {
    location.href = "/login";  // signed out (or the session expired)
    return;
  }
  const data = await response.json();
  if (!response.ok) {
    document.getElementById("notice").textContent = data.error;
    return schedule(response.status === 503 ? 5 : OTHER_SECONDS);
  }
  if (number !== current()) return;  // the person moved on meanwhile
  render(data);
  schedule(number === 7 ? LIVE_SECONDS : OTHER_SECONDS);
}

function schedule(seconds) {
  clearTimeout(timer);
  timer = setTimeout(load, seconds * 1000);
}

function render(data) {
  for (const instance of charts) instance.dispose();
  charts = [];
  document.getElementById("title").textContent = `${data.screen}. ${data.title} · ${data.day}`;
  document.getElementById("notice").textContent = "";
  document.getElementById("day").value = data.day;
  document.getElementById("refreshed").textContent =
    "刷新于 refreshed " + new Date().toLocaleTimeString("zh-CN", { hour12: false });
  const screen = document.getElementById("screen");
  screen.replaceChildren(...RENDER[data.screen](data).filter(Boolean));
  screen.dataset.screen = data.screen;
  screen.dataset.day = data.day;
  screen.dataset.loaded = String(Date.now());
  for (const button of document.querySelectorAll("nav button")) {
    button.classList.toggle("active", Number(button.dataset.screen) === data.screen);
  }
}

async function start() {
  const response = await fetch("/api/me", { credentials: "same-origin" });
  if (response.redirected) { location.href = "/login"; return; }
  me = await response.json();
  const chinaMap = await (await fetch("/static/vendor/china.json")).json();
  echarts.registerMap("china", chinaMap);
  document.getElementById("user").textContent = `用户 ${me.user}`;
  document.getElementById("sign-out").hidden = !me.sign_in;
  const day = document.getElementById("day");
  day.min = me.first_day;
  day.max = me.today;
  day.addEventListener("change", () => { chosenDay = day.value; load(); });
  const nav = document.getElementById("screens");
  for (const screen of me.screens) {
    const button = el("button", { "data-screen": screen.number, text: `${screen.number} ${screen.title}` });
    button.addEventListener("click", () => { chosenDay = ""; location.hash = `#${screen.number}`; });
    nav.appendChild(button);
  }
  window.addEventListener("hashchange", () => load());
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  load();
}

start();
