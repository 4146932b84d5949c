// The experiments API's messages with names and numbers in them, in Chinese (see flags/console/apiText.js).
import { FLAG_MESSAGES } from "../../flags/console/apiText.js";

const KIND = { conversion: "转化率", mean: "人均值", ratio: "比率", retention: "留存" };
const TYPE = { bool: "开关（是 / 否）", string: "文本", number: "数字", json: "结构化数据" };
const STATUS = { draft: "草稿", running: "运行中", stopped: "已停止" };
const pct = (x) => `${Math.round(Number(x) * 1000) / 10}%`;
const flagMsg = (m) => {
  for (const [re, fn] of FLAG_MESSAGES) {
    const g = m.match(re);
    if (g) return fn(...g.slice(1));
  }
  return m;
};

export function experimentMessages(fmt) {
  return [
    [/^weights must sum to 1 \(they sum to ([\d.]+)\)$/, (s) => `各变体的流量权重之和应为 100%（现在是 ${pct(s)}）`],
    [/^duplicate variant key '(.+)'$/, (k) => `变体标识 ${k} 重复`],
    [/^unknown flag '(.+)'; create it first$/, (k) => `没有功能开关 ${k}：请先在「功能开关」页创建`],
    [/^flag '(.+)' is (\w+): (.+)$/, (k, ty, m) => `开关 ${k} 的类型是${TYPE[ty] || ty}：${flagMsg(m)}`],
    [/^duplicate metric key '(.+)'$/, (k) => `指标标识 ${k} 重复`],
    [/^unknown event '(.+)': not in the catalog and never seen in the event log$/, (e) => `未知事件 ${e}：不在事件目录中，事件记录里也从未出现`],
    [/^range \[(.+), (.+)\) overlaps experiment '(.+)' \[(.+), (.+)\) in namespace '(.+)'$/,
      (a, b, k, c, d, ns) => `命名空间 ${ns} 中的区间 ${pct(a)}–${pct(b)} 与实验 ${k}（${pct(c)}–${pct(d)}）重叠`],
    [/^unknown holdout '(.+)'$/, (k) => `没有保留组 ${k}`],
    [/^too many variants for the traffic: variant '(.+)' would get about (\d+) users in (\d+) days \((.+)\); it needs ≥ (\d+)\. Use fewer variants, more coverage or a longer plan$/,
      (v, n, d, src, need) => {
        const m = src.match(/^(\d+) expected daily users$/) || src.match(/^(\d+) users active in the last (\d+) days$/);
        const from = !m ? src : m[2] ? `最近 ${m[2]} 天有 ${m[1]} 位活跃用户` : `预计每日 ${m[1]} 位用户`;
        return `流量不足以支撑这么多变体：变体 ${v} 在 ${d} 天内约有 ${n} 位用户（${from}），至少需要 ${need} 位。请减少变体、提高流量比例或延长计划天数`;
      }],
    [/^experiment '(.+)' already exists$/, (k) => `实验 ${k} 已存在，请换一个标识`],
    [/^event is required for a (\w+) metric$/, (k) => `${KIND[k] || k}指标需要填写事件`],
    [/^denominator_event is required for a ratio metric$/, () => "比率指标需要填写分母事件"],
    [/^cuped applies to mean metrics only$/, () => "CUPED 只适用于人均值指标"],
    [/^namespace end must be greater than start$/, () => "命名空间的结束位置应大于开始位置"],
    [/^(\S+) is in the future \(now is (\S+)\)$/, (when, now) => `${fmt.datetime(when, { seconds: false })} 晚于现在（${fmt.datetime(now, { seconds: false })}）：开始时间不能在将来`],
    [/^'(.+)' is not an ISO date/, (v) => `${v} 不是有效的日期或时间`],
    [/^experiment '(.+)' is already running since (\S+); stop it before recording another start$/,
      (k, when) => `实验 ${k} 已于 ${fmt.datetime(when, { seconds: false })} 开始运行：要记录另一个开始时间，请先停止`],
    [/^experiment '(.+)' was shipped; create a new one$/, (k) => `实验 ${k} 已全量发布：请新建一个实验`],
    [/^experiment '(.+)' has not started$/, (k) => `实验 ${k} 尚未开始`],
    [/^experiment '(.+)' is (\w+); only drafts can be deleted$/, (k, s) => `实验 ${k} 的状态是${STATUS[s] || s}：只有草稿可以删除`],
    [/^unknown experiment '(.+)'$/, (k) => `没有实验 ${k}`],
    [/^a global holdout already exists$/, () => "已有一个全局保留组"],
    [/^holdout '(.+)' already exists$/, (k) => `保留组 ${k} 已存在，请换一个标识`],
    [/^one of \[(.+)\]$/, (l) => `应为其中之一：${l.replace(/'/g, "")}`],
    ...FLAG_MESSAGES,
  ];
}
