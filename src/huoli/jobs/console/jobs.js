// Scheduled jobs: schedule, last run, duration, outcome, next run, a run-now button (operator), recent runs.

const L = {
  jobs: { zh: "任务列表", en: "All jobs" },
  runs: { zh: "最近运行", en: "Recent runs" },
  name: { zh: "任务", en: "Job" },
  schedule: { zh: "计划", en: "Schedule" },
  scope: { zh: "范围", en: "Scope" },
  lastRun: { zh: "上次运行", en: "Last run" },
  duration: { zh: "耗时", en: "Duration" },
  outcome: { zh: "结果", en: "Outcome" },
  nextRun: { zh: "下次运行", en: "Next run" },
  action: { zh: "操作", en: "Action" },
  runNow: { zh: "立即运行", en: "Run now" },
  queued: { zh: "已加入队列：", en: "Queued: " },
  started: { zh: "开始", en: "Started" },
  trigger: { zh: "触发", en: "Trigger" },
  attempt: { zh: "次数", en: "Attempt" },
  summary: { zh: "结果摘要 / 错误", en: "Summary / error" },
  onDemand: { zh: "按需", en: "on demand" },
  never: { zh: "尚未运行", en: "never" },
  refresh: { zh: "刷新", en: "Refresh" },
  forbiddenRun: { zh: "只有运营或所有者角色的密钥可以运行任务。", en: "Only operator and owner keys can run jobs." },
  globalNote: {
    zh: "全局任务服务所有应用，请用命令行运行：huoli jobs run 名称",
    en: "Global jobs serve every app: run them with `huoli jobs run NAME`.",
  },
  scopes: { app: { zh: "本应用", en: "This app" }, global: { zh: "全局", en: "Global" } },
  statuses: {
    queued: { zh: "排队中", en: "queued" },
    running: { zh: "运行中", en: "running" },
    ok: { zh: "成功", en: "ok" },
    retrying: { zh: "等待重试", en: "retrying" },
    failed: { zh: "失败", en: "failed" },
  },
  triggers: {
    schedule: { zh: "计划", en: "schedule" },
    api: { zh: "控制台/API", en: "console / API" },
    cli: { zh: "命令行", en: "CLI" },
  },
};

function schedule(text, t, h) {
  if (!text) return t(L.onDemand);
  let m = /^every (\d+) (min|h|d|s)$/.exec(text);
  if (m) {
    const unit = { min: ["分钟", "min"], h: ["小时", "h"], d: ["天", "d"], s: ["秒", "s"] }[m[2]];
    return t({ zh: `每 ${m[1]} ${unit[0]}`, en: `every ${m[1]} ${unit[1]}` });
  }
  m = /^cron (.+)$/.exec(text);
  return m ? h("code", { class: "mono" }, m[1]) : text;
}

function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

// A run's result as "name: value" pairs (nested counts flattened), the first few only: the full JSON is its tooltip.
function summary(result, most = 6) {
  const pairs = [];
  const walk = (obj, prefix) => {
    for (const [k, v] of Object.entries(obj)) {
      if (v && typeof v === "object" && !Array.isArray(v)) walk(v, `${prefix}${k}.`);
      else pairs.push(`${prefix}${k}: ${Array.isArray(v) ? v.length : typeof v === "number" ? v.toLocaleString() : v}`);
    }
  };
  walk(result, "");
  return pairs.length > most ? `${pairs.slice(0, most).join(" · ")} · …` : pairs.join(" · ");
}

export default {
  id: "jobs",
  title: { zh: "任务", en: "Jobs" },
  group: "settings",
  order: 930,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, toast } = ctx.ui;
    const t = ctx.t;
    const status = (s) => h("span", { class: `job-status job-${s}`, dataset: { status: s } }, t(L.statuses[s] || { zh: s, en: s }));
    const jobsSlot = h("div", { id: "jobs-table" });
    const runsSlot = h("div", { id: "job-runs" });
    const refresh = h("button", { type: "button", id: "jobs-refresh" }, t(L.refresh));

    async function runNow(job, button) {
      button.disabled = true;
      try {
        const run = await ctx.api(`/admin/jobs/${encodeURIComponent(job.name)}/run`, { method: "POST" });
        toast(`${t(L.queued)}${job.name} #${run.id}`);
        await load();
      } catch (err) {
        toast(err.status === 403 && err.code !== "global_job" ? t(L.forbiddenRun) : err.message, { kind: "error" });
      } finally {
        button.disabled = false;
      }
    }

    const jobColumns = [
      {
        key: "name", title: t(L.name),
        // the description as a tooltip: a line under each name left the other columns too narrow to read
        format: (v, j) => h("span", { class: "mono", title: j.description }, v),
      },
      { key: "scope", title: t(L.scope), format: (v) => t(L.scopes[v]) },
      { key: "schedule", title: t(L.schedule), format: (v) => schedule(v, t, h) },
      { key: "last_run", title: t(L.lastRun), format: (r) => (r && r.started_at ? ctx.fmt.datetime(r.started_at) : t(L.never)) },
      { key: "duration", title: t(L.duration), align: "right", format: (_, j) => duration(j.last_run?.duration_ms) },
      { key: "outcome", title: t(L.outcome), format: (_, j) => (j.last_run ? status(j.last_run.status) : "—") },
      { key: "next_run", title: t(L.nextRun), format: (v) => (v ? ctx.fmt.datetime(v) : "—") },
      {
        key: "action", title: t(L.action),
        format: (_, j) => {
          if (!j.runnable) return h("small", { class: "muted", title: t(L.globalNote) }, "—");
          const b = h("button", { type: "button", class: "primary", dataset: { job: j.name } }, t(L.runNow));
          b.addEventListener("click", () => runNow(j, b));
          return b;
        },
      },
    ];
    const runColumns = [
      { key: "id", title: "#", align: "right" },
      { key: "job", title: t(L.name), format: (v) => h("span", { class: "mono" }, v) },
      { key: "trigger", title: t(L.trigger), format: (v) => t(L.triggers[v] || { zh: v, en: v }) },
      { key: "started_at", title: t(L.started), format: (v) => (v ? ctx.fmt.datetime(v) : "—") },
      { key: "duration_ms", title: t(L.duration), align: "right", format: (v) => duration(v) },
      { key: "status", title: t(L.outcome), format: (v) => status(v) },
      { key: "attempt", title: t(L.attempt), align: "right" },
      {
        key: "result", title: t(L.summary),
        format: (v, r) => (r.error ? h("span", { class: "field-error" }, r.error)
          : v && Object.keys(v).length ? h("span", { class: "job-summary", title: JSON.stringify(v) }, summary(v)) : "—"),
      },
    ];

    async function load() {
      const [jobs, runs] = await Promise.all([ctx.api("/admin/jobs"), ctx.api("/admin/jobs/runs?limit=50")
        .then((page) => page.items)]);
      if (!ctx.isCurrent()) return;
      clear(jobsSlot).append(table(jobColumns, jobs));
      clear(runsSlot).append(table(runColumns, runs));
    }

    refresh.addEventListener("click", () => load().catch((err) => toast(err.message, { kind: "error" })));
    root.append(
      h("section", { class: "card" }, h("h2", {}, t(L.jobs), " ", refresh), jobsSlot),
      h("section", { class: "card" }, h("h2", {}, t(L.runs)), runsSlot),
    );
    await load();
  },
};
