// WeChat Pay merchant of the current app (owner keys only): what is configured and where it comes from, and a
// form to set or replace it (PEM from a file read in the browser, or pasted). Secrets never come back: the API
// answers ids, serials and key fingerprints only, and the form is emptied after a save.

const L = {
  current: { zh: "当前配置", en: "Current configuration" },
  intro: {
    zh: "本应用退款使用的微信支付商户，以及验证、解密退款通知所用的密钥。未单独配置时，使用部署级 HUOLI_WECHATPAY_* 设置。",
    en: "The WeChat Pay merchant this app refunds through, and the keys its refund notifications are verified and decrypted with. Without one, the deployment's HUOLI_WECHATPAY_* settings apply.",
  },
  source: { zh: "来源", en: "Source" },
  sources: {
    app: { zh: "本应用的商户配置", en: "This app's own merchant" },
    deployment: { zh: "部署级设置（HUOLI_WECHATPAY_*）", en: "Deployment settings (HUOLI_WECHATPAY_*)" },
    none: { zh: "未配置：退款通知将被拒绝（503），退款暂不发起", en: "None: refund notifications are refused (503), refunds wait" },
  },
  mchId: { zh: "商户号", en: "Merchant id (mch_id)" },
  serial: { zh: "商户证书序列号", en: "Merchant certificate serial" },
  merchantFp: { zh: "商户私钥指纹", en: "Merchant key fingerprint" },
  merchantFpHint: { zh: "私钥公钥部分的 SHA-256，可与商户证书比对", en: "SHA-256 of the key's public half: compare with the certificate" },
  platformId: { zh: "平台公钥 ID", en: "Platform public key id" },
  platformFp: { zh: "平台公钥指纹", en: "Platform key fingerprint" },
  updatedAt: { zh: "更新时间", en: "Updated" },
  notifyUrl: { zh: "退款通知地址", en: "Refund notify URL" },
  notifyHint: {
    zh: "微信支付需通过 HTTPS 访问此地址；若对外地址与本控制台不同，请使用对外域名加此路径（HUOLI_WECHATPAY_NOTIFY_BASE_URL）。",
    en: "WeChat Pay must reach it over HTTPS; if the public address differs from this console's, use the public host with this path (HUOLI_WECHATPAY_NOTIFY_BASE_URL).",
  },
  secretsNote: { zh: "商户私钥与 APIv3 密钥已加密保存，不会再显示。", en: "The merchant private key and the APIv3 key are stored encrypted and never shown again." },
  set: { zh: "设置商户", en: "Set the merchant" },
  replace: { zh: "替换商户配置", en: "Replace the merchant" },
  formIntro: {
    zh: "以下信息均在微信支付商户平台（pay.weixin.qq.com）获取，需一次填写完整；保存后替换原有配置。",
    en: "All of these come from the WeChat Pay merchant platform (pay.weixin.qq.com) and are set together; saving replaces any earlier configuration.",
  },
  mchIdPh: { zh: "例如：1900000109", en: "e.g. 1900000109" },
  serialPh: { zh: "API 证书序列号，十六进制", en: "API certificate serial, hexadecimal" },
  privateKey: { zh: "商户私钥", en: "Merchant private key" },
  privateKeyPh: { zh: "选择 apiclient_key.pem 文件，或在此粘贴 PEM（-----BEGIN PRIVATE KEY-----…）", en: "Pick apiclient_key.pem, or paste the PEM here (-----BEGIN PRIVATE KEY-----…)" },
  apiV3: { zh: "APIv3 密钥", en: "APIv3 key" },
  apiV3Ph: { zh: "32 个字符", en: "32 characters" },
  platformKey: { zh: "平台公钥", en: "Platform public key" },
  platformKeyPh: { zh: "选择 pub_key.pem（微信支付公钥）或平台证书文件，或在此粘贴 PEM", en: "Pick pub_key.pem (WeChat Pay public key) or the platform certificate, or paste the PEM here" },
  platformIdPh: { zh: "PUB_KEY_ID_… 或平台证书序列号", en: "PUB_KEY_ID_… or the platform certificate serial" },
  chooseFile: { zh: "选择文件", en: "Choose a file" },
  fileNote: { zh: "已读取文件 {name}（{n} 个字符，内容不显示）", en: "Read {name} ({n} characters, not shown)" },
  usePaste: { zh: "改为粘贴", en: "Paste instead" },
  fileFailed: { zh: "无法读取该文件", en: "Could not read that file" },
  save: { zh: "保存", en: "Save" },
  saved: { zh: "微信支付商户已保存", en: "WeChat Pay merchant saved" },
  clear: { zh: "清除", en: "Clear" },
  confirmClear: { zh: "确认清除？再点一次", en: "Clear it? Click again" },
  clearHint: {
    zh: "清除后本应用改用部署级设置；若部署也未配置，退款通知将被拒绝、退款暂停发起。",
    en: "After clearing, the app uses the deployment settings; if there are none, refund notifications are refused and refunds wait.",
  },
  cleared: { zh: "已清除本应用的商户配置", en: "This app's merchant was cleared" },
  forbidden: {
    zh: "只有所有者（owner）角色的密钥可以查看和修改微信支付商户配置。",
    en: "Only an owner key can see or change the WeChat Pay merchant.",
  },
  // One rule per field: the API's messages are English and about the format, so the page states the rule.
  rules: {
    mch_id: { zh: "商户号为 6–32 位数字", en: "The merchant id is 6–32 digits" },
    merchant_serial: { zh: "证书序列号为 8–64 位十六进制字符", en: "The certificate serial is 8–64 hexadecimal characters" },
    private_key_pem: { zh: "不是 PEM 格式的 RSA 私钥（apiclient_key.pem），或超过 3000 个字符", en: "Not an RSA private key in PEM (apiclient_key.pem), or longer than 3,000 characters" },
    api_v3_key: { zh: "APIv3 密钥为 32 个可打印 ASCII 字符", en: "The APIv3 key is 32 printable ASCII characters" },
    platform_key_id: { zh: "平台公钥 ID 为 1–64 位字母、数字、_ 或 -", en: "The platform key id is 1–64 letters, digits, _ or -" },
    platform_public_key_pem: { zh: "不是 PEM 格式的 RSA 公钥或平台证书（pub_key.pem），或超过 3000 个字符", en: "Not an RSA public key or certificate in PEM (pub_key.pem), or longer than 3,000 characters" },
  },
  required: { zh: "必填", en: "Required" },
};

const DANGER = "color: var(--err); border-color: var(--err);";
const FIELDS = ["mch_id", "merchant_serial", "private_key_pem", "api_v3_key", "platform_key_id", "platform_public_key_pem"];

export default {
  id: "wechatpay",
  title: { zh: "微信支付商户", en: "WeChat Pay merchant" },
  group: "settings",
  order: 915,
  range: false,
  async render(root, ctx) {
    const { h, append, clear, formErrors, toast } = ctx.ui;
    const t = ctx.t;
    const stateSlot = h("div", { id: "wechatpay-state" });
    const formTitle = h("h2", { id: "wechatpay-form-title" }, t(L.set));

    const text = (name, placeholder, extra = {}) => h("input", {
      id: `wechatpay-${name}`, name, type: "text", autocomplete: "off", spellcheck: "false", placeholder, ...extra,
    });
    const mchId = text("mch_id", t(L.mchIdPh), { inputmode: "numeric" });
    const serial = text("merchant_serial", t(L.serialPh));
    const apiV3 = h("input", {
      id: "wechatpay-api_v3_key", name: "api_v3_key", type: "password", autocomplete: "new-password", spellcheck: "false",
      placeholder: t(L.apiV3Ph),
    });
    const platformId = text("platform_key_id", t(L.platformIdPh));

    // A PEM field: a file read here in the browser (a private key's content is not put on screen), or a paste.
    function pemField(name, placeholder, { secret }) {
      const area = h("textarea", {
        id: `wechatpay-${name}`, name, rows: 4, spellcheck: "false", autocomplete: "off", placeholder, class: "mono pem",
      });
      const picker = h("input", { type: "file", id: `wechatpay-${name}-file`, accept: ".pem,.crt,.cer,.txt", class: "visually-hidden" });
      const note = h("span", { class: "muted pem-note", id: `wechatpay-${name}-note` });
      const undo = h("button", { type: "button", hidden: true }, t(L.usePaste));
      let fromFile = null;
      function reset() {
        fromFile = null;
        picker.value = "";
        area.disabled = false;
        area.hidden = false;
        note.textContent = "";
        undo.hidden = true;
      }
      picker.addEventListener("change", async () => {
        const file = picker.files?.[0];
        if (!file) return;
        wrap.querySelector(".field-error")?.remove();  // the refusal was about the earlier value
        area.removeAttribute("aria-invalid");
        try {
          const content = await file.text();
          if (secret) {
            fromFile = content;
            area.value = "";
            area.hidden = true;
            undo.hidden = false;
            note.textContent = t(L.fileNote, { name: file.name, n: ctx.fmt.number(content.length) });
          } else {
            reset();
            area.value = content;
          }
        } catch {
          reset();
          toast(L.fileFailed, { kind: "error" });
        }
      });
      undo.addEventListener("click", () => {
        reset();
        area.focus();
      });
      const pick = h("label", { for: picker.id, class: "button-like" }, t(L.chooseFile));
      const wrap = h("div", { class: "field" }, h("div", { class: "pem-picker" }, picker, pick, note, undo), area);
      return { wrap, value: () => (fromFile ?? area.value).trim(), reset };
    }
    const privateKey = pemField("private_key_pem", t(L.privateKeyPh), { secret: true });
    const platformKey = pemField("platform_public_key_pem", t(L.platformKeyPh), { secret: false });

    const save = h("button", { type: "submit", class: "primary", id: "wechatpay-save" }, t(L.save));
    const row = (label, forId, field) => [h("label", { for: forId }, label), field];
    const form = h("form", { id: "wechatpay-form", novalidate: true },
      h("div", { class: "form-grid wide" },
        row(t(L.mchId), mchId.id, h("div", { class: "field" }, mchId)),
        row(t(L.serial), serial.id, h("div", { class: "field" }, serial)),
        row(t(L.privateKey), "wechatpay-private_key_pem", privateKey.wrap),
        row(t(L.apiV3), apiV3.id, h("div", { class: "field" }, apiV3)),
        row(t(L.platformKey), "wechatpay-platform_public_key_pem", platformKey.wrap),
        row(t(L.platformId), platformId.id, h("div", { class: "field" }, platformId)),
        h("span"), h("div", {}, save)));

    const clearBtn = h("button", { type: "button", id: "wechatpay-clear", style: DANGER }, t(L.clear));
    function disarm() {
      delete clearBtn.dataset.armed;
      clearBtn.textContent = t(L.clear);
    }

    const mono = (v) => (v ? h("span", { class: "mono" }, v) : "—");
    function showState(s) {
      const url = `${location.origin}${s.notify_url_path}`;
      const items = [
        [L.source, h("span", { id: "wechatpay-source", dataset: { source: s.source } }, t(L.sources[s.source] || { zh: s.source, en: s.source }))],
      ];
      if (s.configured) {
        items.push(
          [L.mchId, mono(s.mch_id)],
          [L.serial, mono(s.merchant_serial)],
          [L.merchantFp, h("span", { title: t(L.merchantFpHint) }, mono(s.merchant_key_fingerprint))],
          [L.platformId, mono(s.platform_key_id)],
          [L.platformFp, mono(s.platform_key_fingerprint)],
          [L.updatedAt, s.updated_at ? ctx.fmt.datetime(s.updated_at) : "—"],
        );
      }
      items.push([L.notifyUrl, h("div", {}, h("code", { class: "mono", id: "wechatpay-notify-url" }, url),
        h("p", { class: "muted small" }, t(L.notifyHint)))]);
      const dl = h("dl", { class: "facts", id: "wechatpay-facts" },
        items.map(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
      disarm();
      append(clear(stateSlot), dl,
        s.configured ? h("p", { class: "muted" }, t(L.secretsNote)) : null,
        s.configured ? h("div", { class: "clear-row" }, clearBtn, h("span", { class: "muted small" }, t(L.clearHint))) : null);
      formTitle.textContent = t(s.configured ? L.replace : L.set);
      stateSlot.dataset.configured = String(s.configured);
    }

    async function load() {
      const s = await ctx.api("/admin/promotions/wechatpay");
      if (ctx.isCurrent()) showState(s);
    }

    // Every refusal from the API names a field; say that field's rule in the page's language.
    function fieldErrors(err) {
      const details = (Array.isArray(err.details) ? err.details : []).map((d) => {
        const field = String(d?.field ?? "");
        if (!FIELDS.includes(field)) return d;
        const missing = /^Field required$/.test(String(d.message));
        return { field, message: t(missing ? L.required : L.rules[field]) };
      });
      formErrors(form, { ...err, message: err.message, details });
    }

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      formErrors(form, null);
      disarm();
      const body = {
        mch_id: mchId.value.trim(),
        merchant_serial: serial.value.trim(),
        private_key_pem: privateKey.value(),
        api_v3_key: apiV3.value,
        platform_key_id: platformId.value.trim(),
        platform_public_key_pem: platformKey.value(),
      };
      save.disabled = true;
      try {
        const s = await ctx.api("/admin/promotions/wechatpay", { method: "PUT", body });
        form.reset();
        privateKey.reset();
        platformKey.reset();
        if (ctx.isCurrent()) showState(s);
        toast(L.saved);
      } catch (err) {
        if (err.status === 422) fieldErrors(err);
        else if (err.status === 403) toast(L.forbidden, { kind: "error" });
        else toast(err.message, { kind: "error" });
      } finally {
        save.disabled = false;
      }
    });

    clearBtn.addEventListener("click", async () => {
      // Two clicks instead of a dialog: the first arms the button, the second clears.
      if (clearBtn.dataset.armed !== "1") {
        clearBtn.dataset.armed = "1";
        clearBtn.textContent = t(L.confirmClear);
        return;
      }
      clearBtn.disabled = true;
      try {
        const s = await ctx.api("/admin/promotions/wechatpay", { method: "DELETE" });
        if (ctx.isCurrent()) showState(s);
        toast(L.cleared);
      } catch (err) {
        toast(err.status === 403 ? L.forbidden : err.message, { kind: "error" });
      } finally {
        clearBtn.disabled = false;
        disarm();
      }
    });

    root.append(
      h("section", { class: "card", id: "wechatpay-current" }, h("h2", {}, t(L.current)), h("p", { class: "muted" }, t(L.intro)), stateSlot),
      h("section", { class: "card", id: "wechatpay-edit" }, formTitle, h("p", { class: "muted" }, t(L.formIntro)), form),
    );
    try {
      await load();
    } catch (err) {
      if (err.status === 403) {
        clear(root).append(h("p", { class: "page-error", role: "alert", id: "wechatpay-forbidden" }, t(L.forbidden)));
        return;
      }
      throw err;
    }
  },
};
