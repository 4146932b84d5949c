// Backups of the whole deployment: list with verify, back up now (owner), schedule and retention, how to restore.

const L = {
  list: { zh: "备份列表", en: "Backups taken" },
  settings: { zh: "计划与保留", en: "Schedule and retention" },
  restore: { zh: "如何恢复", en: "How to restore" },
  backupNow: { zh: "立即备份", en: "Back up now" },
  refresh: { zh: "刷新", en: "Refresh" },
  name: { zh: "备份", en: "Backup" },
  created: { zh: "时间", en: "Created" },
  size: { zh: "大小", en: "Size" },
  events: { zh: "事件数", en: "Events" },
  apps: { zh: "应用数", en: "Apps" },
  mode: { zh: "方式", en: "Mode" },
  verified: { zh: "校验", en: "Verified" },
  action: { zh: "操作", en: "Action" },
  verify: { zh: "校验", en: "Verify" },
  none: { zh: "还没有备份。", en: "No backups yet." },
  unchecked: { zh: "未校验", en: "not checked" },
  ok: { zh: "完好", en: "intact" },
  damaged: { zh: "已损坏", en: "damaged" },
  modes: { online: { zh: "在线", en: "online" }, offline: { zh: "离线（命令行）", en: "offline (CLI)" } },
  queued: { zh: "备份已加入队列，服务器会在后台完成（不影响数据接收）。", en: "Backup queued: the server makes it in the background while it keeps ingesting." },
  verifiedOk: { zh: "校验通过：", en: "Verified: " },
  verifiedBad: { zh: "校验失败：", en: "Damaged: " },
  schedule: { zh: "自动备份", en: "Scheduled backups" },
  off: { zh: "未开启（设置 HUOLI_BACKUP_SCHEDULE，例如 0 3 * * *）", en: "off (set HUOLI_BACKUP_SCHEDULE, e.g. 0 3 * * *)" },
  nextRun: { zh: "下次备份", en: "Next backup" },
  keep: { zh: "保留份数", en: "Kept" },
  keepAll: { zh: "全部保留（设置 HUOLI_BACKUP_KEEP 自动清理旧备份）", en: "all (set HUOLI_BACKUP_KEEP to prune old ones)" },
  directory: { zh: "备份目录", en: "Directory" },
  lastRun: { zh: "上次备份任务", en: "Last backup job" },
  never: { zh: "尚未运行", en: "never" },
  scopeNote: {
    zh: "备份包含整个部署（所有应用）的数据：运营数据库、事件库、接收日志和生成的密钥。任何应用的所有者密钥都可以发起备份。",
    en: "A backup holds the whole deployment (every app): the operational database, the event store, the ingestion journal and the generated keys. An owner key of any app can start one.",
  },
  ownerOnly: { zh: "只有所有者角色的密钥可以发起备份。", en: "Only owner keys can start a backup." },
  restoreIntro: {
    zh: "恢复会替换正在使用的数据，因此只能在服务器上用命令行进行：先恢复到新目录，再让服务使用它。",
    en: "A restore replaces the live stores, so it is done on the server with the CLI: restore into a new directory, then serve from it.",
  },
  restoreNote: {
    zh: "恢复前会校验每个文件的校验和，并在完成后核对每张表和每个应用的事件数。Redis（如有）请在恢复后清空 huoli:* 键。",
    en: "The restore checks every file's checksum first and every table's and app's event count after. If you use Redis, delete its huoli:* keys after restoring.",
  },
  statuses: {
    queued: { zh: "排队中", en: "queued" },
    running: { zh: "运行中", en: "running" },
    ok: { zh: "成功", en: "ok" },
    retrying: { zh: "等待重试", en: "retrying" },
    failed: { zh: "失败", en: "failed" },
  },
};

function size(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export default {
  id: "backups",
  title: { zh: "备份", en: "Backups" },
  group: "settings",
  order: 940,
  range: false,
  async render(root, ctx) {
    const { h, clear, table, toast } = ctx.ui;
    const t = ctx.t;
    const listSlot = h("div", { id: "backups-table" });
    const settingsSlot = h("div", { id: "backup-settings" });
    const outcome = h("div", { id: "backup-result", role: "status" });
    const refresh = h("button", { type: "button", id: "backups-refresh" }, t(L.refresh));
    const now = h("button", { type: "button", class: "primary", id: "backup-now" }, t(L.backupNow));

    const badge = (v) => {
      if (!v) return h("span", { class: "muted", dataset: { verified: "none" } }, t(L.unchecked));
      return h("span", { class: v.ok ? "" : "field-error", dataset: { verified: v.ok ? "ok" : "bad" },
        title: `${ctx.fmt.datetime(v.at)}${v.problems.length ? "\n" + v.problems.join("\n") : ""}` }, v.ok ? "✓ " : "✗ ", t(v.ok ? L.ok : L.damaged));
    };

    async function verify(b, button) {
      button.disabled = true;
      try {
        const done = await ctx.api(`/admin/backups/${encodeURIComponent(b.name)}/verify`, { method: "POST" });
        const v = done.verified;
        clear(outcome).append(h("p", { class: v.ok ? "" : "field-error" },
          t(v.ok ? L.verifiedOk : L.verifiedBad), h("span", { class: "mono" }, b.name),
          v.ok ? "" : ` — ${(v.problems.length > 1 ? v.problems.slice(1) : v.problems).slice(0, 3).join("; ")}`));
        await load();
      } catch (err) {
        toast(err.message, { kind: "error" });
      } finally {
        button.disabled = false;
      }
    }

    const columns = [
      { key: "name", title: t(L.name), format: (v) => h("span", { class: "mono" }, v) },
      { key: "created_at", title: t(L.created), format: (v) => (v ? ctx.fmt.datetime(v) : "—") },
      { key: "bytes", title: t(L.size), align: "right", format: (v) => size(v) },
      { key: "events", title: t(L.events), align: "right", format: (v) => (v === null ? "—" : ctx.fmt.number(v)) },
      { key: "apps", title: t(L.apps), align: "right" },
      { key: "mode", title: t(L.mode), format: (v) => t(L.modes[v] || { zh: v, en: v }) },
      { key: "verified", title: t(L.verified), format: (v) => badge(v) },
      {
        key: "action", title: t(L.action),
        format: (_, b) => {
          const button = h("button", { type: "button", dataset: { verify: b.name } }, t(L.verify));
          button.addEventListener("click", () => verify(b, button));
          return button;
        },
      },
    ];

    function settingsRows(data) {
      const run = data.last_run;
      const rows = [
        [t(L.schedule), data.schedule ? h("span", {}, h("code", { class: "mono" }, data.schedule), ` (${data.timezone})`) : t(L.off)],
        [t(L.nextRun), data.next_run ? ctx.fmt.datetime(data.next_run) : "—"],
        [t(L.keep), data.keep ? String(data.keep) : t(L.keepAll)],
        [t(L.directory), h("code", { class: "mono" }, data.directory)],
        [t(L.lastRun), run ? h("span", {}, ctx.fmt.datetime(run.finished_at || run.created_at), " · ",
          h("span", { class: `job-status job-${run.status}`, dataset: { status: run.status } }, t(L.statuses[run.status] || { zh: run.status, en: run.status })),
          run.error ? h("span", { class: "field-error" }, " ", run.error) : "") : t(L.never)],
      ];
      return h("dl", { class: "facts" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    }

    async function load() {
      const data = await ctx.api("/admin/backups");
      if (!ctx.isCurrent()) return;
      now.disabled = !data.can_create;
      now.title = data.can_create ? "" : t(L.ownerOnly);
      clear(listSlot).append(data.backups.length ? table(columns, data.backups) : h("p", { class: "muted" }, t(L.none)));
      clear(settingsSlot).append(settingsRows(data));
      restoreLines(data);
    }

    now.addEventListener("click", async () => {
      now.disabled = true;
      try {
        await ctx.api("/admin/backups", { method: "POST" });
        toast(t(L.queued));
        await load();
      } catch (err) {
        toast(err.status === 403 ? t(L.ownerOnly) : err.message, { kind: "error" });
        now.disabled = false;
      }
    });
    refresh.addEventListener("click", () => load().catch((err) => toast(err.message, { kind: "error" })));

    const restoreCmd = h("pre", { class: "mono", id: "backup-restore-cmd" });
    // the real directory and the newest backup, so the commands can be pasted as they are
    function restoreLines(data) {
      const newest = data.backups[0]?.name || t({ zh: "<备份名>", en: "<NAME>" });
      const path = `${data.directory}/${newest}`;
      restoreCmd.textContent = [
        `huoli backup verify ${path}`,
        `huoli backup restore ${path} --data-dir /srv/huoli/var-restored`,
        "HUOLI_DATA_DIR=/srv/huoli/var-restored huoli serve",
      ].join("\n");
    }
    root.append(
      h("section", { class: "card" }, h("h2", {}, t(L.list), " ", refresh, " ", now),
        h("p", { class: "muted" }, t(L.scopeNote)), outcome, listSlot),
      h("section", { class: "card" }, h("h2", {}, t(L.settings)), settingsSlot),
      h("section", { class: "card", id: "backup-restore" }, h("h2", {}, t(L.restore)), h("p", {}, t(L.restoreIntro)),
        restoreCmd, h("p", { class: "muted" }, t(L.restoreNote))),
    );
    try {
      await load();
    } catch (err) {
      if (err.status !== 409 && err.status !== 403) throw err;
      // PostgreSQL / ClickHouse (their own tools), or an analyst key: say so instead of a broken page
      now.disabled = true;
      clear(listSlot).append(h("p", { class: "banner banner-warn", id: "backup-unsupported", role: "status" }, err.message));
    }
  },
};
