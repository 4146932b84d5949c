// The promotions domain's console pages (docs/console.md: a page is an entry here and its .vue file).
export default [
  { id: "promotions", title: { zh: "营销活动", en: "Promotions" }, group: "engage", order: 40, range: false, component: () => import("./Promotions.vue") },
  { id: "wechatpay", title: { zh: "微信支付商户", en: "WeChat Pay merchant" }, group: "settings", order: 915, range: false, component: () => import("./Wechatpay.vue") },
];
